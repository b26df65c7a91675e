"""Favorites: each user's own ordered list of saved queries and charts they like to reach.

Rules:

- Only an object the caller can view may be favorited (anything else is ``NotFound``, like
  every invisible object). Favoriting it again is the same favorite, not a second one.
- The list shows only objects the caller can still view: a favorite of an object that was
  unshared stays stored but drops out, and comes back if it is shared again.
- Positions are dense (0, 1, 2, ...) over all of the user's favorites, visible or not; moving
  one shifts the others. A listing can therefore show gaps where hidden favorites sit.
- Kinds are looked up through the sharing service by name, so favorites of a kind not
  registered on this server (charts, before their service exists) are simply not found.
- Share links are not accounts and keep no favorites.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..schemas.favorites import (
    FavoriteCreate,
    FavoriteListQuery,
    FavoriteOut,
    FavoritePage,
)
from ..store import Database
from ..store.models import Favorite
from .activity import ActivityLog, RequestOrigin
from .sharing import SharedKind, SharingService, is_link_actor

FAVORITE_KINDS: Final = ("query", "chart")
MAX_FAVORITES: Final = 1000
"""Favorites one user may keep (the list is rewritten whole when one moves)."""


class FavoriteService:
    """``/api/query/favorites``. Blocking: call through ``Services.run``."""

    def __init__(self, db: Database, activity: ActivityLog, sharing: SharingService) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing

    def list(self, user_id: str, query: FavoriteListQuery) -> FavoritePage:
        """The caller's favorites of objects they can still view, in their order."""
        after = _decode(query.cursor)
        if is_link_actor(user_id):
            return FavoritePage(items=[], next=None)
        with self._db.transaction() as tx:
            shown_kinds = []
            for name in FAVORITE_KINDS:
                kind = self._kind(name)
                if kind is not None:
                    visible = self._sharing.visible(tx, user_id, name)
                    ids = select(kind.model.id).where(visible)
                    shown_kinds.append(
                        and_(Favorite.object_type == name, Favorite.object_id.in_(ids))
                    )
            if not shown_kinds:
                return FavoritePage(items=[], next=None)
            statement = select(Favorite).where(Favorite.user_id == user_id, or_(*shown_kinds))
            if after is not None:
                position, last_id = after
                statement = statement.where(
                    or_(
                        Favorite.position > position,
                        and_(Favorite.position == position, Favorite.id > last_id),
                    )
                )
            rows = list(
                tx.scalars(
                    statement.order_by(Favorite.position, Favorite.id).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            names = self._names(tx, shown)
            items = [_out(row, names[(row.object_type, row.object_id)]) for row in shown]
        more = len(rows) > query.limit
        return FavoritePage(items=items, next=_encode(shown[-1]) if more else None)

    def add(
        self, user_id: str, body: FavoriteCreate, origin: RequestOrigin
    ) -> tuple[FavoriteOut, bool]:
        """Favorite an object (at ``position``, else last). Returns it and whether it is new;
        an existing favorite is returned as it is, or moved when ``position`` is given."""
        _refuse_links(user_id)
        try:
            with self._db.transaction() as tx:
                obj = self._viewable(tx, user_id, body.object_type, body.object_id)
                favorite = _find(tx, user_id, body.object_type, body.object_id)
                if favorite is not None:
                    if body.position is not None:
                        _arrange(tx, user_id, favorite, body.position)
                    return _out(favorite, obj.name), False
                count = tx.scalar(
                    select(func.count()).select_from(Favorite).where(Favorite.user_id == user_id)
                )
                if (count or 0) >= MAX_FAVORITES:
                    raise Conflict(f"you already have {MAX_FAVORITES} favorites; remove one first")
                last = tx.scalar(
                    select(func.max(Favorite.position)).where(Favorite.user_id == user_id)
                )
                favorite = Favorite(
                    user_id=user_id,
                    object_type=body.object_type,
                    object_id=body.object_id,
                    position=0 if last is None else last + 1,
                )
                tx.add(favorite)
                tx.flush()
                if body.position is not None:
                    _arrange(tx, user_id, favorite, body.position)
                self._activity.record(
                    tx, user_id, f"{body.object_type}.favorited",
                    target=(body.object_type, body.object_id), origin=origin,
                    details={"name": obj.name},
                )  # fmt: skip
                return _out(favorite, obj.name), True
        except IntegrityError:
            # The same favorite was added concurrently (unique per user and object): it exists.
            with self._db.transaction() as tx:
                obj = self._viewable(tx, user_id, body.object_type, body.object_id)
                favorite = _find(tx, user_id, body.object_type, body.object_id)
                if favorite is None:
                    raise
                return _out(favorite, obj.name), False

    def move(self, user_id: str, favorite_id: str, position: int) -> FavoriteOut:
        """Put a favorite at ``position`` (0 is first; past the end means last)."""
        _refuse_links(user_id)
        with self._db.transaction() as tx:
            favorite, obj = self._own(tx, user_id, favorite_id)
            _arrange(tx, user_id, favorite, position)
            return _out(favorite, obj.name)

    def remove(self, user_id: str, favorite_id: str, origin: RequestOrigin) -> None:
        """Unfavorite by the favorite's id."""
        _refuse_links(user_id)
        with self._db.transaction() as tx:
            favorite = tx.get(Favorite, favorite_id)
            if favorite is None or favorite.user_id != user_id:
                raise NotFound("favorite not found")
            self._remove(tx, user_id, favorite, origin)

    def remove_object(
        self, user_id: str, object_type: str, object_id: str, origin: RequestOrigin
    ) -> None:
        """Unfavorite by the object (what a star button knows)."""
        _refuse_links(user_id)
        with self._db.transaction() as tx:
            favorite = _find(tx, user_id, object_type, object_id)
            if favorite is None:
                raise NotFound("favorite not found")
            self._remove(tx, user_id, favorite, origin)

    def remove_for_object(self, tx: Session, object_type: str, object_id: str) -> None:
        """Drop every user's favorite of an object being deleted, in the caller's transaction
        (the saved-query and chart services call this when they delete)."""
        tx.execute(
            delete(Favorite).where(
                Favorite.object_type == object_type, Favorite.object_id == object_id
            )
        )

    # -- helpers -------------------------------------------------------------------------------

    def _kind(self, name: str) -> SharedKind | None:
        """The registered kind ``name``, or None when no service registered it (yet)."""
        try:
            return self._sharing.kind(name)
        except (KeyError, NotFound):
            return None

    def _viewable(self, tx: Session, user_id: str, object_type: str, object_id: str) -> Any:
        if self._kind(object_type) is None:
            raise NotFound(f"{object_type} not found")
        return self._sharing.require(tx, user_id, object_type, object_id, "view").obj

    def _own(self, tx: Session, user_id: str, favorite_id: str) -> tuple[Favorite, Any]:
        """The caller's favorite and its object, if they can still view it."""
        favorite = tx.get(Favorite, favorite_id)
        if favorite is None or favorite.user_id != user_id:
            raise NotFound("favorite not found")
        try:
            obj = self._viewable(tx, user_id, favorite.object_type, favorite.object_id)
        except NotFound:
            raise NotFound("favorite not found") from None
        return favorite, obj

    def _remove(self, tx: Session, user_id: str, favorite: Favorite, origin: RequestOrigin) -> None:
        tx.delete(favorite)
        tx.flush()
        _arrange(tx, user_id)
        self._activity.record(
            tx, user_id, f"{favorite.object_type}.unfavorited",
            target=(favorite.object_type, favorite.object_id), origin=origin,
        )  # fmt: skip

    def _names(self, tx: Session, favorites: Sequence[Favorite]) -> dict[tuple[str, str], str]:
        names: dict[tuple[str, str], str] = {}
        for name in {favorite.object_type for favorite in favorites}:
            kind = self._sharing.kind(name)
            ids = [favorite.object_id for favorite in favorites if favorite.object_type == name]
            rows = tx.execute(select(kind.model.id, kind.model.name).where(kind.model.id.in_(ids)))
            names.update({(name, object_id): label for object_id, label in rows})
        return names


def _refuse_links(user_id: str) -> None:
    if is_link_actor(user_id):
        raise Forbidden("a share link keeps no favorites; log in to keep favorites")


def _find(tx: Session, user_id: str, object_type: str, object_id: str) -> Favorite | None:
    return tx.scalars(
        select(Favorite).where(
            Favorite.user_id == user_id,
            Favorite.object_type == object_type,
            Favorite.object_id == object_id,
        )
    ).first()


def _arrange(tx: Session, user_id: str, moving: Favorite | None = None, position: int = 0) -> None:
    """Renumber the user's favorites 0, 1, 2, ... in order, with ``moving`` at ``position``."""
    ordered = list(
        tx.scalars(
            select(Favorite)
            .where(Favorite.user_id == user_id)
            .order_by(Favorite.position, Favorite.id)
        )
    )
    if moving is not None:
        ordered.remove(moving)
        ordered.insert(min(position, len(ordered)), moving)
    for index, favorite in enumerate(ordered):
        if favorite.position != index:
            favorite.position = index
    tx.flush()


def _out(favorite: Favorite, name: str) -> FavoriteOut:
    return FavoriteOut(
        id=favorite.id,
        object_type=favorite.object_type,  # type: ignore[arg-type]
        object_id=favorite.object_id,
        name=name,
        position=favorite.position,
        created_at=favorite.created_at,
    )


def _encode(favorite: Favorite) -> str:
    raw = json.dumps([favorite.position, favorite.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    try:
        position, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "is not a cursor this server issued") from None
    if type(position) is not int or not isinstance(last_id, str):
        raise Invalid("cursor", "is not a cursor this server issued")
    return position, last_id

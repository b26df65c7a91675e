"""The one sharing service: who may do what to a shareable object, and the grants that say so.

One policy answers every "may user U act at level L on object O": the object's owner and
administrators hold every level; anyone else holds the highest level granted to them (grants
go to principals: users now, teams and share links later). An object the caller cannot even
view answers ``NotFound`` — indistinguishable from one that does not exist — and one they can
view but not act on answers ``Forbidden``.

Each kind of object registers a ``SharedKind`` (its model and ordered levels), so the Query
library and dashboards reuse this service instead of growing their own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, delete, false, or_, select, true
from sqlalchemy.orm import Session

from ..errors import Forbidden, Invalid, NotFound
from ..schemas.sharing import GrantCreate, GrantOut
from ..store import Database
from ..store.models import ObjectGrant, User
from .activity import ActivityLog, RequestOrigin

PRINCIPAL_USER = "user"


class Shareable(Protocol):
    id: Any
    owner_id: Any


@dataclass(frozen=True)
class SharedKind:
    """A kind of object that can be shared: ``levels`` go from least to most (view < ... )."""

    name: str
    """Stored in grants and activity events: ``datasource``."""
    model: Any
    """The ORM model; it has ``id`` and ``owner_id`` columns."""
    levels: tuple[str, ...]

    def rank(self, level: str) -> int:
        try:
            return self.levels.index(level) + 1
        except ValueError:
            raise Invalid("level", f"must be one of: {', '.join(self.levels)}") from None

    @property
    def top(self) -> str:
        return self.levels[-1]


@dataclass(frozen=True)
class Access:
    """An object the caller may see, and the highest level they hold on it."""

    obj: Any
    level: str


class SharingService:
    """The access policy and the grants behind it. Blocking: call through ``Services.run``."""

    def __init__(self, db: Database, activity: ActivityLog) -> None:
        self._db = db
        self._activity = activity
        self._kinds: dict[str, SharedKind] = {}

    def register(self, kind: SharedKind) -> SharedKind:
        self._kinds[kind.name] = kind
        return kind

    def kind(self, name: str) -> SharedKind:
        return self._kinds[name]

    # -- the policy ---------------------------------------------------------------------------

    def level_of(self, tx: Session, user: User, kind: SharedKind, obj: Shareable) -> str | None:
        """The highest level ``user`` holds on ``obj``; None if they may not even see it."""
        if user.is_admin or (obj.owner_id is not None and obj.owner_id == user.id):
            return kind.top
        levels = tx.scalars(
            select(ObjectGrant.level).where(
                ObjectGrant.object_type == kind.name,
                ObjectGrant.object_id == obj.id,
                *_principal_filter(user),
            )
        ).all()
        ranks = [kind.rank(level) for level in levels if level in kind.levels]
        return kind.levels[max(ranks) - 1] if ranks else None

    def require(
        self, tx: Session, user_id: str, kind_name: str, object_id: str, level: str
    ) -> Access:
        """The object, if ``user_id`` holds ``level`` on it: ``NotFound`` when they cannot see
        it (or it does not exist), ``Forbidden`` when they can see it but hold less."""
        kind = self._kinds[kind_name]
        needed = kind.rank(level)
        user = _active_user(tx, user_id)
        obj = tx.get(kind.model, object_id) if user is not None else None
        held = self.level_of(tx, user, obj=obj, kind=kind) if obj is not None else None
        if held is None:
            raise NotFound(f"{kind.name} not found")
        if kind.rank(held) < needed:
            raise Forbidden(f"you need the {level!r} permission on this {kind.name}")
        return Access(obj, held)

    def visible(self, tx: Session, user_id: str, kind_name: str) -> ColumnElement[bool]:
        """A WHERE clause on the kind's model: the objects ``user_id`` may at least view."""
        kind = self._kinds[kind_name]
        user = _active_user(tx, user_id)
        if user is None:
            return false()
        if user.is_admin:
            return true()
        granted = select(ObjectGrant.object_id).where(
            ObjectGrant.object_type == kind.name, *_principal_filter(user)
        )
        return or_(kind.model.owner_id == user.id, kind.model.id.in_(granted))

    # -- grants -------------------------------------------------------------------------------

    def grant(
        self, actor_id: str, kind_name: str, body: GrantCreate, origin: RequestOrigin
    ) -> tuple[GrantOut, bool]:
        """Give a principal a level on an object (needs the top level); an existing grant to
        the same principal changes level. Returns the grant and whether it is new."""
        kind = self._kinds[kind_name]
        kind.rank(body.level)
        with self._db.transaction() as tx:
            access = self.require(tx, actor_id, kind.name, body.object_id, kind.top)
            principal = _active_user(tx, body.principal_id)
            if principal is None:
                raise NotFound("user not found")
            if principal.id == access.obj.owner_id:
                raise Invalid("principal_id", "the owner already holds every permission")
            grant = tx.scalars(
                select(ObjectGrant).where(
                    ObjectGrant.object_type == kind.name,
                    ObjectGrant.object_id == body.object_id,
                    ObjectGrant.principal_type == PRINCIPAL_USER,
                    ObjectGrant.principal_id == principal.id,
                )
            ).first()
            created = grant is None
            if grant is None:
                grant = ObjectGrant(
                    object_type=kind.name,
                    object_id=body.object_id,
                    principal_type=PRINCIPAL_USER,
                    principal_id=principal.id,
                )
                tx.add(grant)
            grant.level = body.level
            grant.granted_by = actor_id
            tx.flush()
            self._activity.record(
                tx, actor_id, f"{kind.name}.shared", target=(kind.name, body.object_id),
                origin=origin, details={"principal_type": PRINCIPAL_USER,
                                        "principal_id": principal.id, "level": body.level},
            )  # fmt: skip
            return _grant_out(grant, principal), created

    def list_grants(self, actor_id: str, kind_name: str, object_id: str) -> list[GrantOut]:
        """Who holds what on an object, oldest grant first (needs the top level)."""
        kind = self._kinds[kind_name]
        with self._db.transaction() as tx:
            self.require(tx, actor_id, kind.name, object_id, kind.top)
            rows = tx.execute(
                select(ObjectGrant, User)
                .join(User, User.id == ObjectGrant.principal_id, isouter=True)
                .where(ObjectGrant.object_type == kind.name, ObjectGrant.object_id == object_id)
                .order_by(ObjectGrant.created_at, ObjectGrant.id)
            ).all()
            return [_grant_out(grant, user) for grant, user in rows]

    def revoke(self, actor_id: str, kind_name: str, grant_id: str, origin: RequestOrigin) -> None:
        """Remove a grant (needs the top level on its object); unknown grants answer NotFound."""
        kind = self._kinds[kind_name]
        with self._db.transaction() as tx:
            grant = tx.get(ObjectGrant, grant_id)
            if grant is None or grant.object_type != kind.name:
                raise NotFound("grant not found")
            try:
                self.require(tx, actor_id, kind.name, grant.object_id, kind.top)
            except NotFound:
                raise NotFound("grant not found") from None
            tx.delete(grant)
            self._activity.record(
                tx, actor_id, f"{kind.name}.unshared", target=(kind.name, grant.object_id),
                origin=origin, details={"principal_type": grant.principal_type,
                                        "principal_id": grant.principal_id, "level": grant.level},
            )  # fmt: skip

    def remove_all(self, tx: Session, kind_name: str, object_id: str) -> None:
        """Drop every grant on an object being deleted, in the caller's transaction."""
        tx.execute(
            delete(ObjectGrant).where(
                ObjectGrant.object_type == kind_name, ObjectGrant.object_id == object_id
            )
        )


def _active_user(tx: Session, user_id: str) -> User | None:
    user = tx.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None


def _principal_filter(user: User) -> list[ColumnElement[bool]]:
    """Grants that apply to ``user``: their own now; their teams' when teams exist."""
    return [ObjectGrant.principal_type == PRINCIPAL_USER, ObjectGrant.principal_id == user.id]


def _grant_out(grant: ObjectGrant, user: User | None) -> GrantOut:
    return GrantOut(
        id=grant.id,
        object_type=grant.object_type,
        object_id=grant.object_id,
        principal_type=grant.principal_type,
        principal_id=grant.principal_id,
        principal_name=user.username if user is not None else None,
        level=grant.level,
        granted_by=grant.granted_by,
        created_at=grant.created_at,
    )

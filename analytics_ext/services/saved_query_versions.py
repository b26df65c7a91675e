"""The version history of saved queries: append-only, readable by whoever may view the query.

Every save that changes something appends a ``SavedQueryVersion`` holding the whole editable
state, so any version can be shown, compared with another, or restored (restoring appends a new
version equal to the old one; nothing is ever rewritten). Versions are numbered 1, 2, 3, ...
without gaps, which lets a page of versions compute what each one changed from its neighbour.

Writing versions (``append_version``) happens inside ``SavedQueryService``'s transactions; this
module's service only reads.
"""

from __future__ import annotations

import difflib
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Invalid, NotFound
from ..schemas.saved_queries import (
    FieldChange,
    VersionDiff,
    VersionListQuery,
    VersionOut,
    VersionPage,
    VersionSummary,
)
from ..store import Database
from ..store.models import SavedQuery, SavedQueryVersion, User
from .sharing import SharingService, is_link_actor

QUERY: Final = "query"
"""The sharing kind of saved queries (registered by ``SavedQueryService``)."""
EDITABLE: Final = ("name", "description", "datasource_id", "sql", "parameters", "tags")
"""The state a version keeps: everything a save can change."""
TEXT_FIELDS: Final = frozenset({"sql", "description"})
"""Fields whose diff is also given as unified diff text."""

State = dict[str, Any]


def state_of(obj: SavedQuery | SavedQueryVersion) -> State:
    """The editable state of a query or one of its versions (lists copied, never shared)."""
    state = {field: getattr(obj, field) for field in EDITABLE}
    state["parameters"] = [dict(parameter) for parameter in state["parameters"] or []]
    state["tags"] = list(state["tags"] or [])
    return state


def changed_fields(before: State | None, after: State) -> list[str]:
    """The editable fields that differ, in ``EDITABLE`` order (all of them against nothing)."""
    if before is None:
        return list(EDITABLE)
    return [field for field in EDITABLE if before.get(field) != after.get(field)]


def append_version(
    tx: Session, query: SavedQuery, author_id: str | None, restored_from: int | None = None
) -> SavedQueryVersion:
    """Record ``query``'s current state as its version ``query.version`` (in ``tx``)."""
    version = SavedQueryVersion(
        query_id=query.id,
        version=query.version,
        author_id=author_id,
        restored_from=restored_from,
        **state_of(query),
    )
    tx.add(version)
    return version


def load_version(tx: Session, query_id: str, number: int) -> SavedQueryVersion:
    found = tx.scalars(
        select(SavedQueryVersion).where(
            SavedQueryVersion.query_id == query_id, SavedQueryVersion.version == number
        )
    ).first()
    if found is None:
        raise NotFound(f"version {number} not found")
    return found


def unified(before: str | None, after: str | None, from_name: str, to_name: str) -> str:
    """A unified diff of two texts (``---``/``+++`` headers, ``@@`` hunks), one line per line."""
    lines = difflib.unified_diff(
        (before or "").splitlines(),
        (after or "").splitlines(),
        fromfile=from_name,
        tofile=to_name,
        lineterm="",
    )
    return "\n".join(lines)


class SavedQueryVersions:
    """``/api/query/{id}/versions``: list, show, compare (blocking: call via ``Services.run``)."""

    def __init__(self, db: Database, sharing: SharingService) -> None:
        self._db = db
        self._sharing = sharing

    def _require_view(self, tx: Session, actor_id: str, query_id: str) -> None:
        """``view`` on the query, from an account: a share link opens the query as saved, not
        its history (older statements the sharer may not mean to show)."""
        if is_link_actor(actor_id):
            raise NotFound("a share link opens the query as saved, not its versions")
        self._sharing.require(tx, actor_id, QUERY, query_id, "view")

    def list(self, actor_id: str, query_id: str, query: VersionListQuery) -> VersionPage:
        """Newest first; each says who saved it and which fields it changed."""
        before = _version_cursor(query.cursor)
        with self._db.transaction() as tx:
            self._require_view(tx, actor_id, query_id)
            statement = select(SavedQueryVersion).where(SavedQueryVersion.query_id == query_id)
            if before is not None:
                statement = statement.where(SavedQueryVersion.version < before)
            rows = list(
                tx.scalars(
                    statement.order_by(SavedQueryVersion.version.desc()).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            items = []
            for index, row in enumerate(shown):
                # Versions have no gaps: the row after this one is its predecessor, or there
                # is none and this is version 1.
                previous = rows[index + 1] if index + 1 < len(rows) else None
                items.append(
                    VersionSummary(
                        version=row.version,
                        name=row.name,
                        author_id=row.author_id,
                        author_name=_username(tx, row.author_id),
                        restored_from=row.restored_from,
                        changed=changed_fields(
                            state_of(previous) if previous is not None else None, state_of(row)
                        ),
                        created_at=row.created_at,
                    )
                )
        more = len(rows) > query.limit
        return VersionPage(items=items, next=str(shown[-1].version) if more else None)

    def get(self, actor_id: str, query_id: str, number: int) -> VersionOut:
        with self._db.transaction() as tx:
            self._require_view(tx, actor_id, query_id)
            return version_out(tx, load_version(tx, query_id, number))

    def diff(self, actor_id: str, query_id: str, number: int, against: int | None) -> VersionDiff:
        """What changed from ``against`` (default: the version before) to ``number``, per field;
        ``sql`` and ``description`` also as unified diff text."""
        with self._db.transaction() as tx:
            self._require_view(tx, actor_id, query_id)
            after = state_of(load_version(tx, query_id, number))
            if against is None and number > 1:
                against = number - 1
            before = state_of(load_version(tx, query_id, against)) if against else None
        changes = []
        for field in changed_fields(before, after):
            old = before.get(field) if before is not None else None
            new = after[field]
            text = (
                unified(old, new, f"version {against or 0}", f"version {number}")
                if field in TEXT_FIELDS
                else None
            )
            changes.append(FieldChange(field=field, before=old, after=new, unified_diff=text))
        return VersionDiff(query_id=query_id, version=number, against=against, changes=changes)


def version_out(tx: Session, row: SavedQueryVersion) -> VersionOut:
    return VersionOut(
        query_id=row.query_id,
        version=row.version,
        author_id=row.author_id,
        author_name=_username(tx, row.author_id),
        restored_from=row.restored_from,
        created_at=row.created_at,
        **state_of(row),
    )


def _username(tx: Session, user_id: str | None) -> str | None:
    user = tx.get(User, user_id) if user_id is not None else None
    return user.username if user is not None else None


def _version_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 10:
        raise Invalid("cursor", "is not a cursor this server issued")
    return int(cursor)

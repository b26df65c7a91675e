"""The version history of dashboards: append-only, readable by whoever may view the dashboard.

Every save that changes something appends a ``DashboardVersion`` holding the whole editable
state (title, description, tiles, layout, refresh interval, tags), so any version can be shown
or restored; restoring appends a new version equal to the old one, nothing is ever rewritten.
Versions are numbered 1, 2, 3, ... without gaps, which lets a page of versions say what each
changed from its neighbour. This mirrors ``saved_query_versions``.

Writing versions (``append_version``) happens inside ``DashboardService``'s transactions; this
module's service only reads.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Invalid, NotFound
from ..schemas.dashboard_versions import (
    DashboardVersionListQuery,
    DashboardVersionOut,
    DashboardVersionPage,
    DashboardVersionSummary,
)
from ..store import Database
from ..store.models import Dashboard, DashboardVersion, User
from .sharing import SharingService, is_link_actor

DASHBOARD: Final = "dashboard"
"""The sharing kind of dashboards (registered by ``DashboardService``)."""
EDITABLE: Final = ("title", "description", "tiles", "layout", "refresh_seconds", "tags")
"""The state a version keeps: everything a save can change."""

State = dict[str, Any]


def state_of(obj: Dashboard | DashboardVersion) -> State:
    """The editable state of a dashboard or one of its versions (deep copies: the JSON lists
    of the row are never shared with the caller, who may change theirs)."""
    state = {field: getattr(obj, field) for field in EDITABLE}
    state["tiles"] = copy.deepcopy(list(state["tiles"] or []))
    state["layout"] = copy.deepcopy(list(state["layout"] or []))
    state["tags"] = list(state["tags"] or [])
    return state


def changed_fields(before: State | None, after: State) -> list[str]:
    """The editable fields that differ, in ``EDITABLE`` order (all of them against nothing)."""
    if before is None:
        return list(EDITABLE)
    return [field for field in EDITABLE if before.get(field) != after.get(field)]


def append_version(
    tx: Session, dashboard: Dashboard, author_id: str | None, restored_from: int | None = None
) -> DashboardVersion:
    """Record ``dashboard``'s current state as its version ``dashboard.version`` (in ``tx``)."""
    version = DashboardVersion(
        dashboard_id=dashboard.id,
        version=dashboard.version,
        author_id=author_id,
        restored_from=restored_from,
        **state_of(dashboard),
    )
    tx.add(version)
    return version


def load_version(tx: Session, dashboard_id: str, number: int) -> DashboardVersion:
    found = tx.scalars(
        select(DashboardVersion).where(
            DashboardVersion.dashboard_id == dashboard_id, DashboardVersion.version == number
        )
    ).first()
    if found is None:
        raise NotFound(f"version {number} not found")
    return found


class DashboardVersions:
    """``/api/dashboards/{id}/versions``: list and show (blocking: call via ``Services.run``)."""

    def __init__(self, db: Database, sharing: SharingService) -> None:
        self._db = db
        self._sharing = sharing

    def _require_view(self, tx: Session, actor_id: str, dashboard_id: str) -> None:
        """``view`` on the dashboard, from an account: a share link opens the dashboard as it
        is, not its history (older tiles the sharer may not mean to show)."""
        if is_link_actor(actor_id):
            raise NotFound("a share link opens the dashboard as saved, not its versions")
        self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "view")

    def list(
        self, actor_id: str, dashboard_id: str, query: DashboardVersionListQuery
    ) -> DashboardVersionPage:
        """Newest first; each says who saved it and which fields it changed."""
        before = _version_cursor(query.cursor)
        with self._db.transaction() as tx:
            self._require_view(tx, actor_id, dashboard_id)
            statement = select(DashboardVersion).where(
                DashboardVersion.dashboard_id == dashboard_id
            )
            if before is not None:
                statement = statement.where(DashboardVersion.version < before)
            rows = list(
                tx.scalars(
                    statement.order_by(DashboardVersion.version.desc()).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            items = []
            for index, row in enumerate(shown):
                # No gaps: the next row is this version's predecessor, or this is version 1.
                previous = rows[index + 1] if index + 1 < len(rows) else None
                items.append(
                    DashboardVersionSummary(
                        version=row.version,
                        title=row.title,
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
        return DashboardVersionPage(items=items, next=str(shown[-1].version) if more else None)

    def get(self, actor_id: str, dashboard_id: str, number: int) -> DashboardVersionOut:
        """One version whole. A share link (or a dashboard kernel's token) reads only the
        published version: what its notebook draws, and nothing of the history."""
        with self._db.transaction() as tx:
            if is_link_actor(actor_id):
                shown = published_version_for_link(tx, self._sharing, actor_id, dashboard_id)
                if shown != number:
                    raise NotFound(f"version {number} not found")
            else:
                self._require_view(tx, actor_id, dashboard_id)
            row = load_version(tx, dashboard_id, number)
            return DashboardVersionOut(
                dashboard_id=row.dashboard_id,
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


def published_version_for_link(
    tx: Session, sharing: SharingService, actor_id: str, dashboard_id: str
) -> int:
    """The one version a share link (or a dashboard kernel's token) may see: the published
    one, or the current save of a dashboard never published. ``NotFound`` if the link does
    not open this dashboard."""
    dashboard: Dashboard = sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "view").obj
    return dashboard.published_version or dashboard.version

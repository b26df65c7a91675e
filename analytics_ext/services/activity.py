"""The activity recorder: every service records what it changed, inside its own transaction.

Recording in the caller's session means a change and its record commit or roll back together:
no change goes unrecorded, and no record describes a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..errors import Invalid, NotFound
from ..schemas.activity import ActivityEventOut, ActivityPage, ActivityQuery
from ..store import Database
from ..store.models import ActivityEvent, User
from .pagination import decode_cursor, encode_cursor


@dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from, for security events (logins, key creation)."""

    ip_address: str | None = None
    user_agent: str | None = None


class ActivityLog:
    def record(
        self,
        tx: Session,
        user_id: str | None,
        type: str,
        *,
        actor_id: str | None = None,
        target: tuple[str, str] | None = None,
        origin: RequestOrigin | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Add an event to ``tx``. ``details`` holds names, ids and counts, never secrets."""
        target_type, target_id = target if target else (None, None)
        origin = origin or RequestOrigin()
        tx.add(
            ActivityEvent(
                user_id=user_id,
                actor_id=actor_id if actor_id is not None else user_id,
                type=type,
                target_type=target_type,
                target_id=target_id,
                ip_address=origin.ip_address,
                user_agent=(origin.user_agent or None) and origin.user_agent[:256],
                details=details or {},
            )
        )


class ActivityFeed:
    """Reads the activity log: a user's own feed, or any user's for an administrator."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, viewer_id: str, viewer_is_admin: bool, query: ActivityQuery) -> ActivityPage:
        subject = query.user_id or viewer_id
        if query.since and query.until and query.since >= query.until:
            raise Invalid("since", "must be before until")
        with self._db.transaction() as tx:
            if subject != viewer_id and (not viewer_is_admin or tx.get(User, subject) is None):
                raise NotFound("user not found")  # another user's feed is not for you to see
            filters = [ActivityEvent.user_id == subject, *_type_filters(query.type)]
            if query.since:
                filters.append(ActivityEvent.created_at >= query.since)
            if query.until:
                filters.append(ActivityEvent.created_at < query.until)
            total = tx.scalar(select(func.count()).select_from(ActivityEvent).where(*filters))
            page = select(ActivityEvent).where(*filters)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    or_(
                        ActivityEvent.created_at < at,
                        and_(ActivityEvent.created_at == at, ActivityEvent.id < last_id),
                    )
                )
            rows = list(
                tx.scalars(
                    page.order_by(ActivityEvent.created_at.desc(), ActivityEvent.id.desc()).limit(
                        query.limit + 1
                    )
                )
            )
        shown = rows[: query.limit]
        more = len(rows) > query.limit
        return ActivityPage(
            items=[ActivityEventOut.model_validate(row) for row in shown],
            next=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
            total=total or 0,
        )


def _type_filters(types: list[str]) -> list:
    """``auth.login`` matches exactly; ``auth.*`` matches the family."""
    if not types:
        return []
    exact = [t for t in types if not t.endswith(".*")]
    families = [t[:-1] for t in types if t.endswith(".*")]
    clauses = []
    if exact:
        clauses.append(ActivityEvent.type.in_(exact))
    clauses.extend(ActivityEvent.type.startswith(prefix, autoescape=True) for prefix in families)
    return [or_(*clauses)]

"""The activity recorder: every service records what it changed, inside its own transaction.

Recording in the caller's session means a change and its record commit or roll back together:
no change goes unrecorded, and no record describes a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..store.models import ActivityEvent


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

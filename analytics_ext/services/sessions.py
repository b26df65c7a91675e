"""Ending login sessions: the one place that marks sessions revoked.

Revocation is data: a session with ``revoked_at`` set is dead, and every server process learns
it from the store (the revocation view polls ``revoked_at`` and listens on Redis when configured),
so any service that ends sessions only has to call this inside its own transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..store.models import AuthSession
from ..store.types import utcnow


def end_all_sessions(
    tx: Session,
    user_id: str,
    reason: str,
    *,
    keep_session_id: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Revoke every live session of ``user_id`` (but ``keep_session_id``); returns their ids.

    ``reason`` is a short code shown in the sessions list and the activity log:
    ``password_changed``, ``password_reset``, ``disabled``, ``signed_out_elsewhere``, ...
    """
    now = now or utcnow()
    live = select(AuthSession.id).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep_session_id is not None:
        live = live.where(AuthSession.id != keep_session_id)
    ids = list(tx.scalars(live))
    if ids:
        tx.execute(
            update(AuthSession)
            .where(AuthSession.id.in_(ids))
            .values(revoked_at=now, revoked_reason=reason)
        )
    return ids

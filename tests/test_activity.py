"""Activity is recorded in the same transaction as the change it describes."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.users import UserService
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, User


def events(db: Database) -> list[ActivityEvent]:
    with db.transaction() as tx:
        return list(tx.scalars(select(ActivityEvent).order_by(ActivityEvent.created_at)))


def test_record_commits_with_the_change(db: Database):
    owner = UserService(db, ActivityLog()).ensure_owner("ada", "Ada")
    with db.transaction() as tx:
        ActivityLog().record(
            tx, owner.id, "auth.login", origin=RequestOrigin("10.0.0.1", "x" * 400),
            details={"method": "password"},
        )  # fmt: skip
    (event,) = events(db)
    assert (event.user_id, event.actor_id, event.type) == (owner.id, owner.id, "auth.login")
    assert event.ip_address == "10.0.0.1"
    assert len(event.user_agent) == 256
    assert event.details == {"method": "password"}


def test_record_rolls_back_with_a_failed_change(db: Database):
    owner = UserService(db, ActivityLog()).ensure_owner("ada", "Ada")

    def change_then_fail() -> None:
        with db.transaction() as tx:
            tx.get(User, owner.id).display_name = "Changed"
            ActivityLog().record(tx, owner.id, "user.profile_updated")
            raise RuntimeError("the change failed after recording")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert events(db) == []
    with db.transaction() as tx:
        assert tx.get(User, owner.id).display_name == "Ada"


def test_events_outlive_their_user(db: Database):
    owner = UserService(db, ActivityLog()).ensure_owner("ada", "Ada")
    with db.transaction() as tx:
        ActivityLog().record(tx, owner.id, "auth.login")
    with db.transaction() as tx:
        tx.execute(delete(User).where(User.id == owner.id))
    (event,) = events(db)
    assert event.user_id is None
    assert event.type == "auth.login"


async def test_profile_update_is_recorded_once_per_real_change(api, db_url):
    await api.patch("/api/user", {"display_name": "Grace"})
    await api.patch("/api/user", {"display_name": "Grace"})  # no change, no event
    await api.patch("/api/user", {"display_name": "x" * 200}, expect=422)  # refused, no event
    db = Database(db_url)
    try:
        with db.transaction() as tx:
            rows = tx.scalars(select(ActivityEvent)).all()
            assert [(e.type, e.details) for e in rows] == [
                ("user.profile_updated", {"fields": ["display_name"]})
            ]
            assert tx.scalar(select(func.count()).select_from(ActivityEvent)) == 1
    finally:
        db.dispose()


def test_end_all_sessions_revokes_live_sessions_but_the_kept_one(db: Database):
    from datetime import timedelta

    from analytics_ext.services.sessions import end_all_sessions
    from analytics_ext.store.models import AuthSession
    from analytics_ext.store.types import utcnow

    owner = UserService(db, ActivityLog()).ensure_owner("ada", "Ada")
    later = utcnow() + timedelta(days=1)
    with db.transaction() as tx:
        sessions = [AuthSession(user_id=owner.id, expires_at=later) for _ in range(3)]
        tx.add_all(sessions)
        tx.flush()
        keep = sessions[0].id
        ended = end_all_sessions(tx, owner.id, "password_changed", keep_session_id=keep)
    assert sorted(ended) == sorted(s.id for s in sessions[1:])
    with db.transaction() as tx:
        rows = {s.id: s for s in tx.scalars(select(AuthSession))}
    assert rows[keep].revoked_at is None
    assert all(rows[i].revoked_reason == "password_changed" for i in ended)
    with db.transaction() as tx:
        assert end_all_sessions(tx, owner.id, "again", keep_session_id=keep) == []

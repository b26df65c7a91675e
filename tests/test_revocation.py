"""RevocationView: another server process sharing the store (and Redis) sees revocations in ~1 s.

Each "process" is its own Database, RevocationView and AuthService on one store, as two server
processes would be; the codec key is shared, as it is between processes of one deployment.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import argon2
import pytest
from sqlalchemy import update

from analytics_ext.auth.passwords import PasswordHasher, normalize_password
from analytics_ext.auth.rate_limits import MemoryRateLimiter
from analytics_ext.auth.tokens import AccessTokenCodec
from analytics_ext.errors import Unauthenticated
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.auth import AuthService
from analytics_ext.services.revocation import RevocationView
from analytics_ext.store import Database, upgrade_schema
from analytics_ext.store.models import AuthSession, User
from analytics_ext.store.types import utcnow
from tests.support.services import require_service

PASSWORD = "correct horse battery staple"
ORIGIN = RequestOrigin("203.0.113.7", "pytest")
TEST_ARGON2 = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def hasher() -> Iterator[PasswordHasher]:
    shared = PasswordHasher(**TEST_ARGON2)
    yield shared
    shared.close()


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


class Process:
    """One server process's view of the shared store."""

    def __init__(self, url: str, hasher: PasswordHasher, key: bytes, **view_options) -> None:
        self.db = Database(url)
        self.view = RevocationView(self.db, **view_options)
        codec = AccessTokenCodec(key, issuer="test", audience="analytics")
        self.auth = AuthService(
            self.db, ActivityLog(), hasher, MemoryRateLimiter(), codec, self.view
        )

    async def close(self) -> None:
        await self.view.stop()
        self.db.dispose()


@pytest.fixture
def processes(store_url: str, hasher: PasswordHasher, key: bytes):
    created: list[Process] = []

    def start(**view_options) -> Process:
        process = Process(store_url, hasher, key, **view_options)
        created.append(process)
        return process

    database = Database(store_url)
    upgrade_schema(database)
    database.dispose()
    yield start
    for process in created:
        process.db.dispose()


def add_user(db: Database, username: str = "ada") -> str:
    hashed = argon2.PasswordHasher(**TEST_ARGON2).hash(normalize_password(PASSWORD).encode())
    with db.transaction() as tx:
        user = User(username=username, display_name=username, password_hash=hashed)
        tx.add(user)
        tx.flush()
        return user.id


async def refused_within(check: Callable[[], object], seconds: float) -> float:
    """Seconds until ``check`` raises Unauthenticated; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            check()
        except Unauthenticated:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    pytest.fail(f"still accepted after {seconds} s")


async def test_a_revocation_reaches_another_process_by_polling(processes, key):
    a = processes()
    b = processes(poll_interval=0.5)
    user_id = add_user(a.db)
    pair = await a.auth.login("ada", PASSWORD, ORIGIN)
    await b.view.start()
    try:
        assert b.auth.authenticate(pair.access_token).user_id == user_id
        a.auth.revoke_session(user_id, pair.session_id)
        elapsed = await refused_within(lambda: b.auth.authenticate(pair.access_token), 1.0)
        assert elapsed < 1.0
    finally:
        await b.close()
        await a.close()


async def test_a_disabled_user_reaches_another_process_by_polling(processes):
    a = processes()
    b = processes(poll_interval=0.5)
    user_id = add_user(a.db)
    pair = await a.auth.login("ada", PASSWORD, ORIGIN)
    await b.view.start()
    try:
        b.auth.authenticate(pair.access_token)
        with a.db.transaction() as tx:
            tx.execute(update(User).where(User.id == user_id).values(disabled_at=utcnow()))
        await refused_within(lambda: b.auth.authenticate(pair.access_token), 1.0)
    finally:
        await b.close()
        await a.close()


async def test_a_revocation_reaches_another_process_through_redis(processes):
    require_service("redis")
    channel = f"analytics_ext:revocations:test:{uuid.uuid4().hex}"
    a = processes(redis_url=REDIS_URL, channel=channel)
    # B polls so rarely that only the Redis message can tell it within a second.
    b = processes(redis_url=REDIS_URL, channel=channel, poll_interval=60)
    user_id = add_user(a.db)
    pair = await a.auth.login("ada", PASSWORD, ORIGIN)
    await b.view.start()
    try:
        await asyncio.sleep(0.1)  # B's first poll (right after start) is done
        b.auth.authenticate(pair.access_token)
        await asyncio.to_thread(a.auth.revoke_other_sessions, user_id, "x" * 22)
        elapsed = await refused_within(lambda: b.auth.authenticate(pair.access_token), 1.0)
        assert elapsed < 1.0
    finally:
        await b.close()
        await a.close()


async def test_without_polling_or_redis_another_process_does_not_know(processes):
    """The control for the two tests above: B learns only through polling or Redis."""
    a = processes()
    b = processes(poll_interval=60)
    user_id = add_user(a.db)
    pair = await a.auth.login("ada", PASSWORD, ORIGIN)
    await b.view.start()
    try:
        await asyncio.sleep(0.1)
        a.auth.revoke_session(user_id, pair.session_id)
        await asyncio.sleep(0.3)
        assert b.auth.authenticate(pair.access_token).session_id == pair.session_id
        await asyncio.to_thread(b.view.poll)
        with pytest.raises(Unauthenticated):
            b.auth.authenticate(pair.access_token)
    finally:
        await b.close()
        await a.close()


async def test_a_user_created_after_loading_is_fetched_once(processes):
    a = processes()
    add_user(a.db, "first")
    a.view.load()
    add_user(a.db, "late")
    pair = await a.auth.login("late", PASSWORD, ORIGIN)
    assert a.auth.authenticate(pair.access_token).username == "late"
    await a.close()


def test_old_revocations_are_forgotten(processes):
    """Only revocations whose access tokens could still verify are kept in memory."""
    a = processes(retention=timedelta(minutes=20))
    user_id = add_user(a.db)
    now = utcnow()
    with a.db.transaction() as tx:
        old = AuthSession(user_id=user_id, expires_at=now, revoked_at=now - timedelta(hours=1))
        recent = AuthSession(user_id=user_id, expires_at=now, revoked_at=now - timedelta(minutes=1))
        tx.add_all([old, recent])
    assert not a.view.is_revoked(old.id)
    assert a.view.is_revoked(recent.id)
    a.db.dispose()

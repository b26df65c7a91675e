"""AuthService: login, refresh rotation and reuse, sessions, passwords, per-request authentication.

Real store (SQLite and PostgreSQL), real argon2 worker (cheap parameters), real rate limiter and a
real codec with a random key: each security rule is tried from the side of someone breaking it.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import argon2
import pytest
from sqlalchemy import String, Text, func, select, update

from analytics_ext.auth.passwords import PasswordHasher, normalize_password
from analytics_ext.auth.rate_limits import Limit, LimitName, MemoryRateLimiter, RateLimited
from analytics_ext.auth.secret_tokens import SecretKind, issue_secret, parse_secret
from analytics_ext.auth.tokens import AccessTokenCodec
from analytics_ext.errors import Invalid, NotFound, Unauthenticated
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.auth import AuthService, AuthSettings, TokenPair
from analytics_ext.services.revocation import RevocationView
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, AuthSession, Base, RefreshToken, User
from analytics_ext.store.types import utcnow

PASSWORD = "correct horse battery staple"
ORIGIN = RequestOrigin("203.0.113.7", "pytest-agent/1.0")
MINUTE = timedelta(minutes=1)


class CountingHasher(PasswordHasher):
    """The real hasher, counting dummy verifications (the unknown-account timing path)."""

    dummy_calls = 0

    async def verify_dummy(self, password: str) -> bool:
        type(self).dummy_calls += 1
        return await super().verify_dummy(password)


TEST_ARGON2 = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}


@pytest.fixture(scope="module")
def hasher() -> Iterator[CountingHasher]:
    # argon2's cheapest sane parameters keep the suite fast; the code path is the production one.
    shared = CountingHasher(**TEST_ARGON2)
    yield shared
    shared.close()


def hash_now(password: str, **parameters: int) -> str:
    """A stored hash made in-process (for fixtures), with the test hasher's parameters."""
    params = {**TEST_ARGON2, **parameters}
    return argon2.PasswordHasher(**params).hash(normalize_password(password).encode())


@dataclass
class Auth:
    db: Database
    service: AuthService
    view: RevocationView
    limiter: MemoryRateLimiter
    codec: AccessTokenCodec


def make_auth(
    db: Database, hasher: PasswordHasher, *, limits: dict[str, Limit] | None = None, **settings
) -> Auth:
    codec = AccessTokenCodec(secrets.token_bytes(32), issuer="test", audience="analytics")
    view = RevocationView(db)
    limiter = MemoryRateLimiter()
    service = AuthService(
        db, ActivityLog(), hasher, limiter, codec, view, AuthSettings(**settings), limits
    )
    return Auth(db, service, view, limiter, codec)


@pytest.fixture
def auth(db: Database, hasher: PasswordHasher) -> Auth:
    return make_auth(db, hasher)


def add_user(
    db: Database,
    username: str = "ada",
    email: str | None = "ada@example.org",
    password: str | None = PASSWORD,
    **columns,
) -> str:
    with db.transaction() as tx:
        user = User(
            username=username,
            display_name=username.title(),
            email=email,
            password_hash=hash_now(password) if password else None,
            **columns,
        )
        tx.add(user)
        tx.flush()
        return user.id


def events(db: Database, type: str | None = None) -> list[ActivityEvent]:
    with db.transaction() as tx:
        query = select(ActivityEvent).order_by(ActivityEvent.created_at)
        if type is not None:
            query = query.where(ActivityEvent.type == type)
        return list(tx.scalars(query))


def count(db: Database, model: type[Base]) -> int:
    with db.transaction() as tx:
        return tx.scalar(select(func.count()).select_from(model))


def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused call wrote nothing."""
    with db.transaction() as tx:
        return {
            table.name: sorted(map(tuple, tx.execute(table.select()).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


# --- login ---------------------------------------------------------------------------------------


async def test_login_by_canonical_username_or_email(auth: Auth):
    user_id = add_user(auth.db)
    for name in ("ada", "ADA", "\uff21\uff24\uff21", " Ada ", "ADA@Example.ORG"):
        pair = await auth.service.login(name, PASSWORD, ORIGIN)
        assert isinstance(pair, TokenPair)
        principal = auth.service.authenticate(pair.access_token)
        assert (principal.user_id, principal.session_id) == (user_id, pair.session_id)
        assert principal.username == "ada"
    assert count(auth.db, AuthSession) == 5


async def test_login_creates_a_session_a_hashed_refresh_token_and_an_event(auth: Auth):
    user_id = add_user(auth.db)
    before = utcnow()
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    assert pair.token_type == "Bearer"
    assert pair.expires_in == 15 * 60
    assert pair.as_json()["refresh_token"] == pair.refresh_token
    assert pair.refresh_token not in repr(pair)
    assert pair.access_token not in repr(pair)
    with auth.db.transaction() as tx:
        session = tx.get(AuthSession, pair.session_id)
        (token,) = tx.scalars(select(RefreshToken))
    assert session.user_id == user_id
    assert (session.ip_address, session.user_agent) == (ORIGIN.ip_address, ORIGIN.user_agent)
    assert session.expires_at - before >= timedelta(days=14) - MINUTE
    kind, lookup, secret = parse_secret(pair.refresh_token)
    assert kind is SecretKind.REFRESH
    assert token.lookup == lookup
    assert token.session_id == session.id
    assert secret not in token.secret_hash
    assert token.used_at is None
    (event,) = events(auth.db)
    assert (event.type, event.user_id, event.target_id) == ("auth.login", user_id, session.id)
    assert event.ip_address == ORIGIN.ip_address


async def test_every_login_failure_is_the_same_and_records_only_known_accounts(
    auth: Auth, hasher: CountingHasher
):
    ada = add_user(auth.db)
    grace = add_user(auth.db, "grace", "grace@example.org", disabled_at=utcnow())
    owner = add_user(auth.db, "owner", None, password=None, is_owner=True, is_admin=True)
    dummies = CountingHasher.dummy_calls
    attempts = [
        ("nobody", PASSWORD),  # unknown account
        ("ada", PASSWORD + "!"),  # wrong password
        ("grace", PASSWORD),  # right password, disabled account
        ("owner", PASSWORD),  # no password set
        ("ada", ""),
        ("", PASSWORD),
        ("x" * 10_000, PASSWORD),
    ]
    messages = set()
    for name, password in attempts:
        with pytest.raises(Unauthenticated) as refused:
            await auth.service.login(name, password, ORIGIN)
        assert type(refused.value) is Unauthenticated
        messages.add(str(refused.value))
    assert messages == {str(Unauthenticated())}
    # Unknown names and the password-less owner cost one argon2 verification too.
    assert CountingHasher.dummy_calls - dummies == 4
    assert count(auth.db, AuthSession) == 0
    failed = events(auth.db, "auth.login_failed")
    assert sorted(e.user_id for e in failed) == sorted([ada, grace, owner, ada])
    for event in failed:
        assert PASSWORD not in repr((event.details, event.user_agent, event.target_id))


async def test_login_rate_limit_per_address_counts_every_attempt(db: Database, hasher):
    auth = make_auth(
        db, hasher, limits={"login:address": Limit(LimitName.LOGIN_ADDRESS, 2, MINUTE)}
    )
    add_user(db)
    await auth.service.login("ada", PASSWORD, ORIGIN)
    with pytest.raises(Unauthenticated):
        await auth.service.login("nobody", PASSWORD, ORIGIN)
    with pytest.raises(RateLimited) as limited:
        await auth.service.login("ada", PASSWORD, ORIGIN)
    assert limited.value.retry_after >= 1
    # Another address is not affected.
    await auth.service.login("ada", PASSWORD, RequestOrigin("198.51.100.1"))


async def test_failed_logins_lock_the_submitted_name_even_for_the_right_password(
    db: Database, hasher
):
    failures = Limit(LimitName.LOGIN_FAILURE_ACCOUNT, 3, MINUTE, lockout=MINUTE)
    auth = make_auth(db, hasher, limits={"login_failure:account": failures})
    add_user(db)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.service.login("ADA", "wrong password", ORIGIN)
    with pytest.raises(RateLimited):
        await auth.service.login("ada", PASSWORD, ORIGIN)
    # Unknown names lock the same way, so a 429 tells an enumerator nothing.
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.service.login("nobody", "wrong password", ORIGIN)
    with pytest.raises(RateLimited):
        await auth.service.login("nobody", "wrong password", ORIGIN)


async def test_a_successful_login_resets_the_failure_count(db: Database, hasher):
    failures = Limit(LimitName.LOGIN_FAILURE_ACCOUNT, 3, MINUTE, lockout=MINUTE)
    auth = make_auth(db, hasher, limits={"login_failure:account": failures})
    add_user(db)
    for _ in range(2):
        for _ in range(2):
            with pytest.raises(Unauthenticated):
                await auth.service.login("ada", "wrong password", ORIGIN)
        await auth.service.login("ada", PASSWORD, ORIGIN)


async def test_login_upgrades_an_outdated_hash(auth: Auth, hasher: PasswordHasher):
    user_id = add_user(auth.db)
    with auth.db.transaction() as tx:
        tx.get(User, user_id).password_hash = hash_now(PASSWORD, time_cost=2)
    await auth.service.login("ada", PASSWORD, ORIGIN)
    with auth.db.transaction() as tx:
        stored = tx.get(User, user_id).password_hash
    assert not hasher.needs_rehash(stored)
    assert await hasher.verify(stored, PASSWORD)


# --- refresh -------------------------------------------------------------------------------------


async def test_refresh_rotates_the_token(auth: Auth):
    add_user(auth.db)
    first = await auth.service.login("ada", PASSWORD, ORIGIN)
    second = await auth.service.refresh(first.refresh_token, ORIGIN)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert auth.service.authenticate(second.access_token).session_id == first.session_id
    third = await auth.service.refresh(second.refresh_token, ORIGIN)
    assert auth.service.authenticate(third.access_token).session_id == first.session_id
    with auth.db.transaction() as tx:
        tokens = list(tx.scalars(select(RefreshToken).order_by(RefreshToken.created_at)))
    assert [t.used_at is not None for t in tokens] == [True, True, False]


async def test_reusing_a_rotated_token_revokes_the_whole_session(auth: Auth):
    user_id = add_user(auth.db)
    first = await auth.service.login("ada", PASSWORD, ORIGIN)
    other = await auth.service.login("ada", PASSWORD, ORIGIN)
    second = await auth.service.refresh(first.refresh_token, ORIGIN)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(first.refresh_token, ORIGIN)  # the replay
    # Its access tokens and its newest refresh token are dead too; another session is not.
    for access in (first.access_token, second.access_token):
        with pytest.raises(Unauthenticated):
            auth.service.authenticate(access)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(second.refresh_token, ORIGIN)
    assert auth.service.authenticate(other.access_token).session_id == other.session_id
    with auth.db.transaction() as tx:
        session = tx.get(AuthSession, first.session_id)
    assert session.revoked_reason == "refresh_reused"
    assert session.revoked_at is not None
    (event,) = events(auth.db, "auth.refresh_reused")
    assert (event.user_id, event.target_id) == (user_id, first.session_id)


async def test_refresh_failures_are_identical_and_write_nothing(auth: Auth):
    add_user(auth.db)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    _kind, lookup, secret = parse_secret(pair.refresh_token)
    wrong_secret = f"aer_{lookup}_{'A' * len(secret)}"
    as_api_key = f"aek_{lookup}_{secret}"
    unknown = issue_secret(SecretKind.REFRESH).token
    before = snapshot(auth.db)
    for token in ("", "garbage", pair.access_token, wrong_secret, as_api_key, unknown, None, 42):
        with pytest.raises(Unauthenticated) as refused:
            await auth.service.refresh(token, ORIGIN)
        assert str(refused.value) == str(Unauthenticated())
    assert snapshot(auth.db) == before
    await auth.service.refresh(pair.refresh_token, ORIGIN)  # still good


async def test_refresh_refuses_expired_tokens_and_ended_sessions(auth: Auth):
    add_user(auth.db)
    expired = await auth.service.login("ada", PASSWORD, ORIGIN)
    ending = await auth.service.login("ada", PASSWORD, ORIGIN)
    revoked = await auth.service.login("ada", PASSWORD, ORIGIN)
    past = utcnow() - MINUTE
    with auth.db.transaction() as tx:
        tx.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == expired.session_id)
            .values(expires_at=past)
        )
        # Within one access lifetime of its end a session is no longer refreshed, so no access
        # token can outlive it.
        tx.get(AuthSession, ending.session_id).expires_at = utcnow() + timedelta(minutes=10)
    auth.service.revoke_session(
        auth.service.authenticate(revoked.access_token).user_id, revoked.session_id
    )
    before = snapshot(auth.db)
    for pair in (expired, ending, revoked):
        with pytest.raises(Unauthenticated):
            await auth.service.refresh(pair.refresh_token, ORIGIN)
    assert snapshot(auth.db) == before


async def test_racing_refreshes_rotate_at_most_once(auth: Auth):
    """Two requests with one token: the first wins, the loser counts as reuse."""
    add_user(auth.db)
    for _ in range(4):
        pair = await auth.service.login("ada", PASSWORD, ORIGIN)
        barrier = threading.Barrier(2)
        results: list[object] = []

        def racer(
            token: str = pair.refresh_token,
            barrier: threading.Barrier = barrier,
            results: list[object] = results,
        ) -> None:
            barrier.wait()
            try:
                results.append(asyncio.run(auth.service.refresh(token, ORIGIN)))
            except Exception as error:
                results.append(error)

        threads = [threading.Thread(target=racer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pairs = [r for r in results if isinstance(r, TokenPair)]
        assert len(pairs) <= 1, results
        assert all(isinstance(r, TokenPair | Unauthenticated) for r in results), results
        assert len(pairs) + sum(isinstance(r, Unauthenticated) for r in results) == 2
        with auth.db.transaction() as tx:
            fresh = tx.scalar(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.session_id == pair.session_id, RefreshToken.used_at.is_(None))
            )
            session = tx.get(AuthSession, pair.session_id)
        assert fresh == len(pairs)
        # The loser revoked the session: the winner's pair is dead as well.
        assert session.revoked_reason == "refresh_reused"
        for winner in pairs:
            with pytest.raises(Unauthenticated):
                auth.service.authenticate(winner.access_token)


async def test_no_token_secret_is_stored_anywhere(auth: Auth):
    add_user(auth.db)
    issued: list[str] = []
    first = await auth.service.login("ada", PASSWORD, ORIGIN)
    second = await auth.service.refresh(first.refresh_token, ORIGIN)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(first.refresh_token, ORIGIN)  # reuse: recorded
    with pytest.raises(Unauthenticated):
        await auth.service.login("ada", first.refresh_token, ORIGIN)  # a token as a password
    issued = [parse_secret(t)[2] for t in (first.refresh_token, second.refresh_token)]
    issued += [first.access_token, second.access_token, PASSWORD]
    with auth.db.transaction() as tx:
        for table in Base.metadata.sorted_tables:
            for row in tx.execute(table.select()).mappings():
                for column in table.columns:
                    value = row[column.name]
                    text = value if isinstance(column.type, String | Text) else repr(value)
                    if text is None:
                        continue
                    for secret in issued:
                        assert secret not in text, f"{table.name}.{column.name} holds a secret"
    assert events(auth.db, "auth.refresh_reused")


# --- authenticate --------------------------------------------------------------------------------


async def test_authenticate_refuses_forged_and_misused_tokens(auth: Auth):
    add_user(auth.db)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    foreign = AccessTokenCodec(secrets.token_bytes(32), issuer="test", audience="analytics")
    for token in ("", "x.y.z", pair.refresh_token, pair.access_token + "x"):
        with pytest.raises(Unauthenticated):
            auth.service.authenticate(token)
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(foreign.issue("someone", pair.session_id))
    principal = auth.service.authenticate(pair.access_token)
    assert (principal.is_admin, principal.notebook_role) == (False, False)


async def test_authenticate_reports_admin_and_notebook_role(auth: Auth):
    add_user(auth.db, is_admin=True, notebook_role=True)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    principal = auth.service.authenticate(pair.access_token)
    assert (principal.is_admin, principal.notebook_role) == (True, True)


async def test_a_disabled_user_is_refused_at_once(auth: Auth):
    user_id = add_user(auth.db)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    auth.service.authenticate(pair.access_token)  # the view is loaded and caches the user
    with auth.db.transaction() as tx:
        tx.execute(update(User).where(User.id == user_id).values(disabled_at=utcnow()))
    auth.view.user_changed(user_id)
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(pair.access_token)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(pair.refresh_token, ORIGIN)


# --- sessions ------------------------------------------------------------------------------------


async def test_logout_ends_the_session_and_its_access_tokens(auth: Auth):
    user_id = add_user(auth.db)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    auth.service.logout(pair.session_id)
    auth.service.logout(pair.session_id)  # idempotent
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(pair.access_token)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(pair.refresh_token, ORIGIN)
    assert [e.user_id for e in events(auth.db, "auth.logout")] == [user_id]


async def test_list_and_revoke_sessions(auth: Auth):
    ada = add_user(auth.db)
    grace = add_user(auth.db, "grace", "grace@example.org")
    mine = [await auth.service.login("ada", PASSWORD, ORIGIN) for _ in range(3)]
    theirs = await auth.service.login("grace", PASSWORD, ORIGIN)
    listed = auth.service.list_sessions(ada, mine[0].session_id)
    assert sorted(s.id for s in listed) == sorted(p.session_id for p in mine)
    assert [s.current for s in listed if s.id == mine[0].session_id] == [True]
    assert sum(s.current for s in listed) == 1
    assert listed[0].ip_address == ORIGIN.ip_address

    # Someone else's session, an unknown one, an ended one: all NotFound, nothing changes.
    for session_id in (theirs.session_id, "x" * 22):
        with pytest.raises(NotFound):
            auth.service.revoke_session(ada, session_id)
    assert auth.service.authenticate(theirs.access_token).user_id == grace

    auth.service.revoke_session(ada, mine[1].session_id)
    with pytest.raises(NotFound):
        auth.service.revoke_session(ada, mine[1].session_id)
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(mine[1].access_token)
    assert len(auth.service.list_sessions(ada, None)) == 2

    assert auth.service.revoke_other_sessions(ada, mine[0].session_id) == 1
    assert auth.service.revoke_other_sessions(ada, mine[0].session_id) == 0
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(mine[2].access_token)
    assert auth.service.authenticate(mine[0].access_token).session_id == mine[0].session_id
    assert [s.id for s in auth.service.list_sessions(ada, None)] == [mine[0].session_id]
    assert len(events(auth.db, "auth.session_revoked")) == 1
    assert [e.details for e in events(auth.db, "auth.sessions_revoked")] == [{"count": 1}]


# --- passwords -----------------------------------------------------------------------------------

NEW_PASSWORD = "a different, longer passphrase"


async def test_change_password_needs_the_current_one_and_ends_other_sessions(auth: Auth):
    user_id = add_user(auth.db)
    current = await auth.service.login("ada", PASSWORD, ORIGIN)
    other = await auth.service.login("ada", PASSWORD, ORIGIN)

    with pytest.raises(Invalid) as wrong:
        await auth.service.change_password(user_id, "wrong", NEW_PASSWORD, current.session_id)
    assert wrong.value.field == "current_password"
    for weak in ("short", "password123", "ada", "ada@example.org"):
        with pytest.raises(Invalid) as refused:
            await auth.service.change_password(user_id, PASSWORD, weak, current.session_id)
        assert refused.value.field == "new_password"
    auth.service.authenticate(other.access_token)  # nothing changed yet

    await auth.service.change_password(user_id, PASSWORD, NEW_PASSWORD, current.session_id)
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(other.access_token)
    with pytest.raises(Unauthenticated):
        await auth.service.refresh(other.refresh_token, ORIGIN)
    assert auth.service.authenticate(current.access_token).session_id == current.session_id
    await auth.service.refresh(current.refresh_token, ORIGIN)

    with pytest.raises(Unauthenticated):
        await auth.service.login("ada", PASSWORD, ORIGIN)
    await auth.service.login("ada", NEW_PASSWORD, ORIGIN)
    with auth.db.transaction() as tx:
        assert tx.get(User, user_id).password_changed_at is not None
        ended = tx.get(AuthSession, other.session_id)
    assert ended.revoked_reason == "password_changed"
    (event,) = events(auth.db, "user.password_changed")
    assert event.details == {"sessions_ended": 1}


async def test_set_password_is_policy_checked_and_ends_every_session(auth: Auth):
    owner = add_user(auth.db, "owner", None, password=None, is_owner=True)
    ada = add_user(auth.db)
    pair = await auth.service.login("ada", PASSWORD, ORIGIN)
    with pytest.raises(Invalid):
        await auth.service.set_password(ada, "12345678")
    with pytest.raises(NotFound):
        await auth.service.set_password("x" * 22, NEW_PASSWORD)
    await auth.service.set_password(ada, NEW_PASSWORD)
    with pytest.raises(Unauthenticated):
        auth.service.authenticate(pair.access_token)
    await auth.service.login("ada", NEW_PASSWORD, ORIGIN)
    # The password-less owner can be given one, and then logs in with it.
    await auth.service.set_password(owner, NEW_PASSWORD)
    await auth.service.login("owner", NEW_PASSWORD, ORIGIN)
    assert len(events(auth.db, "user.password_set")) == 2


async def test_change_password_of_an_account_without_one_is_refused(auth: Auth):
    owner = add_user(auth.db, "owner", None, password=None, is_owner=True)
    with pytest.raises(Invalid, match="current_password"):
        await auth.service.change_password(owner, "", NEW_PASSWORD, None)

"""Password reset and email verification on a real store, through a real SMTP server (aiosmtpd).

No mocks: mail crosses a socket and the token is read back from the received message, exactly
as a person would follow the link.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from analytics_ext.auth.passwords import PasswordHasher
from analytics_ext.auth.rate_limits import MemoryRateLimiter, RateLimited, default_limits
from analytics_ext.auth.secret_tokens import parse_secret
from analytics_ext.errors import Invalid, Unauthenticated
from analytics_ext.services.account_recovery import AccountRecovery, RecoverySettings
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.mail import Mailer, SmtpSecurity, SmtpSettings
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, AuthSession, Base, OneTimeToken, User
from analytics_ext.store.types import utcnow
from tests.support.smtp import SmtpTestServer, closed_port, run_smtp_server

ORIGIN = RequestOrigin("192.0.2.10", "pytest")
OLD_PASSWORD = "violet tractor umbrella 42"
NEW_PASSWORD = "granite pelican orbit 17"
PUBLIC_URL = "https://analytics.example.com/team/"
LINK = re.compile(re.escape(PUBLIC_URL) + r"login#(reset|verify)=([A-Za-z0-9_]+)")


@pytest.fixture(scope="module")
def hasher() -> Iterator[PasswordHasher]:
    shared = PasswordHasher(time_cost=1, memory_cost=8 * 1024)
    yield shared
    shared.close()


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with run_smtp_server("plain") as server:
        yield server


def smtp_mailer(port: int, outbox: Path) -> Mailer:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security=SmtpSecurity.NONE,
        sender="Analytics <analytics@example.com>",
        timeout=5.0,
    )
    return Mailer(settings, outbox)


def make_recovery(
    db: Database, mailer: Mailer, hasher: PasswordHasher, **settings: object
) -> AccountRecovery:
    return AccountRecovery(
        db,
        ActivityLog(),
        mailer,
        hasher,
        MemoryRateLimiter(),
        RecoverySettings(PUBLIC_URL, forgot_min_duration=timedelta(0), **settings),  # type: ignore[arg-type]
    )


@pytest.fixture
def recovery(
    db: Database, smtp: SmtpTestServer, hasher: PasswordHasher, tmp_path: Path
) -> AccountRecovery:
    return make_recovery(db, smtp_mailer(smtp.port, tmp_path / "outbox"), hasher)


async def make_user(
    db: Database,
    hasher: PasswordHasher,
    username: str = "ada",
    email: str | None = "ada@example.com",
) -> str:
    password_hash = await hasher.hash(OLD_PASSWORD)
    with db.transaction() as tx:
        user = User(
            username=username, display_name=username.title(), email=email,
            password_hash=password_hash,
        )  # fmt: skip
        tx.add(user)
        tx.flush()
        return user.id


def open_session(db: Database, user_id: str) -> str:
    with db.transaction() as tx:
        session = AuthSession(user_id=user_id, expires_at=utcnow() + timedelta(days=1))
        tx.add(session)
        tx.flush()
        return session.id


def link_in(server: SmtpTestServer, index: int = -1) -> tuple[str, str]:
    """(``reset`` or ``verify``, token) from a received message's plain-text body."""
    body = server.received[index].message.get_body(("plain",)).get_content()
    match = LINK.search(body)
    assert match, body
    return match.group(1), match.group(2)


def every_stored_text(db: Database) -> str:
    parts: list[str] = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                parts.extend(repr(value) for value in row)
    return "\n".join(parts)


def assert_secret_nowhere(db: Database, token: str, caplog: pytest.LogCaptureFixture) -> None:
    _kind, _lookup, secret = parse_secret(token)
    assert secret not in every_stored_text(db)
    for record in caplog.records:
        assert secret not in record.getMessage()


def user_row(db: Database, user_id: str) -> User:
    with db.transaction() as tx:
        return tx.get(User, user_id)


def event_types(db: Database) -> list[str]:
    with db.transaction() as tx:
        return list(tx.scalars(select(ActivityEvent.type).order_by(ActivityEvent.created_at)))


def forge_expiry(db: Database, when) -> None:
    with db.transaction() as tx:
        tx.execute(update(OneTimeToken).values(expires_at=when))


# --- password reset ---------------------------------------------------------------------------


async def test_reset_end_to_end_through_smtp(
    db: Database,
    recovery: AccountRecovery,
    smtp: SmtpTestServer,
    hasher: PasswordHasher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = await make_user(db, hasher)
    session_id = open_session(db, ada)

    assert await recovery.forgot_password("Ada@Example.com", ORIGIN) is None
    await recovery.wait_for_deliveries()
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["ada@example.com"]
    purpose, token = link_in(smtp)
    assert purpose == "reset"
    assert token.startswith("aep_")
    assert_secret_nowhere(db, token, caplog)

    assert await recovery.reset_password(token, NEW_PASSWORD, ORIGIN) == ada
    user = user_row(db, ada)
    assert await hasher.verify(user.password_hash, NEW_PASSWORD)
    assert not await hasher.verify(user.password_hash, OLD_PASSWORD)
    assert user.password_changed_at is not None
    with db.transaction() as tx:
        session = tx.get(AuthSession, session_id)
        assert session.revoked_at is not None
        assert session.revoked_reason == "password_reset"
    assert event_types(db) == ["auth.password_reset_requested", "auth.password_reset"]

    with pytest.raises(Unauthenticated):  # single use
        await recovery.reset_password(token, "another fine password 9", ORIGIN)
    assert user_row(db, ada).password_hash == user.password_hash
    assert_secret_nowhere(db, token, caplog)
    with db.transaction() as tx:
        details = list(tx.scalars(select(ActivityEvent.details)))
    assert token not in repr(details)


async def test_forgot_by_username_works_too(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    await make_user(db, hasher)
    await recovery.forgot_password("ADA", ORIGIN)
    await recovery.wait_for_deliveries()
    assert [mail.rcpt_tos for mail in smtp.received] == [["ada@example.com"]]


async def test_forgot_answers_the_same_when_nothing_is_sent(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    await make_user(db, hasher, "noemail", email=None)
    disabled = await make_user(db, hasher, "gone", email="gone@example.com")
    with db.transaction() as tx:
        tx.execute(update(User).where(User.id == disabled).values(disabled_at=utcnow()))
    for name in ["nobody@example.com", "nobody", "noemail", "gone@example.com", "", "x" * 5000]:
        assert await recovery.forgot_password(name, ORIGIN) is None
    await recovery.wait_for_deliveries()
    assert smtp.received == []
    with db.transaction() as tx:
        assert list(tx.scalars(select(OneTimeToken))) == []


async def test_forgot_survives_a_dead_mail_server_and_logs_no_token(
    db: Database, hasher: PasswordHasher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = await make_user(db, hasher)
    with closed_port() as port:
        recovery = make_recovery(db, smtp_mailer(port, tmp_path / "outbox"), hasher)
        assert await recovery.forgot_password("ada@example.com", ORIGIN) is None
        await recovery.wait_for_deliveries()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("password reset mail for user " + ada in r.getMessage() for r in warnings)
    with db.transaction() as tx:
        (row,) = tx.scalars(select(OneTimeToken))
    for record in caplog.records:
        assert row.lookup not in record.getMessage()
    assert not (tmp_path / "outbox").exists()  # SMTP configured: no silent outbox fallback


async def test_forgot_takes_the_same_minimum_time_either_way(
    db: Database, smtp: SmtpTestServer, hasher: PasswordHasher, tmp_path: Path
) -> None:
    await make_user(db, hasher)
    recovery = AccountRecovery(
        db, ActivityLog(), smtp_mailer(smtp.port, tmp_path), hasher, MemoryRateLimiter(),
        RecoverySettings(PUBLIC_URL, forgot_min_duration=timedelta(milliseconds=300)),
    )  # fmt: skip
    durations = {}
    for name in ["ada@example.com", "nobody@example.com"]:
        started = time.monotonic()
        await recovery.forgot_password(name, ORIGIN)
        durations[name] = time.monotonic() - started
    await recovery.wait_for_deliveries()
    assert len(smtp.received) == 1
    # The floor is the guarantee; the loose ceiling only catches a runaway call.
    assert all(0.3 <= duration < 2.0 for duration in durations.values()), durations


async def test_a_new_request_kills_older_reset_links(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, first = link_in(smtp)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, second = link_in(smtp)
    with pytest.raises(Unauthenticated):
        await recovery.reset_password(first, NEW_PASSWORD, ORIGIN)
    assert await recovery.reset_password(second, NEW_PASSWORD, ORIGIN) == ada


async def test_expired_and_misused_tokens_are_refused_and_write_nothing(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    recovery.send_verification(ada, ORIGIN)
    _, verify_token = link_in(smtp)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, reset_token = link_in(smtp)
    before = every_stored_text(db)

    _, lookup, secret = parse_secret(reset_token)
    bad_tokens = [
        verify_token,  # a verification token presented as a reset token
        f"aev_{lookup}_{secret}",  # the reset secret relabelled as the other kind
        f"aep_{lookup}_{'A' * 43}",  # right lookup, wrong secret
        reset_token[:-1],
        "",
    ]
    for token in bad_tokens:
        with pytest.raises(Unauthenticated) as caught:
            await recovery.reset_password(token, NEW_PASSWORD, ORIGIN)
        assert str(caught.value) == str(Unauthenticated())
    with pytest.raises(Unauthenticated):
        recovery.verify_email(reset_token, ORIGIN)

    forge_expiry(db, utcnow() - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        await recovery.reset_password(reset_token, NEW_PASSWORD, ORIGIN)
    with pytest.raises(Unauthenticated):
        recovery.verify_email(verify_token, ORIGIN)
    forge_expiry(db, utcnow() + timedelta(minutes=5))
    after = every_stored_text(db)
    # Only the forged expiry differs: no password, session, token use or event was written.
    strip = re.compile(r"datetime\.datetime\([^)]*\)")
    assert strip.sub("", before) == strip.sub("", after)


async def test_weak_password_is_refused_and_the_token_stays_usable(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, token = link_in(smtp)
    for weak in ["short", "password123", "ada@example.com"]:
        with pytest.raises(Invalid) as caught:
            await recovery.reset_password(token, weak, ORIGIN)
        assert caught.value.field == "password"
    assert await recovery.reset_password(token, NEW_PASSWORD, ORIGIN) == ada


async def test_reset_link_dies_when_the_email_changes(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, token = link_in(smtp)
    with db.transaction() as tx:
        tx.execute(update(User).where(User.id == ada).values(email="new@example.com"))
    with pytest.raises(Unauthenticated):
        await recovery.reset_password(token, NEW_PASSWORD, ORIGIN)


async def test_concurrent_redemptions_succeed_once(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    await make_user(db, hasher)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    _, token = link_in(smtp)
    results = await asyncio.gather(
        *(recovery.reset_password(token, NEW_PASSWORD, ORIGIN) for _ in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(result, str) for result in results) == 1
    assert all(isinstance(r, (str, Unauthenticated)) for r in results), results
    assert event_types(db).count("auth.password_reset") == 1


async def test_forgot_limits_and_never_touches_login_failures(
    db: Database, smtp: SmtpTestServer, hasher: PasswordHasher, tmp_path: Path
) -> None:
    await make_user(db, hasher)
    limiter = MemoryRateLimiter()
    limits = default_limits()
    recovery = AccountRecovery(
        db, ActivityLog(), smtp_mailer(smtp.port, tmp_path), hasher, limiter,
        RecoverySettings(PUBLIC_URL, forgot_min_duration=timedelta(0)),
    )  # fmt: skip
    for _ in range(3):
        await recovery.forgot_password("ada", ORIGIN)
    with pytest.raises(RateLimited):
        await recovery.forgot_password("ada", ORIGIN)
    # An unknown name is limited just the same: a 429 says nothing about existence.
    for _ in range(3):
        await recovery.forgot_password("nobody", RequestOrigin("192.0.2.99"))
    with pytest.raises(RateLimited):
        await recovery.forgot_password("nobody", RequestOrigin("192.0.2.99"))
    # Another spelling of the same account gets no 429 but no mail either (per-id cap).
    await recovery.forgot_password("ada@example.com", RequestOrigin("192.0.2.50"))
    await recovery.wait_for_deliveries()
    assert len(smtp.received) == 3
    # Per address: 10 an hour, whatever the names.
    for number in range(6):
        await recovery.forgot_password(f"someone{number}", ORIGIN)
    with pytest.raises(RateLimited):
        await recovery.forgot_password("someone-else", ORIGIN)
    # Login failures untouched: four failures still do not reach the five-failure lock.
    failure = limits["login_failure:account"]
    for key in ["ada", "name:ada", "ada@example.com"]:
        limiter.check(failure, key)
        for _ in range(4):
            limiter.hit(failure, key)


async def test_reset_submissions_are_limited_per_address(
    db: Database, recovery: AccountRecovery
) -> None:
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await recovery.reset_password("nope", NEW_PASSWORD, ORIGIN)
    with pytest.raises(RateLimited):
        await recovery.reset_password("nope", NEW_PASSWORD, ORIGIN)


async def test_outbox_mode_writes_the_mail_file(
    db: Database, hasher: PasswordHasher, tmp_path: Path
) -> None:
    ada = await make_user(db, hasher)
    outbox = tmp_path / "outbox"
    recovery = make_recovery(db, Mailer(None, outbox), hasher)
    await recovery.forgot_password("ada", ORIGIN)
    await recovery.wait_for_deliveries()
    (path,) = outbox.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ada@example.com"
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match
    assert match.group(1) == "reset"
    assert await recovery.reset_password(match.group(2), NEW_PASSWORD, ORIGIN) == ada


# --- email verification -----------------------------------------------------------------------


async def test_verification_end_to_end_through_smtp(
    db: Database,
    recovery: AccountRecovery,
    smtp: SmtpTestServer,
    hasher: PasswordHasher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = await make_user(db, hasher)
    recovery.send_verification(ada)
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["ada@example.com"]
    purpose, token = link_in(smtp)
    assert purpose == "verify"
    assert token.startswith("aev_")
    assert user_row(db, ada).email_verified_at is None

    assert recovery.verify_email(token, ORIGIN) == ada
    assert user_row(db, ada).email_verified_at is not None
    assert "user.email_verified" in event_types(db)
    with pytest.raises(Unauthenticated):
        recovery.verify_email(token, ORIGIN)
    assert_secret_nowhere(db, token, caplog)
    recovery.send_verification(ada)  # already verified: nothing to send
    assert len(smtp.received) == 1


async def test_verification_is_bound_to_the_address_it_was_sent_to(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    recovery.send_verification(ada)
    _, old_token = link_in(smtp)
    with db.transaction() as tx:
        tx.execute(update(User).where(User.id == ada).values(email="ada@new.example"))
    with pytest.raises(Unauthenticated):
        recovery.verify_email(old_token, ORIGIN)
    assert user_row(db, ada).email_verified_at is None
    recovery.send_verification(ada)
    assert smtp.received[-1].rcpt_tos == ["ada@new.example"]
    _, new_token = link_in(smtp)
    assert recovery.verify_email(new_token, ORIGIN) == ada


async def test_resend_is_limited_and_kills_older_links(
    db: Database, recovery: AccountRecovery, smtp: SmtpTestServer, hasher: PasswordHasher
) -> None:
    ada = await make_user(db, hasher)
    for _ in range(5):
        recovery.resend_verification(ada, ORIGIN)
    with pytest.raises(RateLimited):
        recovery.resend_verification(ada, ORIGIN)
    assert len(smtp.received) == 5
    _, first = link_in(smtp, 0)
    _, last = link_in(smtp, -1)
    with pytest.raises(Unauthenticated):
        recovery.verify_email(first, ORIGIN)
    assert recovery.verify_email(last, ORIGIN) == ada


def test_public_url_must_be_http() -> None:
    for bad in ["javascript:alert(1)//", "/relative/", "ftp://example.com/", "https://", ""]:
        with pytest.raises(ValueError):
            RecoverySettings(bad)
    with pytest.raises(ValueError):
        RecoverySettings("https://user:pw@example.com/")
    settings = RecoverySettings("http://localhost:8888/lab-base")
    assert settings.reset_link("T") == "http://localhost:8888/lab-base/login#reset=T"

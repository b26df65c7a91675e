"""Rate limits and lockouts: one suite run against the in-memory and the Redis limiter.

Time is passed explicitly (``now=``) so windows and lockouts are crossed without sleeping; the
Redis tests use a real server, each in its own key namespace, removed afterwards.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_ext.auth.rate_limits import (
    Limit,
    LimitName,
    MemoryRateLimiter,
    RateLimited,
    RateLimiter,
    RedisRateLimiter,
    address_key,
    default_limits,
)
from analytics_ext.errors import AnalyticsError, Unavailable
from tests.support.services import SERVICES, require_service

REDIS_URL = "redis://{}:{}/0".format(*SERVICES["redis"])
CLOSED_PORT_URL = "redis://127.0.0.1:9/0"  # discard: nothing listens there

WINDOW = Limit("test:window", attempts=3, window=timedelta(seconds=60))
LOCKOUT = Limit(
    "test:lockout", attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
)
T0 = 1_000_000.0  # an arbitrary start; every test moves time explicitly from here


def retry_after(limiter: RateLimiter, limit: Limit, key: str, now: float, *, hit: bool) -> int:
    """The ``retry_after`` of the refusal that must happen here."""
    operation = limiter.hit if hit else limiter.check
    with pytest.raises(RateLimited) as refused:
        operation(limit, key, now=now)
    return refused.value.retry_after


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    require_service("redis")
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def namespace(redis_client: redis.Redis) -> Iterator[str]:
    """A key namespace of this test's own; whatever is left in it is deleted afterwards."""
    name = f"analytics_ext_test:{uuid.uuid4().hex}:rl"
    yield name
    leftover = list(redis_client.scan_iter(match=f"{name}:*", count=1000))
    if leftover:
        redis_client.delete(*leftover)


@pytest.fixture
def make_redis_limiter(namespace: str) -> Iterator[Callable[..., RedisRateLimiter]]:
    """Builds RedisRateLimiters on their own connection pools: separate "processes"."""
    clients: list[redis.Redis] = []

    def make(**options: object) -> RedisRateLimiter:
        client = redis.Redis.from_url(REDIS_URL)
        clients.append(client)
        return RedisRateLimiter(client, namespace=namespace, **options)  # type: ignore[arg-type]

    yield make
    for client in clients:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    """Runs a test once per implementation."""
    if request.param == "memory":
        return MemoryRateLimiter()
    return request.getfixturevalue("make_redis_limiter")()


# --- the shared suite ----------------------------------------------------------------------


def test_implements_the_protocol(limiter: RateLimiter) -> None:
    assert isinstance(limiter, RateLimiter)


def test_allows_attempts_then_refuses_with_retry_after(limiter: RateLimiter) -> None:
    for offset in (0, 10, 20):
        limiter.check(WINDOW, "k", now=T0 + offset)
        limiter.hit(WINDOW, "k", now=T0 + offset)
    # The oldest event (T0) leaves the window at T0 + 60.
    assert retry_after(limiter, WINDOW, "k", T0 + 30, hit=True) == 30
    assert retry_after(limiter, WINDOW, "k", T0 + 30, hit=False) == 30
    assert retry_after(limiter, WINDOW, "k", T0 + 30.25, hit=True) == 30  # rounded up
    assert retry_after(limiter, WINDOW, "k", T0 + 59.999, hit=True) == 1  # never 0


def test_the_window_slides_and_refusals_are_not_counted(limiter: RateLimiter) -> None:
    for offset in (0, 10, 20):
        limiter.hit(WINDOW, "k", now=T0 + offset)
    for offset in (30, 40, 50):  # refused, so they must not push the next allowed time back
        retry_after(limiter, WINDOW, "k", T0 + offset, hit=True)
    limiter.hit(WINDOW, "k", now=T0 + 60)  # T0's event aged out, exactly at the edge
    assert retry_after(limiter, WINDOW, "k", T0 + 61, hit=True) == 9  # T0 + 10 ages out at 70
    limiter.hit(WINDOW, "k", now=T0 + 70)
    # Long after everything aged out, a full allowance again.
    for offset in (500, 500, 500):
        limiter.hit(WINDOW, "k", now=T0 + offset)
    assert retry_after(limiter, WINDOW, "k", T0 + 500, hit=True) == 60


def test_reaching_a_lockout_limit_locks_until_it_ends(limiter: RateLimiter) -> None:
    for offset in range(5):
        limiter.hit(LOCKOUT, "alice", now=T0 + offset)  # the fifth reaches the limit and locks
    locked_until = T0 + 4 + 15 * 60
    assert retry_after(limiter, LOCKOUT, "alice", T0 + 5, hit=False) == locked_until - T0 - 5
    assert retry_after(limiter, LOCKOUT, "alice", T0 + 5, hit=True) == locked_until - T0 - 5
    # Refused attempts during the lock do not extend it.
    for offset in range(100, 800, 100):
        retry_after(limiter, LOCKOUT, "alice", T0 + offset, hit=True)
    assert retry_after(limiter, LOCKOUT, "alice", locked_until - 0.5, hit=False) == 1
    # Then the account starts afresh: four more failures are allowed, the fifth locks again.
    limiter.check(LOCKOUT, "alice", now=locked_until)
    for offset in range(5):
        limiter.hit(LOCKOUT, "alice", now=locked_until + offset)
    assert retry_after(limiter, LOCKOUT, "alice", locked_until + 5, hit=False) == 15 * 60 - 1


def test_check_verify_hit_login_flow_locks_the_account(limiter: RateLimiter) -> None:
    """The handler checks before verifying and hits on failure; the lock must still engage."""
    verified = 0
    for attempt in range(20):
        try:
            limiter.check(LOCKOUT, "alice", now=T0 + attempt)
        except RateLimited:
            continue
        verified += 1  # the password would be verified here, and be wrong
        limiter.hit(LOCKOUT, "alice", now=T0 + attempt)
    assert verified == LOCKOUT.attempts


def test_a_limit_without_lockout_never_locks(limiter: RateLimiter) -> None:
    forgot = default_limits()[LimitName.FORGOT_PASSWORD_ACCOUNT]
    assert forgot.lockout is None
    window = forgot.window.total_seconds()
    allowed, waits = [], []
    for step in range(200):  # hammering every minute for over three hours
        now = T0 + 60 * step
        try:
            limiter.hit(forgot, "alice", now=now)
        except RateLimited as refused:
            waits.append(refused.retry_after)
        else:
            allowed.append(now)
    assert max(waits) <= window  # waiting out the window, never a lock
    # Exactly `attempts` per window, however long it goes on.
    assert len(allowed) == forgot.attempts * (200 * 60 // int(window) + 1)
    for index in range(len(allowed) - forgot.attempts):
        assert allowed[index + forgot.attempts] - allowed[index] >= window


def test_reset_clears_counts_and_lockouts(limiter: RateLimiter) -> None:
    for _ in range(3):
        limiter.hit(WINDOW, "k", now=T0)
    for _ in range(5):
        limiter.hit(LOCKOUT, "k", now=T0)
    limiter.reset(WINDOW, "k")
    limiter.reset(LOCKOUT, "k")
    limiter.check(LOCKOUT, "k", now=T0 + 1)
    for _ in range(3):
        limiter.hit(WINDOW, "k", now=T0 + 1)
    limiter.reset(WINDOW, "never-seen")  # resetting an unknown key is harmless


def test_keys_and_limits_are_independent(limiter: RateLimiter) -> None:
    same_name_elsewhere = Limit("test:other", attempts=3, window=timedelta(seconds=60))
    for _ in range(3):
        limiter.hit(WINDOW, "a", now=T0)
    retry_after(limiter, WINDOW, "a", T0, hit=True)
    for _ in range(3):
        limiter.hit(WINDOW, "b", now=T0)
        limiter.hit(same_name_elsewhere, "a", now=T0)
    for _ in range(5):
        limiter.hit(LOCKOUT, "a", now=T0)
    retry_after(limiter, LOCKOUT, "a", T0, hit=False)
    limiter.check(LOCKOUT, "b", now=T0)
    limiter.reset(WINDOW, "a")
    retry_after(limiter, WINDOW, "b", T0, hit=True)
    retry_after(limiter, LOCKOUT, "a", T0, hit=False)


def test_real_clock_without_now(limiter: RateLimiter) -> None:
    """Production omits ``now``: memory uses a monotonic clock, Redis its server clock."""
    limit = Limit("test:clock", attempts=2, window=timedelta(minutes=10))
    limiter.hit(limit, "k")
    limiter.hit(limit, "k")
    with pytest.raises(RateLimited) as refused:
        limiter.check(limit, "k")
    assert 590 <= refused.value.retry_after <= 600


@pytest.mark.parametrize("limit", [WINDOW, LOCKOUT], ids=["window", "lockout"])
def test_concurrent_hits_allow_exactly_attempts(limiter: RateLimiter, limit: Limit) -> None:
    # Switching threads every microsecond makes a missing lock show (it does without one).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _hammer(limiter, limit)
    finally:
        sys.setswitchinterval(interval)


def _hammer(limiter: RateLimiter, limit: Limit) -> None:
    """8 threads x 300 hits over 10 keys (so new keys race too): exactly 100 per key succeed."""
    many = Limit(limit.name, attempts=100, window=limit.window, lockout=limit.lockout)
    keys = [f"shared-{index}" for index in range(10)]
    allowed: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for round_ in range(30):
            for key in keys:
                try:
                    limiter.hit(many, key, now=T0 + round_)
                except RateLimited:
                    refused.append(key)
                else:
                    allowed.append(key)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == sorted(keys * many.attempts)
    assert len(refused) == 8 * 30 * len(keys) - len(keys) * many.attempts


def test_rate_limited_is_a_safe_429(limiter: RateLimiter) -> None:
    for _ in range(3):
        limiter.hit(WINDOW, "alice@example.com", now=T0)
    with pytest.raises(RateLimited) as refused:
        limiter.hit(WINDOW, "alice@example.com", now=T0)
    error = refused.value
    assert isinstance(error, AnalyticsError)
    assert error.status == 429
    assert isinstance(error.retry_after, int)
    assert error.retry_after == 60
    assert "alice" not in error.message
    assert WINDOW.name not in error.message
    assert error.limit == WINDOW.name


# --- memory only ---------------------------------------------------------------------------


def test_memory_limiter_stays_bounded() -> None:
    limiter = MemoryRateLimiter(max_keys=1000)
    for index in range(5000):
        limiter.hit(WINDOW, f"203.0.113.{index}", now=T0)
    assert len(limiter) == 1000
    # The most recent keys are the ones kept, and still limited.
    for _ in range(2):
        limiter.hit(WINDOW, "203.0.113.4999", now=T0)
    retry_after(limiter, WINDOW, "203.0.113.4999", T0, hit=True)


def test_memory_limiter_drops_expired_keys() -> None:
    limiter = MemoryRateLimiter()
    for index in range(100):
        limiter.hit(WINDOW, f"k{index}", now=T0)
        limiter.hit(LOCKOUT, f"k{index}", now=T0)
    assert len(limiter) == 200
    limiter.hit(WINDOW, "late", now=T0 + 61)  # WINDOW entries expired, lockout ones not yet
    assert len(limiter) == 101
    limiter.hit(WINDOW, "later", now=T0 + 15 * 60)  # now the lockout entries expired too
    assert len(limiter) == 1
    # A check of a key that aged out forgets it rather than keeping an empty entry.
    limiter.check(WINDOW, "later", now=T0 + 16 * 60)
    assert len(limiter) == 0


def test_memory_limiter_uses_its_clock() -> None:
    clock = [T0]
    limiter = MemoryRateLimiter(clock=lambda: clock[0])
    for _ in range(3):
        limiter.hit(WINDOW, "k")
    with pytest.raises(RateLimited):
        limiter.hit(WINDOW, "k")
    clock[0] += 60
    limiter.hit(WINDOW, "k")


# --- Redis only ----------------------------------------------------------------------------


def test_two_processes_share_counts(make_redis_limiter: Callable[..., RedisRateLimiter]) -> None:
    first, second = make_redis_limiter(), make_redis_limiter()
    first.hit(WINDOW, "k", now=T0)
    second.hit(WINDOW, "k", now=T0 + 1)
    first.hit(WINDOW, "k", now=T0 + 2)
    assert retry_after(second, WINDOW, "k", T0 + 3, hit=True) == 57
    for offset in range(5):
        (first if offset % 2 else second).hit(LOCKOUT, "alice", now=T0 + offset)
    retry_after(first, LOCKOUT, "alice", T0 + 5, hit=False)
    second.reset(LOCKOUT, "alice")
    first.check(LOCKOUT, "alice", now=T0 + 5)


def test_redis_keys_never_contain_the_raw_key(
    make_redis_limiter: Callable[..., RedisRateLimiter],
    redis_client: redis.Redis,
    namespace: str,
) -> None:
    raw_keys = ["alice@example.com", "203.0.113.7", "2001:db8::/64"]
    for limiter in (make_redis_limiter(), make_redis_limiter(key_secret=b"s" * 32)):
        for key in raw_keys:
            limiter.hit(WINDOW, key, now=T0)
            for _ in range(5):
                limiter.hit(LOCKOUT, key, now=T0)
    names = [name.decode() for name in redis_client.scan_iter(match=f"{namespace}:*")]
    assert len(names) == 2 * 2 * len(raw_keys)  # two limits, two digests (plain and keyed)
    pattern = re.compile(rf"{re.escape(namespace)}:test:(window|lockout):[0-9a-f]{{64}}")
    for name in names:
        assert pattern.fullmatch(name), name
        stored = b" ".join(redis_client.zrange(name, 0, -1))
        for key in raw_keys:
            assert key not in name
            assert key.encode() not in stored
        # Nothing lingers: every key expires within its window or lockout.
        assert 0 < redis_client.pttl(name) <= 15 * 60 * 1000


def test_redis_key_secret_changes_the_digest(
    make_redis_limiter: Callable[..., RedisRateLimiter],
) -> None:
    plain, keyed = make_redis_limiter(), make_redis_limiter(key_secret=b"s" * 32)
    assert plain.redis_key(WINDOW, "alice") != keyed.redis_key(WINDOW, "alice")
    assert plain.redis_key(WINDOW, "alice") == make_redis_limiter().redis_key(WINDOW, "alice")


def test_redis_down_falls_back_to_per_process_limits(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(CLOSED_PORT_URL)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="analytics_ext.auth.rate_limits"):
        for offset in (0, 10, 20):
            limiter.hit(WINDOW, "k", now=T0 + offset)
        assert retry_after(limiter, WINDOW, "k", T0 + 30, hit=True) == 30
        for _ in range(5):
            limiter.hit(LOCKOUT, "alice", now=T0)
        retry_after(limiter, LOCKOUT, "alice", T0 + 1, hit=False)
        limiter.reset(LOCKOUT, "alice")  # best effort, no error
        limiter.check(LOCKOUT, "alice", now=T0 + 1)
    # Failing fast: no 5-second timeouts or retries with backoff on every request.
    assert time.monotonic() - started < 2
    warnings = [record for record in caplog.records if "Redis is unavailable" in record.message]
    assert len(warnings) == 1


def test_redis_down_fails_closed_when_asked() -> None:
    limiter = RedisRateLimiter(CLOSED_PORT_URL, on_unavailable="closed", retry_interval=0)
    for operation in (limiter.hit, limiter.check):
        with pytest.raises(Unavailable) as down:
            operation(WINDOW, "k", now=T0)
        assert down.value.status == 503
    limiter.reset(WINDOW, "k")  # a reset follows a success; it never turns it into a 503


def test_redis_errors_fall_back_then_recover(
    redis_client: redis.Redis, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Denied access (a real Redis error, made with a real ACL user) degrades to local limits;
    when access returns, the shared counts are used again."""
    user, password = f"rl-test-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    redis_client.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=[f"{namespace}:*"], commands=["+@all"]
    )
    try:
        client = redis.Redis.from_url(REDIS_URL, username=user, password=password)
        limiter = RedisRateLimiter(client, namespace=namespace, retry_interval=0)
        shared = RedisRateLimiter(redis_client, namespace=namespace)
        limiter.hit(WINDOW, "k", now=T0)
        redis_client.acl_setuser(user, enabled=True, reset_keys=True)  # no key may be touched
        with caplog.at_level(logging.INFO, logger="analytics_ext.auth.rate_limits"):
            for _ in range(3):
                limiter.hit(WINDOW, "k", now=T0)  # counted locally only
            retry_after(limiter, WINDOW, "k", T0, hit=True)
            redis_client.acl_setuser(user, enabled=True, keys=[f"{namespace}:*"])
            limiter.hit(WINDOW, "other", now=T0)  # Redis again: not refused by local counts
        shared.hit(WINDOW, "k", now=T0)  # the one shared event before the outage, plus this
        shared.hit(WINDOW, "k", now=T0)
        retry_after(limiter, WINDOW, "k", T0, hit=True)
        messages = [record.message for record in caplog.records]
        assert any("Redis is unavailable" in message for message in messages)
        assert any("Redis is back" in message for message in messages)
        client.close()
    finally:
        redis_client.acl_deluser(user)


# Both implementations must give the same answer to every operation, whatever the sequence.
_operations = st.lists(
    st.tuples(
        st.sampled_from(["hit", "check", "reset"]),
        st.sampled_from(["a", "b"]),
        st.sampled_from([WINDOW, LOCKOUT]),
        st.integers(min_value=0, max_value=400_000),  # milliseconds to advance
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=_operations)
def test_memory_and_redis_agree(
    make_redis_limiter: Callable[..., RedisRateLimiter],
    redis_client: redis.Redis,
    namespace: str,
    operations: list[tuple[str, str, Limit, int]],
) -> None:
    memory, shared = MemoryRateLimiter(), make_redis_limiter()
    now = T0
    try:
        for operation, key, limit, advance in operations:
            now += advance / 1000
            outcomes = []
            for limiter in (memory, shared):
                try:
                    getattr(limiter, operation)(
                        limit, key, **({} if operation == "reset" else {"now": now})
                    )
                except RateLimited as refused:
                    outcomes.append(refused.retry_after)
                else:
                    outcomes.append(None)
            assert outcomes[0] == outcomes[1], (operation, key, limit.name, now)
    finally:
        for name in redis_client.scan_iter(match=f"{namespace}:*"):
            redis_client.delete(name)


# --- limits and keys -----------------------------------------------------------------------


def test_default_limits() -> None:
    limits = default_limits()
    assert set(limits) == {name.value for name in LimitName}
    assert all(limits[name].name == name for name in limits)
    failed_login = limits[LimitName.LOGIN_FAILURE_ACCOUNT]
    assert failed_login.lockout is not None
    assert [name for name, limit in limits.items() if limit.lockout] == [failed_login.name]
    assert limits[LimitName.FORGOT_PASSWORD_ACCOUNT].lockout is None
    limits.pop(LimitName.LOGIN_ADDRESS)
    assert LimitName.LOGIN_ADDRESS in default_limits()  # a fresh dict every call


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "Login Address"},
        {"name": ""},
        {"attempts": 0},
        {"window": timedelta(0)},
        {"lockout": timedelta(seconds=-1)},
    ],
)
def test_limit_rejects_nonsense(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "ok", "attempts": 1, "window": timedelta(seconds=1)}
    with pytest.raises(ValueError):
        Limit(**(fields | bad))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_address_key(address: str, key: str) -> None:
    assert address_key(address) == key


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert RateLimited("x", 0.001).retry_after == 1
    assert RateLimited("x", 0).retry_after == 1
    assert RateLimited("x", 29.000001).retry_after == 30
    assert RateLimited("x", 30).retry_after == 30

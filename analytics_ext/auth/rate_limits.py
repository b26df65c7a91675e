"""Rate limits and lockouts for the public auth routes (login, forgot/reset password, verification,
API-key creation).

Algorithm: an exact *sliding-window log*. Each (limit, key) remembers the times of its last
``attempts`` counted events; an event is allowed while fewer than ``attempts`` happened in the last
``window``. The limits here are small (tens of events), so the log costs a few numbers per key and,
unlike fixed windows, never lets ``2 * attempts`` through around a window edge, and its
``retry_after`` is exact: the moment the oldest event ages out.

Rules shared by both implementations (one test suite runs against both):

- A refused event is not counted. So ``retry_after`` tells the truth (retrying then succeeds unless
  something else happened), and memory per key stays at ``attempts`` entries.
- A limit with ``lockout`` locks its key when the key *reaches* ``attempts`` events: the event that
  reaches it is allowed, and from then on ``check`` and ``hit`` refuse until the lockout ends, when
  the key starts afresh. Locking on reaching (not on the first refused event) is what makes the
  login flow "``check`` the account, verify the password, ``hit`` on failure" lock the account: the
  refused attempt never gets as far as a ``hit``.
- ``check`` refuses exactly when the next ``hit`` would; it never counts.
- Keys are hashed before they are stored, so memory per key is bounded whatever the caller sends,
  and Redis key names never contain an email address or a client address.

Callers should normalise keys first (``address_key`` for client addresses; case-fold account names)
and count per submitted account name whether or not the account exists, so that a 429 tells an
enumerator nothing.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

from analytics_ext.errors import AnalyticsError, Unavailable

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "Limit",
    "LimitName",
    "MemoryRateLimiter",
    "RateLimited",
    "RateLimiter",
    "RedisRateLimiter",
    "address_key",
    "default_limits",
]

_NAME_PATTERN: Final = re.compile(r"[a-z0-9_.:-]+")


class RateLimited(AnalyticsError):
    """Too many attempts; the handler answers 429 with ``Retry-After: <retry_after>``.

    The message names neither the limit nor the key: whether an account or an address tripped it
    is of use to an attacker probing accounts, not to the person retrying.
    """

    status = 429

    def __init__(self, limit: str, retry_after: float) -> None:
        # Whole seconds, rounded up (retrying early would be refused again), and at least 1
        # because "Retry-After: 0" invites an immediate retry loop.
        self.retry_after: int = max(1, math.ceil(retry_after))
        self.limit = limit
        super().__init__(f"too many attempts; try again in {self.retry_after} seconds")


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` events per sliding ``window``; with ``lockout``, reaching the limit
    locks the key for that long (failed logins per account)."""

    name: str
    attempts: int
    window: timedelta
    lockout: timedelta | None = None

    def __post_init__(self) -> None:
        # Misconfigured limits fail at start-up, not on the first login.
        if not _NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"limit name {self.name!r} must match {_NAME_PATTERN.pattern}")
        if self.attempts < 1:
            raise ValueError(f"limit {self.name}: attempts must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError(f"limit {self.name}: window must be positive")
        if self.lockout is not None and self.lockout <= timedelta(0):
            raise ValueError(f"limit {self.name}: lockout must be positive (or None)")


@runtime_checkable
class RateLimiter(Protocol):
    """What the auth handlers use; ``MemoryRateLimiter`` and ``RedisRateLimiter`` implement it.

    ``now`` (seconds) exists so tests can move time without sleeping; production code omits it.
    ``blocking`` says whether a call does network I/O (and so must not run on the event loop).
    """

    blocking: bool

    def hit(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        """Count one event for ``key``; raise ``RateLimited`` (not counting it) when over."""
        ...

    def check(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        """Raise ``RateLimited`` if a ``hit`` now would be refused; count nothing."""
        ...

    def reset(self, limit: Limit, key: str) -> None:
        """Forget ``key``'s events and any lockout (a successful login, an admin unlock)."""
        ...


class LimitName(StrEnum):
    """Names of the default limits: stable, so they can become config keys."""

    LOGIN_ADDRESS = "login:address"
    """Every login attempt from one client address (hit before verifying the password)."""
    LOGIN_FAILURE_ACCOUNT = "login_failure:account"
    """Failed logins for one account name; reaching it locks the account."""
    FORGOT_PASSWORD_ACCOUNT = "forgot_password:account"  # noqa: S105 -- a limit name
    """Reset mails to one account: stops mail-bombing a person; never locks the account."""
    FORGOT_PASSWORD_ADDRESS = "forgot_password:address"  # noqa: S105 -- a limit name
    """Forgot-password requests from one client address (spraying many accounts)."""
    RESET_PASSWORD_ADDRESS = "reset_password:address"  # noqa: S105 -- a limit name
    """Reset-token submissions from one address: tokens are unguessable, but each costs argon2."""
    VERIFY_EMAIL_ACCOUNT = "verify_email:account"
    """Verification mails (re)sent to one account."""
    VERIFY_EMAIL_ADDRESS = "verify_email:address"
    """Verification-token submissions from one client address."""
    API_KEY_CREATE_USER = "api_key_create:user"
    """API keys created by one user (a stolen session minting keys in bulk)."""
    REGISTER_ADDRESS = "register:address"
    """Sign-up attempts from one client address (bulk accounts, probing taken names)."""


def default_limits() -> dict[str, Limit]:
    """The default limits by name; a fresh dict each call, so config may override entries.

    Failed logins: 5 per 15 minutes, then a 15-minute lock. Online guessing is held to about 480
    passwords a day per account, while a person who mistypes a few times is never locked; the lock
    is short because anyone can trigger it against anyone (a lockout is also a denial of service).
    Forgot-password never locks: its limit only caps how much mail one account can be sent.
    """
    minute = timedelta(minutes=1)
    hour = timedelta(hours=1)
    limits = [
        Limit(LimitName.LOGIN_ADDRESS, 20, 5 * minute),
        Limit(LimitName.LOGIN_FAILURE_ACCOUNT, 5, 15 * minute, lockout=15 * minute),
        Limit(LimitName.FORGOT_PASSWORD_ACCOUNT, 3, hour),
        Limit(LimitName.FORGOT_PASSWORD_ADDRESS, 10, hour),
        Limit(LimitName.RESET_PASSWORD_ADDRESS, 10, 15 * minute),
        Limit(LimitName.VERIFY_EMAIL_ACCOUNT, 5, hour),
        Limit(LimitName.VERIFY_EMAIL_ADDRESS, 20, 15 * minute),
        Limit(LimitName.API_KEY_CREATE_USER, 10, hour),
        Limit(LimitName.REGISTER_ADDRESS, 10, hour),
    ]
    return {str(limit.name): limit for limit in limits}


def address_key(address: str) -> str:
    """The rate-limit key for a client address.

    An IPv6 client usually controls a whole /64 (one home or cloud VM gets 2**64 addresses), so
    limiting single IPv6 addresses would limit nothing; they are grouped by /64. IPv4-mapped IPv6
    addresses count as the IPv4 address. Anything unparsable (a Unix socket) is used as is.
    """
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


_MICROS: Final = 1_000_000


def _micros(delta: timedelta | None) -> int:
    """Durations and times are integer microseconds in both implementations, so they agree
    exactly (float seconds would disagree with Redis at window edges and when rounding up)."""
    return 0 if delta is None else round(delta.total_seconds() * _MICROS)


class _Entry:
    """One key's state: the sorted times of its counted events, or the end of its lockout."""

    __slots__ = ("events", "expires", "locked_until")

    def __init__(self) -> None:
        self.events: list[int] = []
        self.locked_until: int | None = None
        self.expires = 0  # when nothing of this entry matters any more

    def wait(self, limit: Limit, now: int, count: bool) -> int:
        """Microseconds until an event would be allowed (0: allowed, and counted when ``count``).

        The same steps as the Redis script below."""
        if self.locked_until is not None:
            if self.locked_until > now:
                return self.locked_until - now
            self.locked_until = None
        window = _micros(limit.window)
        events = self.events
        del events[: bisect.bisect_right(events, now - window)]  # aged out: time <= now - window
        if len(events) >= limit.attempts:
            return events[0] + window - now
        if not count:
            return 0
        if limit.lockout is not None and len(events) + 1 >= limit.attempts:
            events.clear()
            self.locked_until = self.expires = now + _micros(limit.lockout)
            return 0
        bisect.insort(events, now)
        self.expires = events[-1] + window
        return 0

    def empty(self) -> bool:
        return not self.events and self.locked_until is None


_SWEEP_INTERVAL: Final = 60 * _MICROS


class MemoryRateLimiter:
    """Limits for one process: the default without Redis, and ``RedisRateLimiter``'s fallback.

    A call is a dict update under a lock (microseconds): safe to make on the event loop.

    Thread-safe (services run in a thread pool) behind one lock; each operation touches one key
    and at most ``attempts`` numbers, so the lock is never held long. Memory is bounded: entries
    are kept in least-recently-used order; when a key is added, expired entries at the old end are
    dropped, all expired entries at most once a minute, and then the least recently used while
    more than ``max_keys`` remain. An entry costs about half a kilobyte (100,000 keys ≈ 50 MB).

    The cap is a trade-off: someone spraying more than ``max_keys`` distinct keys between two of
    an account's failed logins evicts that account's counter. Per-address limits make that costly;
    a deployment that must resist it runs several processes on Redis anyway.
    """

    blocking = False

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        # Monotonic by default: a wall-clock step (NTP, DST bugs) must not unlock accounts early
        # or lock them for hours.
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._next_sweep = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are tracked (for tests and metrics)."""
        with self._lock:
            return len(self._entries)

    def hit(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        self._apply(limit, key, now, count=True)

    def check(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        self._apply(limit, key, now, count=False)

    def reset(self, limit: Limit, key: str) -> None:
        with self._lock:
            self._entries.pop(self._slot(limit, key), None)

    @staticmethod
    def _slot(limit: Limit, key: str) -> bytes:
        # A 32-byte digest instead of the caller's string: an attacker-chosen 1 MB "email" must
        # not cost 1 MB per tracked key. Limit names cannot contain NUL, so no two pairs collide.
        return hashlib.sha256(f"{limit.name}\0{key}".encode()).digest()

    def _apply(self, limit: Limit, key: str, now: float | None, *, count: bool) -> None:
        slot = self._slot(limit, key)
        with self._lock:
            at = round((self._clock() if now is None else now) * _MICROS)
            entry = self._entries.get(slot)
            if entry is None:
                if not count:
                    return
                entry = self._add(slot, at)
            else:
                self._entries.move_to_end(slot)
            wait = entry.wait(limit, at, count)
            if entry.empty():
                del self._entries[slot]
        if wait > 0:
            raise RateLimited(limit.name, wait / _MICROS)

    def _add(self, slot: bytes, now: int) -> _Entry:
        entries = self._entries
        if now >= self._next_sweep:
            # Limits with different windows interleave in LRU order, so an expired entry can sit
            # behind a live one; a full pass (a scan of about 20 ms per 100,000 keys) catches those.
            self._next_sweep = now + _SWEEP_INTERVAL
            for expired in [name for name, entry in entries.items() if entry.expires <= now]:
                del entries[expired]
        else:
            # Amortised O(1): each entry is dropped at most once.
            while entries:
                oldest = next(iter(entries.values()))
                if oldest.expires > now:
                    break
                entries.popitem(last=False)
        while len(entries) >= self._max_keys:
            entries.popitem(last=False)
        entry = entries[slot] = _Entry()
        return entry


# One sorted set per (limit, key), so the script touches a single key (cluster-safe) and one TTL
# removes everything. Members are random ids scored by event time, or the member "lock" scored by
# when the lockout ends. Times are integer microseconds: exact in Lua's doubles, and passed to
# redis.call as numbers (never via tostring, which keeps only 14 digits).
# ARGV: now ("" = the Redis server's clock), attempts, window, lockout (0 = none), count (1/0),
# member id. Returns 0 when allowed, else microseconds until it would be.
_SCRIPT: Final = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local attempts = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local lockout = tonumber(ARGV[4])

local locked_until = redis.call('ZSCORE', key, 'lock')
if locked_until then
  locked_until = tonumber(locked_until)
  if locked_until > now then
    return locked_until - now
  end
  redis.call('ZREM', key, 'lock')
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= attempts then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
if ARGV[5] ~= '1' then
  return 0
end
if lockout > 0 and count + 1 >= attempts then
  redis.call('DEL', key)
  redis.call('ZADD', key, now + lockout, 'lock')
  redis.call('PEXPIRE', key, math.ceil(lockout / 1000))
  return 0
end
redis.call('ZADD', key, now, ARGV[6])
redis.call('PEXPIRE', key, math.ceil(window / 1000))
return 0
"""


class RedisRateLimiter:
    """Limits shared by every server process using one Redis (network I/O: ``blocking``).

    Each operation is one Lua script run (atomic; one round trip). Without an explicit ``now`` the
    script reads the Redis server's clock, so processes on hosts with skewed clocks still agree.
    Keys are ``<namespace>:<limit name>:<hex digest of key>``; the digest is SHA-256, or
    HMAC-SHA-256 with ``key_secret`` (recommended: a plain hash of an IPv4 address or a known email
    is reversed by trying candidates). Every key has a TTL of its window or lockout, so nothing
    lingers.

    When Redis fails (unreachable, timeout, any Redis error), the default ``on_unavailable="local"``
    falls back to a per-process ``MemoryRateLimiter`` and logs a warning: fail-open would switch off
    brute-force protection whenever Redis is down (or made to be), and fail-closed would turn a
    Redis outage into nobody being able to log in or reset a password. Per-process limits keep both,
    at worst multiplied by the number of processes (the same as running without Redis).
    ``on_unavailable="closed"`` raises ``Unavailable`` (503) instead, for deployments that prefer
    refusing logins to weaker limits. After a failure Redis is not tried again for
    ``retry_interval`` seconds, so an outage does not add a timeout to every request.
    """

    blocking = True

    def __init__(
        self,
        client: Redis | str,
        *,
        namespace: str = "analytics_ext:rl",
        key_secret: bytes | None = None,
        on_unavailable: Literal["local", "closed"] = "local",
        retry_interval: float = 5.0,
        log: logging.Logger | None = None,
    ) -> None:
        # Imported here: Redis is an optional extra, and this module is imported without it.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if on_unavailable not in ("local", "closed"):
            raise ValueError("on_unavailable must be 'local' or 'closed'")
        if isinstance(client, str):
            # redis-py's defaults (5 s timeouts, three retries with backoff) would hold a login
            # request for seconds when Redis is down; one immediate retry still covers a pooled
            # connection that Redis closed.
            client = redis.Redis.from_url(
                client,
                socket_connect_timeout=1.0,
                socket_timeout=1.0,
                retry=Retry(NoBackoff(), 1),
            )
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._namespace = namespace
        self._key_secret = key_secret
        self._closed = on_unavailable == "closed"
        self._local = MemoryRateLimiter()
        self._retry_interval = retry_interval
        self._down_until: float | None = None
        self._log = log or logging.getLogger(__name__)

    def hit(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        self._apply(limit, key, now, count=True)

    def check(self, limit: Limit, key: str, *, now: float | None = None) -> None:
        self._apply(limit, key, now, count=False)

    def reset(self, limit: Limit, key: str) -> None:
        """Best effort even in closed mode: it follows a success (a login), which should not turn
        into a 503; a counter that could not be cleared expires with its TTL."""
        self._local.reset(limit, key)
        if self._redis_down():
            return
        try:
            self._client.delete(self.redis_key(limit, key))
        except self._errors as error:
            self._went_down(error)
        else:
            self._came_up()

    def redis_key(self, limit: Limit, key: str) -> str:
        """The Redis key holding ``key``'s state for ``limit``."""
        data = key.encode()
        if self._key_secret is None:
            digest = hashlib.sha256(data).hexdigest()
        else:
            digest = hmac.new(self._key_secret, data, hashlib.sha256).hexdigest()
        return f"{self._namespace}:{limit.name}:{digest}"

    def _apply(self, limit: Limit, key: str, now: float | None, *, count: bool) -> None:
        if not self._redis_down():
            args = [
                "" if now is None else round(now * _MICROS),
                limit.attempts,
                _micros(limit.window),
                _micros(limit.lockout),
                1 if count else 0,
                secrets.token_hex(8),
            ]
            try:
                wait = int(self._script(keys=[self.redis_key(limit, key)], args=args))
            except self._errors as error:
                self._went_down(error)
            else:
                self._came_up()
                if wait > 0:
                    raise RateLimited(limit.name, wait / _MICROS)
                return
        if self._closed:
            raise Unavailable("rate limiting is unavailable; try again later")
        if count:
            self._local.hit(limit, key, now=now)
        else:
            self._local.check(limit, key, now=now)

    def _redis_down(self) -> bool:
        down_until = self._down_until
        return down_until is not None and time.monotonic() < down_until

    def _went_down(self, error: Exception) -> None:
        if self._down_until is None:
            self._log.warning(
                "Redis is unavailable for rate limiting (%s); %s",
                error,
                "refusing rate-limited requests"
                if self._closed
                else "limiting per process until it is back",
            )
        self._down_until = time.monotonic() + self._retry_interval

    def _came_up(self) -> None:
        if self._down_until is not None:
            self._down_until = None
            self._log.info("Redis is back; rate limits are shared between processes again")


class AsyncLimits:
    """A limiter for coroutines: calls go off the event loop only when they do I/O (Redis);
    an in-memory limiter answers in microseconds, where a thread hop would cost more."""

    def __init__(self, limiter: RateLimiter, run: Callable[..., Awaitable[Any]]) -> None:
        self._limiter = limiter
        self._run = run

    async def _call(self, method: Callable[..., None], *args: Any) -> None:
        if getattr(self._limiter, "blocking", True):
            await self._run(method, *args)
        else:
            method(*args)

    async def hit(self, limit: Limit, key: str) -> None:
        await self._call(self._limiter.hit, limit, key)

    async def check(self, limit: Limit, key: str) -> None:
        await self._call(self._limiter.check, limit, key)

    async def reset(self, limit: Limit, key: str) -> None:
        await self._call(self._limiter.reset, limit, key)

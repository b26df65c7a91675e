"""The in-memory view of revoked sessions and user flags that every authenticated request consults.

Access tokens are JWTs that verify without the store, but a revoked session, a disabled account
or a password change must end access at once (issue 3, item 5). A store query per request would
cost more than the JWT saves, so each server process keeps this view and answers with a set and a
dict lookup. It is kept fresh three ways:

1. **Local invalidation**: every service of this process that revokes a session or changes a user
   calls :meth:`RevocationView.sessions_revoked` / :meth:`RevocationView.user_changed` after its
   transaction commits, so this process refuses the session immediately.
2. **Polling** (:meth:`run_forever`, every ``poll_interval``, 0.5 s by default): sessions with
   ``revoked_at`` and users with ``updated_at`` after the previous poll, so another process sharing
   the store is seen within about a second. Each poll looks back ``overlap`` (5 s) further than the
   previous one, because ``revoked_at`` is stamped with the writer's clock before its commit: a
   slow commit or a skewed clock up to ``overlap`` is still caught. Re-reading a few seconds costs
   an index range scan and the updates are idempotent.
3. **Redis pub/sub** (optional, ``redis_url``): after a local invalidation the process publishes
   on ``analytics_ext:revocations``; every subscriber then polls at once instead of at its next
   tick. The message carries only ids and is treated as a hint, never as data: a forged message can
   make a process poll early, not revoke or restore anything.

Revoked sessions are remembered only while one of their access tokens could still verify
(``retention``, default the access lifetime plus leeway plus a margin): after that the JWT's own
``exp`` refuses them, so the set stays small however long the server runs.

Two limits the callers must know:

- A deleted user row is not seen by polling (there is nothing left to poll). Services that delete
  users must call :meth:`user_changed` (which then caches "missing") and revoke the user's sessions
  in the same transaction; on other processes the tokens of a deleted user stop working within the
  poll interval only if the user was first disabled (which bumps ``updated_at``). See the report of
  the deletion service.
- Writes to ``users`` must go through the ORM or a Core ``update()`` so that ``updated_at`` moves
  (its ``onupdate``); a raw SQL ``UPDATE`` is invisible to the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select

from ..schemas.auth import Principal
from ..store import Database
from ..store.models import AuthSession, User
from ..store.types import utcnow

CHANNEL: Final = "analytics_ext:revocations"
"""The Redis channel on which processes announce revocations and user changes."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserFlags:
    """What ``authenticate`` needs of a user, cached per process."""

    user_id: str
    username: str
    display_name: str
    is_admin: bool
    notebook_role: bool
    disabled: bool
    email_unverified: bool
    password_changed_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> UserFlags:
        return cls(
            user_id=row.id,
            username=row.username,
            display_name=row.display_name,
            is_admin=bool(row.is_admin or row.is_owner),
            notebook_role=bool(row.notebook_role),
            disabled=row.disabled_at is not None,
            email_unverified=row.email is not None and row.email_verified_at is None,
            password_changed_at=row.password_changed_at,
            updated_at=row.updated_at,
        )


_USER_COLUMNS = (
    User.id,
    User.username,
    User.display_name,
    User.is_admin,
    User.is_owner,
    User.notebook_role,
    User.disabled_at,
    User.email,
    User.email_verified_at,
    User.password_changed_at,
    User.updated_at,
)

_MISSING: Final = object()
"""Cached for a user id the store does not have (deleted), so it is not queried per request."""


class RevocationView:
    """Revoked sessions and user flags of one server process; see the module docstring.

    Thread-safe: services call the invalidation methods from pool threads, the poll runs in a
    thread too, and :meth:`principal` reads from the event loop. Writers take one lock; the reader
    does single dict/set lookups, which are atomic under the GIL.

    Args:
        db: the store.
        poll_interval: seconds between polls of the store.
        retention: how long a revoked session is remembered; must cover the access-token lifetime
            plus its leeway (the default covers 15 minutes + 60 s).
        overlap: how far each poll looks back before the previous one (writer clock skew and
            commit latency tolerated).
        redis_url: publish and subscribe on ``CHANNEL`` when set.
        run: how blocking store work is run from the event loop (default ``asyncio.to_thread``).
    """

    def __init__(
        self,
        db: Database,
        *,
        poll_interval: float = 0.5,
        retention: timedelta = timedelta(minutes=20),
        overlap: timedelta = timedelta(seconds=5),
        redis_url: str | None = None,
        channel: str = CHANNEL,
        run: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._db = db
        self.poll_interval = poll_interval
        self._retention = retention
        self._overlap = overlap
        self._redis_url = redis_url
        self._channel = channel
        self._run = run or asyncio.to_thread
        self._lock = threading.Lock()
        self._loaded = False
        self._revoked: dict[str, datetime] = {}  # session id -> revoked_at
        self._users: dict[str, UserFlags | object] = {}
        self._since: datetime | None = None  # the start of the last poll
        self._publisher: Any = None
        self._subscriber: Any = None
        self._task: asyncio.Task[None] | None = None

    # --- the per-request check ---------------------------------------------------------------

    def principal(self, user_id: str, session_id: str) -> Principal | None:
        """The principal for a verified token's ``sub``/``sid``, or None if it must be refused.

        Refused: a revoked session, a disabled or deleted user. Two lookups in memory; only the
        first call of the process (lazy load) and a user never seen before (created by another
        process within the last poll interval) touch the store.
        """
        if not self._loaded:
            self.load()
        if session_id in self._revoked:
            return None
        flags = self.account(user_id)
        if flags is None:
            return None
        return Principal(
            user_id=flags.user_id,
            session_id=session_id,
            username=flags.username,
            display_name=flags.display_name,
            is_admin=flags.is_admin,
            notebook_role=flags.notebook_role,
            email_unverified=flags.email_unverified,
        )

    @property
    def propagation_seconds(self) -> float:
        """How long other processes may take to learn of a change: at once by Redis pub/sub
        (allowing half a second), else within one poll."""
        return min(self.poll_interval, 0.5) if self._redis_url else self.poll_interval

    def account(self, user_id: str) -> UserFlags | None:
        """The flags of an enabled account, or None if it is disabled or gone (from memory)."""
        if not self._loaded:
            self.load()
        flags = self._users.get(user_id)
        if flags is None:
            flags = self._fetch_user(user_id)
        if not isinstance(flags, UserFlags) or flags.disabled:
            return None
        return flags

    def is_revoked(self, session_id: str) -> bool:
        if not self._loaded:
            self.load()
        return session_id in self._revoked

    # --- local invalidation (call after the change has committed) ----------------------------

    def sessions_revoked(self, session_ids: Iterable[str]) -> None:
        """This process revoked ``session_ids``: refuse them now and tell the other processes."""
        ids = list(session_ids)
        if not ids:
            return
        now = utcnow()
        with self._lock:
            for session_id in ids:
                self._revoked.setdefault(session_id, now)
        self._publish({"sessions": ids})

    def user_changed(self, user_id: str) -> None:
        """A user's flags (disabled, admin, role, password) changed: re-read them, tell others.

        Blocking (one store read): call it from a pool thread, as services are.
        """
        self._fetch_user(user_id)
        self._publish({"users": [user_id]})

    # --- loading and polling -----------------------------------------------------------------

    def load(self) -> None:
        """Read recent revocations and every user's flags (blocking; once per process)."""
        with self._lock:
            if self._loaded:
                return
        started = utcnow()
        with self._db.transaction() as tx:
            revoked = tx.execute(
                select(AuthSession.id, AuthSession.revoked_at).where(
                    AuthSession.revoked_at > started - self._retention
                )
            ).all()
            users = tx.execute(select(*_USER_COLUMNS)).all()
        with self._lock:
            if self._loaded:
                return
            for session_id, revoked_at in revoked:
                self._revoked.setdefault(session_id, revoked_at)
            for row in users:
                self._store_flags(UserFlags.from_row(row))
            self._since = started
            self._loaded = True

    def poll(self) -> None:
        """One poll of the store for changes since the previous one (blocking)."""
        if not self._loaded:
            self.load()
            return
        started = utcnow()
        since = (self._since or started) - self._overlap
        with self._db.transaction() as tx:
            revoked = tx.execute(
                select(AuthSession.id, AuthSession.revoked_at).where(AuthSession.revoked_at > since)
            ).all()
            users = tx.execute(select(*_USER_COLUMNS).where(User.updated_at > since)).all()
        with self._lock:
            for session_id, revoked_at in revoked:
                self._revoked.setdefault(session_id, revoked_at)
            for row in users:
                self._store_flags(UserFlags.from_row(row))
            horizon = started - self._retention
            for session_id in [s for s, at in self._revoked.items() if at < horizon]:
                del self._revoked[session_id]
            self._since = started

    async def start(self) -> None:
        """Load, subscribe to Redis (if configured), then poll in the background until stop()."""
        if self._task is not None:
            return
        await self._run(self.load)
        pubsub = await self._subscribe()
        self._task = asyncio.create_task(self.run_forever(pubsub), name="revocation-view")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close()
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            with contextlib.suppress(Exception):
                await subscriber.aclose()

    async def run_forever(self, pubsub: Any = None) -> None:
        """Poll every ``poll_interval``; a Redis message makes the next poll happen at once."""
        if pubsub is None:
            pubsub = await self._subscribe()
        try:
            while True:
                try:
                    await self._run(self.poll)
                except Exception:  # the store is down: keep the last view, try again next tick
                    _log.warning("could not poll the store for revocations", exc_info=True)
                pubsub = await self._wait(pubsub)
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _wait(self, pubsub: Any) -> Any:
        """Sleep one interval, or less when a Redis message arrives; returns the pubsub to keep."""
        if pubsub is None:
            await asyncio.sleep(self.poll_interval)
            return None
        try:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self.poll_interval
            )
            if message is not None:
                # Drain what else arrived: one poll covers them all.
                while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                    pass
            return pubsub
        except Exception:
            _log.warning("lost the Redis revocation channel; polling only", exc_info=True)
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            await asyncio.sleep(self.poll_interval)
            return None

    async def _subscribe(self) -> Any:
        if self._redis_url is None:
            return None
        import redis.asyncio

        try:
            client = redis.asyncio.Redis.from_url(
                self._redis_url, socket_connect_timeout=1.0, socket_timeout=None
            )
            if self._subscriber is not None:
                await self._subscriber.aclose()
            self._subscriber = client
            pubsub = client.pubsub()
            await pubsub.subscribe(self._channel)
            return pubsub
        except Exception:
            _log.warning("cannot subscribe to Redis for revocations; polling only", exc_info=True)
            return None

    # --- internals ---------------------------------------------------------------------------

    def _fetch_user(self, user_id: str) -> UserFlags | object:
        with self._db.transaction() as tx:
            row = tx.execute(select(*_USER_COLUMNS).where(User.id == user_id)).first()
        with self._lock:
            if row is None:
                self._users[user_id] = _MISSING
                return _MISSING
            return self._store_flags(UserFlags.from_row(row))

    def _store_flags(self, flags: UserFlags) -> UserFlags:
        """Keep the newer of the cached and the read flags (a slow poll must not undo a change
        that a later direct read already brought in). Call with the lock held."""
        cached = self._users.get(flags.user_id)
        if isinstance(cached, UserFlags) and cached.updated_at > flags.updated_at:
            return cached
        self._users[flags.user_id] = flags
        return flags

    def _publish(self, message: dict[str, list[str]]) -> None:
        """Tell other processes to poll now; best effort (polling covers a Redis outage)."""
        if self._redis_url is None:
            return
        try:
            if self._publisher is None:
                import redis

                self._publisher = redis.Redis.from_url(
                    self._redis_url, socket_connect_timeout=1.0, socket_timeout=1.0
                )
            self._publisher.publish(self._channel, json.dumps(message))
        except Exception:
            _log.warning("could not publish a revocation to Redis; other processes will poll")

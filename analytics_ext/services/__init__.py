"""Domain services: the rules of the product, free of tornado, one transaction per call."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ..auth.rate_limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from ..store import Database
from .activity import ActivityFeed, ActivityLog
from .api_keys import ApiKeyService
from .avatars import AvatarService
from .settings import SettingsService
from .users import UserService

P = ParamSpec("P")
T = TypeVar("T")

SETTINGS_KEY = "analytics_ext_services"
"""Where the extension leaves its ``Services`` in the tornado settings for handlers to find."""


@dataclass
class Services:
    """Every service of one server, sharing one store and one bounded pool for blocking work."""

    db: Database
    activity: ActivityLog
    activity_feed: ActivityFeed
    limiter: RateLimiter
    users: UserService
    avatars: AvatarService
    api_keys: ApiKeyService
    settings: SettingsService
    executor: ThreadPoolExecutor = field(repr=False)

    @classmethod
    def create(cls, db: Database, *, workers: int, redis_url: str | None = None) -> Services:
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analytics-ext")
        activity = ActivityLog()
        limiter = RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
        return cls(
            db=db,
            activity=activity,
            activity_feed=ActivityFeed(db),
            limiter=limiter,
            users=UserService(db, activity),
            avatars=AvatarService(db, activity),
            api_keys=ApiKeyService(db, activity, limiter),
            settings=SettingsService(db, activity),
            executor=executor,
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking store work off the event loop, in the bounded pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()

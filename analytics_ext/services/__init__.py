"""Domain services: the rules of the product, free of tornado, one transaction per call."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ..auth.passwords import PasswordHasher
from ..auth.rate_limits import (
    LimitName,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    default_limits,
)
from ..auth.tokens import AccessTokenCodec
from ..engine.cache import RedisCache
from ..engine.chart_render import ChartRenderer
from ..engine.connections import ConnectionCache
from ..engine.runs import QueryEngine
from ..store import Database
from .account_recovery import AccountRecovery, RecoverySettings
from .accounts import AccountService
from .activity import ActivityFeed, ActivityLog
from .admin_users import AdminUserService
from .api_keys import ApiKeyService
from .auth import AuthService, AuthSettings
from .avatars import AvatarService
from .chart_data import ChartDataService
from .chart_export import ChartExportService
from .chart_templates import ChartTemplateService
from .charts import ChartService
from .credentials import CredentialCipher
from .dashboard_export import DashboardExportService
from .dashboard_publish import DashboardPublishService
from .dashboard_tiles import DashboardTileService
from .dashboard_versions import DashboardVersions
from .dashboards import DashboardService
from .datasources import DatasourceService, DatasourceSettings
from .demo_datasource import DemoDatasourceService
from .favorites import FavoriteService
from .kernel_tokens import KernelTokenService
from .mail import Mailer
from .ownership import DeletedUserObjects
from .profile import ProfileService
from .queries import QueryService
from .query_export import QueryExportService
from .query_templates import QueryTemplateService
from .revocation import RevocationView
from .saved_queries import SavedQueryService
from .saved_query_versions import SavedQueryVersions
from .schema_inspection import SchemaInspector
from .settings import SettingsService
from .sharing import SharingService
from .signup import SignupService
from .users import UserService

P = ParamSpec("P")
T = TypeVar("T")


async def _run_in(
    executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


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
    hasher: PasswordHasher
    accounts: AccountService
    admin_users: AdminUserService
    profile: ProfileService
    signup: SignupService
    revocations: RevocationView
    auth: AuthService
    mailer: Mailer
    recovery: AccountRecovery
    sharing: SharingService
    connections: ConnectionCache
    datasources: DatasourceService
    demo_datasource: DemoDatasourceService
    queries: QueryService
    kernel_tokens: KernelTokenService
    favorites: FavoriteService
    saved_queries: SavedQueryService
    query_templates: QueryTemplateService
    query_export: QueryExportService
    saved_query_versions: SavedQueryVersions
    chart_data: ChartDataService
    charts: ChartService
    chart_templates: ChartTemplateService
    chart_export: ChartExportService
    dashboards: DashboardService
    dashboard_versions: DashboardVersions
    dashboard_publish: DashboardPublishService
    dashboard_tiles: DashboardTileService
    dashboard_export: DashboardExportService
    executor: ThreadPoolExecutor = field(repr=False)
    _warm_up: asyncio.Task[object] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        db: Database,
        *,
        workers: int,
        codec: AccessTokenCodec,
        mailer: Mailer,
        recovery_settings: RecoverySettings,
        auth_settings: AuthSettings = AuthSettings(),  # noqa: B008 -- frozen, safe to share
        hasher: PasswordHasher | None = None,
        redis_url: str | None = None,
        datasource_settings: DatasourceSettings,
        revocation_poll_interval: float = 0.5,
        query_engine: QueryEngine | None = None,
        deleted_user_objects: DeletedUserObjects = DeletedUserObjects.REASSIGN,
        kernel_token_lifetime: timedelta = timedelta(days=30),
        dashboards_dir: Path | None = None,
        chromium_path: str | None = None,
    ) -> Services:
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analytics-ext")
        activity = ActivityLog()
        limiter = RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
        hasher = hasher or PasswordHasher()
        run = functools.partial(_run_in, executor)
        revocations = RevocationView(
            db, poll_interval=revocation_poll_interval, redis_url=redis_url, run=run
        )
        users = UserService(db, activity)
        settings = SettingsService(db, activity)
        sharing = SharingService(db, activity)
        connections = ConnectionCache(datasource_settings.policy)
        policy, cipher = datasource_settings.policy, CredentialCipher(datasource_settings.key)
        datasources = DatasourceService(
            db, activity, sharing, cipher, policy, connections, SchemaInspector(), settings
        )
        accounts = AccountService(db, activity, hasher, run)
        engine = query_engine or QueryEngine()
        if redis_url:
            engine.cache = RedisCache(redis_url, engine.budget, engine.spill_dir)
        queries = QueryService(db, datasources, engine, executor.submit, settings)
        favorites = FavoriteService(db, activity, sharing)
        saved_queries = SavedQueryService(db, activity, sharing, datasources, queries, favorites)
        chart_data = ChartDataService(db, sharing, datasources, queries, settings)
        charts = ChartService(db, activity, sharing, chart_data, favorites)
        dashboards = DashboardService(
            db,
            activity,
            sharing,
            favorites,
            public_url=recovery_settings.public_url,
            dashboards_dir=dashboards_dir,
        )
        renderer = ChartRenderer(concurrency=2)
        dashboard_tiles = DashboardTileService(db, sharing, saved_queries, chart_data, queries)
        recovery = AccountRecovery(
            db,
            activity,
            mailer,
            hasher,
            limiter,
            recovery_settings,
            run=run,
            revocations=revocations,
        )
        auth = AuthService(
            db, activity, hasher, limiter, codec, revocations, auth_settings, run=run
        )
        return cls(
            db=db,
            activity=activity,
            activity_feed=ActivityFeed(db),
            limiter=limiter,
            users=users,
            avatars=AvatarService(db, activity),
            api_keys=ApiKeyService(db, activity, limiter),
            settings=settings,
            hasher=hasher,
            accounts=accounts,
            admin_users=AdminUserService(
                db,
                activity,
                hasher,
                accounts,
                revocations,
                run=run,
                deleted_objects=deleted_user_objects,
            ),
            profile=ProfileService(
                db, users, hasher, limiter, recovery, mailer, revocations, run=run
            ),
            revocations=revocations,
            auth=auth,
            signup=SignupService(
                accounts,
                recovery,
                auth,
                limiter,
                default_limits()[LimitName.REGISTER_ADDRESS],
                run=run,
            ),
            mailer=mailer,
            recovery=recovery,
            sharing=sharing,
            connections=connections,
            datasources=datasources,
            demo_datasource=DemoDatasourceService(db, activity, users, datasources),
            queries=queries,
            kernel_tokens=KernelTokenService(db, kernel_token_lifetime),
            favorites=favorites,
            saved_queries=saved_queries,
            query_templates=QueryTemplateService(db, activity, sharing, saved_queries),
            query_export=QueryExportService(engine, saved_queries, run),
            saved_query_versions=SavedQueryVersions(db, sharing),
            chart_data=chart_data,
            charts=charts,
            chart_templates=ChartTemplateService(db, activity, sharing, chart_data, charts),
            chart_export=ChartExportService(chart_data, renderer),
            dashboards=dashboards,
            dashboard_versions=DashboardVersions(db, sharing),
            dashboard_publish=DashboardPublishService(
                db, activity, sharing, dashboards, dashboards_dir
            ),
            dashboard_tiles=dashboard_tiles,
            dashboard_export=DashboardExportService(
                dashboard_tiles, renderer, run, chromium_path=chromium_path
            ),
            executor=executor,
        )

    async def start(self, *, warm_up_passwords: bool = False) -> None:
        """Background work that needs the running event loop: revocation polling, and (team
        server) the password worker started now so the first login does not wait seconds."""
        await self.revocations.start()
        if warm_up_passwords:
            self._warm_up = asyncio.create_task(self.hasher.worker_status())

    async def stop(self) -> None:
        """Let queued mail go out, stop polling, then release workers and the store."""
        if self._warm_up is not None:
            await asyncio.gather(self._warm_up, return_exceptions=True)
        await self.recovery.wait_for_deliveries()
        await self.revocations.stop()
        self.close()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking store work off the event loop, in the bounded pool."""
        return await _run_in(self.executor, fn, *args, **kwargs)

    def close(self) -> None:
        self.hasher.close()
        self.queries.close()  # first: a cancelled run records its end through the executor
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.connections.dispose_all()
        self.db.dispose()

"""The Jupyter Server extension: configuration, wiring of store and services, routes.

Everything an admin can set is a trait of ``AnalyticsExtension`` (``c.AnalyticsExtension.*`` in
``jupyter_server_config.py``); ``jupyter analytics --help-all`` lists them all.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jupyter_server.auth.authorizer import AllowAllAuthorizer
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from sqlalchemy.engine import make_url
from traitlets import Bool, Int, Unicode, default, validate

from ._version import __version__
from .auth.authorizer import UNVERIFIED_ACCESS_SETTING, AnalyticsAuthorizer
from .auth.identity import LocalIdentityProvider
from .auth.kernel_env import KernelCredentials
from .auth.passwords import PasswordHasher
from .auth.team_identity import TeamIdentityProvider
from .auth.tokens import AccessTokenCodec
from .dashboards.proxy import PROXY_SETTING
from .dashboards.voila_process import VOILA_SETTING, VoilaSupervisor
from .engine.runs import QueryEngine
from .handlers import ROUTES
from .handlers.base import ALLOW_SIGNUP_SETTING, MAX_BODY_SETTING, MULTI_USER_SETTING
from .options import (
    AccountOptions,
    DashboardOptions,
    DatasourceOptions,
    MailOptions,
    QueryOptions,
)
from .paths import data_dir, default_db_url
from .services import SETTINGS_KEY, Services
from .services.mail import Mailer
from .services.ownership import DeletedUserObjects
from .store import Database, SchemaMismatch, ensure_schema

TOKEN_ISSUER = "analytics_ext"  # noqa: S105 -- a JWT claim value, not a secret
TOKEN_AUDIENCE = "analytics_ext:api"  # noqa: S105 -- a JWT claim value, not a secret


class AnalyticsExtension(
    AccountOptions, MailOptions, DatasourceOptions, QueryOptions, DashboardOptions, ExtensionApp
):
    """Analytics for Jupyter: datasources, queries, charts and dashboards on this server."""

    name = "analytics_ext"
    app_name = "Jupyter Analytics"
    description = __doc__
    version = __version__
    default_url = "/lab"
    load_other_extensions = True

    db_url = Unicode(
        help="""SQLAlchemy URL of the metadata store (users, saved objects, audit log).
        Default: a SQLite file in the Jupyter data dir. Use PostgreSQL for a team server or
        JupyterHub, e.g. postgresql+psycopg://analytics@db/analytics.""",
        config=True,
    )

    @default("db_url")
    def _db_url_default(self) -> str:
        return default_db_url()

    @validate("db_url")
    def _check_db_url(self, proposal: dict) -> str:
        make_url(proposal["value"])  # raises a clear ArgumentError for a malformed URL
        return proposal["value"]

    auto_upgrade_db = Bool(
        True,
        help="""Apply pending store migrations at start. When False, a store at an older schema
        is refused with a message naming `jupyter analytics db upgrade`.""",
        config=True,
    )

    multi_user = Bool(
        False,
        help="""Team-server mode: users log in at /login against the analytics user table
        (browser cookie, JWT access tokens, API keys) and ordinary users are kept to analytics
        resources; kernels, contents and terminals need admin or the `notebook` role. Jupyter's
        token still logs in the owner. When False (the default), whoever Jupyter's own token or
        password admits is the owner and only user.""",
        config=True,
    )

    secrets_dir = Unicode(
        help="""Folder holding generated server secrets (signing and encryption keys), each a
        0600 file created on first use. Default: `secrets` in the analytics data dir.""",
        config=True,
    )

    @default("secrets_dir")
    def _secrets_dir_default(self) -> str:
        return str(data_dir() / "secrets")

    demo_data_dir = Unicode(
        help="Folder where `jupyter analytics demo-data` writes the retail demo databases.",
        config=True,
    )

    @default("demo_data_dir")
    def _demo_data_dir_default(self) -> str:
        return str(data_dir() / "demo")

    max_request_bytes = Int(
        1 << 20,
        help="Largest JSON request body accepted by the REST API, in bytes (larger: 413).",
        config=True,
    )

    worker_threads = Int(
        8,
        help="Threads that run blocking store work off the event loop.",
        config=True,
    )

    redis_url = Unicode(
        "",
        help="""Redis URL (redis://host:6379/0) shared by every server process of a deployment:
        rate limits then hold across processes and revocations reach the other processes at
        once. Empty (the default): limits are per process, and other processes see a revoked
        session within half a second by polling the store.""",
        config=True,
    )

    def _link_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        super()._link_jupyter_server_extension(serverapp)
        server_config = serverapp.config.get("ServerApp", {})
        # Linking happens before the server creates its configurables, so these take effect;
        # an admin's own choice of either class is left alone.
        if (
            "identity_provider_class" not in server_config
            and serverapp.identity_provider_class is PasswordIdentityProvider
        ):
            serverapp.identity_provider_class = (
                TeamIdentityProvider if self.multi_user else LocalIdentityProvider
            )
        if (
            "authorizer_class" not in server_config
            and serverapp.authorizer_class is AllowAllAuthorizer
        ):
            serverapp.authorizer_class = AnalyticsAuthorizer

    def initialize_settings(self) -> None:
        url = make_url(self.db_url)
        self.log.info(
            "analytics_ext %s: store %s", __version__, url.render_as_string(hide_password=True)
        )
        db = Database(url)
        try:
            ensure_schema(db, auto_upgrade=self.auto_upgrade_db)
        except SchemaMismatch as error:
            db.dispose()
            self.log.error("analytics_ext not loaded: %s", error)
            raise
        secrets_dir = Path(self.secrets_dir)
        codec = AccessTokenCodec(
            self.jwt_key(secrets_dir),
            issuer=TOKEN_ISSUER,
            audience=TOKEN_AUDIENCE,
            lifetime=timedelta(seconds=self.access_token_lifetime),
        )
        mailer = Mailer(self.smtp_settings(), Path(self.outbox_dir), log=self.log)
        if not mailer.uses_smtp and self.multi_user:
            self.log.warning(
                "analytics_ext: no SMTP relay configured (AnalyticsExtension.smtp_host); "
                "password-reset and verification mail is written to %s",
                self.outbox_dir,
            )
        if self.multi_user and not self.public_url:
            self.log.warning(
                "analytics_ext: AnalyticsExtension.public_url is not set; links in account "
                "mail point at %s",
                self.serverapp.connection_url,
            )
        self.services = Services.create(
            db,
            workers=self.worker_threads,
            codec=codec,
            mailer=mailer,
            recovery_settings=self.recovery_settings(self.serverapp.connection_url),
            auth_settings=self.auth_settings(),
            hasher=PasswordHasher(),
            redis_url=self.redis_url or None,
            revocation_poll_interval=self.revocation_poll_interval,
            deleted_user_objects=DeletedUserObjects(self.deleted_user_objects),
            datasource_settings=self.datasource_settings(secrets_dir, self.demo_data_dir, url),
            query_engine=QueryEngine(**self.engine_options()),
            kernel_token_lifetime=timedelta(seconds=self.kernel_token_lifetime),
            dashboards_dir=Path(self.dashboards_dir),
            chromium_path=self.chromium_path or None,
        )
        self.kernel_credentials = KernelCredentials(
            self.serverapp.kernel_manager, self.services, self.serverapp.connection_url
        )
        self.kernel_credentials.install()
        self.voila_supervisor: VoilaSupervisor | None = None
        if self.dashboard_viewers:
            self.voila_supervisor = VoilaSupervisor(
                dashboards_dir=Path(self.dashboards_dir),
                base_url=self.serverapp.base_url,
                server_url=self.serverapp.connection_url,
                db_url=self.db_url,
                preheat=self.dashboard_preheat,
                pool_size=self.dashboard_pool_size,
                kernel_lifetime=timedelta(seconds=self.dashboard_kernel_lifetime),
                port=self.voila_port,
                log=self.log,
            )
        if self.demo_datasource:
            self._register_demo_datasource()
        self.settings[SETTINGS_KEY] = self.services
        self.settings[MAX_BODY_SETTING] = self.max_request_bytes
        self.settings[UNVERIFIED_ACCESS_SETTING] = self.unverified_email_access
        self.settings[ALLOW_SIGNUP_SETTING] = self.allow_signup
        self.settings[MULTI_USER_SETTING] = self.multi_user
        self.settings[VOILA_SETTING] = self.voila_supervisor

    def _register_demo_datasource(self) -> None:
        """The owner's ``demo`` datasource (services/demo_datasource.py), before the server
        answers its first request; a failure is logged and never stops the server."""
        owner_username = getattr(self.serverapp.identity_provider, "owner_username", None)
        try:
            self.services.demo_datasource.ensure(owner_username, Path(self.demo_data_dir))
        except Exception:
            self.log.exception("analytics_ext: the demo datasource could not be registered")

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def _start_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        await self.services.start(warm_up_passwords=self.multi_user)
        if self.voila_supervisor is not None and self.voila_supervisor.has_published():
            # Otherwise the first viewer starts it: no idle Voila process on every server.
            self.voila_supervisor.start_in_background()

    async def stop_extension(self) -> None:
        # The proxy is made by the first viewer request, in the web application's settings.
        proxy = self.serverapp.web_app.settings.get(PROXY_SETTING)
        if proxy is not None:
            proxy.close()
        voila = getattr(self, "voila_supervisor", None)
        if voila is not None:
            await voila.stop()
        services = getattr(self, "services", None)
        if services is not None:
            await services.run(self.kernel_credentials.revoke_all)
            await services.stop()


def _subcommands() -> dict:
    from .commands import DbApp, DemoDataApp, UsersApp

    return {
        "db": (DbApp, DbApp.description.splitlines()[0]),
        "demo-data": (DemoDataApp, DemoDataApp.description.splitlines()[0]),
        "users": (UsersApp, UsersApp.description.splitlines()[0]),
    }


AnalyticsExtension.subcommands = _subcommands()
AnalyticsExtension.classes = [
    *ExtensionApp.classes,
    LocalIdentityProvider,
    TeamIdentityProvider,
    AnalyticsAuthorizer,
]

main = launch_new_instance = AnalyticsExtension.launch_instance

if __name__ == "__main__":
    main()

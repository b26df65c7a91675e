"""The team-server and mail settings of ``AnalyticsExtension``, grouped so app.py stays readable.

They are mixed into ``AnalyticsExtension``, so an admin writes ``c.AnalyticsExtension.smtp_host``
like every other setting. Each group turns its traits into the plain settings objects the
services take (no traitlets below this module), failing at start-up on a bad value rather than at
the first password reset.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL
from traitlets import Bool, Enum, Float, Int, List, Unicode, default, validate
from traitlets.config import Configurable

from .auth.secrets import load_or_create_secret
from .auth.tokens import MIN_KEY_BYTES
from .engine.urls import DEFAULT_DIALECTS, DEFAULT_HOST_DENYLIST, UrlPolicy
from .paths import data_dir
from .services.account_recovery import RecoverySettings
from .services.auth import AuthSettings
from .services.credentials import DATASOURCE_KEY_FILE
from .services.credentials import MIN_KEY_BYTES as MIN_DATASOURCE_KEY_BYTES
from .services.datasources import DatasourceSettings
from .services.mail import SmtpSecurity, SmtpSettings
from .services.ownership import DeletedUserObjects

JWT_KEY_FILE = "jwt-signing-key"


class UnverifiedAccess:
    """What an account with an unverified email address may do (``unverified_email_access``)."""

    FULL = "full"
    READ_ONLY = "read_only"
    BLOCKED = "blocked"
    CHOICES = (FULL, READ_ONLY, BLOCKED)


class AccountOptions(Configurable):
    """Logins, tokens and sessions of a team server (``multi_user = True``)."""

    jwt_signing_key = Unicode(
        "",
        help="""Key that signs access tokens (HS256), at least 32 characters. Every server
        process of one deployment needs the same key. Empty (the default): a random key is
        generated once into `secrets_dir`/jwt-signing-key (mode 0600); there is no built-in key.""",
        config=True,
    )

    @validate("jwt_signing_key")
    def _check_jwt_signing_key(self, proposal: dict) -> str:
        value = proposal["value"]
        if value and len(value.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"jwt_signing_key must be at least {MIN_KEY_BYTES} bytes long")
        return value

    access_token_lifetime = Int(
        15 * 60,
        help="""Seconds an access token (JWT) stays valid; clients refresh before it ends.
        Revoking a session stops its tokens at once regardless.""",
        config=True,
    )

    @validate("access_token_lifetime")
    def _check_access_token_lifetime(self, proposal: dict) -> int:
        if not 60 <= proposal["value"] <= 24 * 3600:
            raise ValueError("access_token_lifetime must be between 60 and 86400 seconds")
        return proposal["value"]

    session_lifetime = Int(
        14 * 24 * 3600,
        help="""Seconds a login session lasts, used or not, before the user logs in again
        (browser cookie and refresh tokens alike).""",
        config=True,
    )

    kernel_token_lifetime = Int(
        30 * 24 * 3600,
        help="""Seconds a notebook kernel's token lasts at most (it is revoked when the kernel
        shuts down; this bounds a token left behind by a server that crashed).""",
        config=True,
    )

    @validate("kernel_token_lifetime")
    def _check_kernel_token_lifetime(self, proposal: dict) -> int:
        if proposal["value"] < 3600:
            raise ValueError("kernel_token_lifetime must be at least 3600 seconds")
        return int(proposal["value"])

    @validate("session_lifetime")
    def _check_session_lifetime(self, proposal: dict) -> int:
        if proposal["value"] < 3600:
            raise ValueError("session_lifetime must be at least 3600 seconds")
        return proposal["value"]

    allow_signup = Bool(
        False,
        help="""Team server: anyone who can reach the server may create an account with
        POST /api/auth/register (a verification mail is sent). Off: admins create users.""",
        config=True,
    )

    unverified_email_access = Enum(
        UnverifiedAccess.CHOICES,
        default_value=UnverifiedAccess.READ_ONLY,
        help="""What a self-registered account may do before its email address is verified:
        `full`, `read_only` (the default: it may look but not create or change anything) or
        `blocked` (it cannot log in). Accounts created by an admin count as verified.""",
        config=True,
    )

    public_url = Unicode(
        "",
        help="""The server's public address including its base URL, e.g.
        https://analytics.example.com/; links in password-reset and verification mails point
        here (never at the request's Host header). Empty: the server's own URL, which is right
        only when users reach the server directly.""",
        config=True,
    )

    revocation_poll_interval = Float(
        0.5,
        help="""Seconds between this process's checks of the store for sessions ended and
        accounts changed by other server processes (the bound on how long another process may
        still accept a revoked token). With `redis_url` set, changes arrive at once by pub/sub
        and polling is only the safety net, so it may be raised.""",
        config=True,
    )

    @validate("revocation_poll_interval")
    def _check_revocation_poll_interval(self, proposal: dict) -> float:
        if not 0.05 <= proposal["value"] <= 300:
            raise ValueError("revocation_poll_interval must be between 0.05 and 300 seconds")
        return proposal["value"]

    deleted_user_objects = Enum(
        [member.value for member in DeletedUserObjects],
        default_value=DeletedUserObjects.REASSIGN.value,
        help="""What happens to the datasources (and, later, queries, charts and dashboards) of
        an account an admin deletes: `reassign` (the default) hands them to the admin who
        deletes it (the owner, from the command line); `delete` removes them with their grants.""",
        config=True,
    )

    password_reset_lifetime = Int(
        30 * 60, help="Seconds a password-reset link stays valid (single use).", config=True
    )

    email_verification_lifetime = Int(
        48 * 3600, help="Seconds an email-verification link stays valid (single use).", config=True
    )

    def jwt_key(self, secrets_dir: Path) -> bytes:
        """The configured signing key, or the generated one from ``secrets_dir``."""
        if self.jwt_signing_key:
            return self.jwt_signing_key.encode()
        return load_or_create_secret(secrets_dir, JWT_KEY_FILE)

    def auth_settings(self) -> AuthSettings:
        lifetime = timedelta(seconds=self.session_lifetime)
        return AuthSettings(
            session_lifetime=lifetime,
            refresh_lifetime=lifetime,
            block_unverified_email=self.unverified_email_access == UnverifiedAccess.BLOCKED,
        )

    def recovery_settings(self, fallback_url: str) -> RecoverySettings:
        return RecoverySettings(
            public_url=self.public_url or fallback_url,
            reset_lifetime=timedelta(seconds=self.password_reset_lifetime),
            verify_lifetime=timedelta(seconds=self.email_verification_lifetime),
        )


class MailOptions(Configurable):
    """Where account mail (password reset, email verification) goes."""

    smtp_host = Unicode(
        "",
        help="""SMTP relay host. Empty (the default): no mail leaves the machine; messages are
        written as .eml files to `outbox_dir` and the log says where.""",
        config=True,
    )
    smtp_port = Int(587, help="SMTP relay port (587 for STARTTLS, 465 for SSL).", config=True)
    smtp_security = Enum(
        [member.value for member in SmtpSecurity],
        default_value=SmtpSecurity.STARTTLS.value,
        help="Connection security to the relay: `starttls` (default), `ssl` or `none`.",
        config=True,
    )
    smtp_username = Unicode("", help="SMTP login name; empty: no login.", config=True)
    smtp_password = Unicode("", help="SMTP password (needs `smtp_username`).", config=True)
    smtp_sender = Unicode(
        "analytics@localhost",
        help="`From` of account mail: `addr@domain` or `Display Name <addr@domain>`.",
        config=True,
    )
    smtp_timeout = Float(10.0, help="Seconds per SMTP socket operation.", config=True)
    smtp_ca_file = Unicode(
        "", help="Extra CA bundle (PEM) to trust for the relay's certificate.", config=True
    )
    outbox_dir = Unicode(
        help="""Folder that receives account mail as .eml files when `smtp_host` is empty.
        Default: `outbox` in the analytics data dir.""",
        config=True,
    )

    @default("outbox_dir")
    def _outbox_dir_default(self) -> str:
        return str(data_dir() / "outbox")

    def smtp_settings(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=SmtpSecurity(self.smtp_security),
            username=self.smtp_username or None,
            password=self.smtp_password or None,
            sender=self.smtp_sender,
            timeout=self.smtp_timeout,
            ca_file=self.smtp_ca_file or None,
        )


class DatasourceOptions(Configurable):
    """Which datasources users may define, and the key that encrypts their credentials."""

    datasource_key = Unicode(
        "",
        help="""Key that encrypts datasource passwords at rest (AES-256-GCM), at least 32
        characters, separate from `jwt_signing_key`. Every server process sharing a store needs
        the same key; changing it makes stored datasource passwords unreadable. Empty (the
        default): a random key is generated once into `secrets_dir`/datasource-key (mode 0600).""",
        config=True,
    )

    @validate("datasource_key")
    def _check_datasource_key(self, proposal: dict) -> str:
        value = proposal["value"]
        if value and len(value.encode()) < MIN_DATASOURCE_KEY_BYTES:
            raise ValueError(
                f"datasource_key must be at least {MIN_DATASOURCE_KEY_BYTES} bytes long"
            )
        return value

    datasource_dirs = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        help="""Folders whose SQLite and DuckDB files administrators may add as datasources
        (opened read-only). None (the default): only `demo_data_dir`. An empty list allows no
        file databases. The analytics store's own file is never allowed.""",
        config=True,
    )

    demo_datasource = Bool(
        True,
        help="""At start, give the owner a read-only datasource named `demo` on
        `demo_data_dir`/retail.duckdb (written by `jupyter analytics demo-data`) if that file
        exists. Created once per store: a `demo` datasource the owner deleted or renamed is not
        recreated, and an own `demo` on another database is left alone.""",
        config=True,
    )

    allowed_dialects = List(
        Unicode(),
        default_value=list(DEFAULT_DIALECTS),
        help="""SQLAlchemy dialects datasources may use. The default covers PostgreSQL,
        MySQL/MariaDB, SQLite and DuckDB, which are tested; add another installed dialect
        (e.g. `trino`, `snowflake`, `bigquery`) to let users connect to it — its URL options are
        then passed to its driver unchecked, except the ones that read files or run commands.""",
        config=True,
    )

    host_allowlist = List(
        Unicode(),
        default_value=[],
        help="""Hosts datasources may connect to: names (`db.example.com`, `*.example.com`) or
        networks (`10.0.0.0/8`). Empty (the default): any host not denied.""",
        config=True,
    )

    host_denylist = List(
        Unicode(),
        default_value=list(DEFAULT_HOST_DENYLIST),
        help="""Hosts datasources may never connect to: names or networks, checked against every
        address a host name resolves to. The default denies link-local addresses (including
        the cloud metadata service 169.254.169.254) and known metadata host names; setting this
        replaces the default list.""",
        config=True,
    )

    def datasource_settings(
        self, secrets_dir: Path, demo_data_dir: str, store_url: URL
    ) -> DatasourceSettings:
        """The credential key and URL policy; the store's own file and the secrets folder are
        always denied."""
        key = (
            self.datasource_key.encode()
            if self.datasource_key
            else load_or_create_secret(secrets_dir, DATASOURCE_KEY_FILE)
        )
        folders = [demo_data_dir] if self.datasource_dirs is None else self.datasource_dirs
        denied = [secrets_dir]
        if store_url.get_backend_name() == "sqlite" and store_url.database:
            store_file = Path(store_url.database).expanduser()
            denied += [
                store_file.with_name(store_file.name + suffix)
                for suffix in ("", "-wal", "-shm", "-journal")
            ]
        for entry in [*self.host_allowlist, *self.host_denylist]:
            if not entry.strip():
                raise ValueError("host_allowlist and host_denylist entries must not be empty")
        policy = UrlPolicy(
            allowed_dialects=frozenset(self.allowed_dialects),
            datasource_dirs=tuple(Path(folder).expanduser() for folder in folders),
            denied_paths=tuple(denied),
            host_allowlist=tuple(self.host_allowlist),
            host_denylist=tuple(self.host_denylist),
        )
        return DatasourceSettings(key=key, policy=policy)


class QueryOptions(Configurable):
    """The query engine's share of this server."""

    query_workers = Int(
        4,
        help="Queries that run at once on this server (threads of the query engine).",
        config=True,
    )
    query_runs_per_user = Int(
        4, help="Queries one user may have running at once (more: 429).", config=True
    )
    query_max_rows = Int(
        1_000_000,
        help="Most rows any query returns, whatever it or its datasource asks for.",
        config=True,
    )
    query_memory_mb = Int(
        512,
        help="""Memory (MiB) that query results may hold together; larger results spill to
        Parquet files in `query_spill_dir` and page the same way.""",
        config=True,
    )
    query_spill_dir = Unicode(
        "", help="Folder for spilled results (default: a private temporary folder).", config=True
    )

    @validate("query_workers", "query_runs_per_user", "query_max_rows", "query_memory_mb")
    def _at_least_one(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    def engine_options(self) -> dict[str, Any]:
        """``QueryEngine``'s keyword arguments; a configured spill folder is created 0700."""
        spill_dir = None
        if self.query_spill_dir:
            spill_dir = Path(self.query_spill_dir).expanduser()
            spill_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return {
            "workers": self.query_workers,
            "per_user_limit": self.query_runs_per_user,
            "max_rows": self.query_max_rows,
            "memory_budget_bytes": self.query_memory_mb * 1024 * 1024,
            "spill_dir": spill_dir,
        }


class DashboardOptions(Configurable):
    """Published dashboards and the Voila process that serves their viewers (DESIGN.md §8)."""

    dashboards_dir = Unicode(
        help="""Folder the published dashboards' notebooks are written to; the Voila process
        serves this folder and nothing else. Default: `dashboards` in the analytics data dir.""",
        config=True,
    )

    @default("dashboards_dir")
    def _dashboards_dir_default(self) -> str:
        return str(data_dir() / "dashboards")

    dashboard_viewers = Bool(
        True,
        help="""Serve published dashboards: the extension starts a standalone Voila process
        (on first publish or view, and at start when dashboards are published), restarts it
        if it dies, and proxies viewers to it at `/analytics/dashboards/<id>`. False: no
        Voila process; publishing still writes the notebooks.""",
        config=True,
    )
    dashboard_preheat = Bool(
        True,
        help="""Keep kernels of each published dashboard started and rendered ahead of its
        viewers (Voila's preheated pool), so a viewer's page opens without waiting for a
        kernel.""",
        config=True,
    )
    dashboard_pool_size = Int(
        1,
        help="Preheated kernels kept ready per published dashboard (with `dashboard_preheat`).",
        config=True,
    )
    dashboard_kernel_lifetime = Int(
        86_400,
        help="""Seconds a dashboard kernel's token (which reads that dashboard's tiles and
        nothing else) lasts at most; it is revoked when the kernel shuts down. Kernels are
        replaced before their token ends.""",
        config=True,
    )
    voila_port = Int(
        0,
        help="""Port of the Voila process on 127.0.0.1 (0: any free port). Viewers never reach
        it directly: it answers only requests the Jupyter server signed.""",
        config=True,
    )
    chromium_path = Unicode(
        "",
        help="""Chromium or Chrome executable used to print dashboards to PDF (offline,
        headless). Empty: the first of chromium, chromium-browser, google-chrome on PATH.""",
        config=True,
    )

    @validate("dashboard_pool_size")
    def _check_pool_size(self, proposal: dict) -> int:
        if not 0 <= proposal["value"] <= 16:
            raise ValueError("dashboard_pool_size must be between 0 and 16")
        return proposal["value"]

    @validate("dashboard_kernel_lifetime")
    def _check_dashboard_kernel_lifetime(self, proposal: dict) -> int:
        if proposal["value"] < 600:
            raise ValueError("dashboard_kernel_lifetime must be at least 600 seconds")
        return proposal["value"]

    @validate("voila_port")
    def _check_voila_port(self, proposal: dict) -> int:
        if not 0 <= proposal["value"] <= 65535:
            raise ValueError("voila_port must be between 0 and 65535")
        return proposal["value"]

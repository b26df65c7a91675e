"""Admin subcommands of ``jupyter analytics``: store migrations, demo data and user accounts.

They read the same configuration files as the server (``jupyter_server_config.*`` and
``jupyter_analytics_ext_config.*``), so ``db upgrade`` migrates the store the server will open
and ``users create`` adds an account the server will know.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Float, Unicode
from traitlets.config import Application

from ._version import __version__

if TYPE_CHECKING:
    from .services.admin_users import AdminUserService
    from .store import Database


def _configured_extension(app: JupyterApp):  # -> AnalyticsExtension (import cycle otherwise)
    from .app import AnalyticsExtension

    # A config file that fails to load must stop the command: carrying on would silently act on
    # the default store (and create it), not the one the server uses.
    app.raise_config_file_errors = True
    for name in ("jupyter_server_config", "jupyter_analytics_ext_config"):
        try:
            Application.load_config_file(app, name, path=app.config_file_paths)
        except Exception as error:  # any error the admin's Python config raises
            _fail(f"could not load the {name} configuration: {type(error).__name__}: {error}")
    # Command-line flags (--AnalyticsExtension.db_url=...) win over files, as in the server.
    app.update_config(app.cli_config)
    return AnalyticsExtension(config=app.config)


class _StoreApp(JupyterApp):
    version = __version__

    @property
    def classes(self) -> list:  # type: ignore[override]
        from .app import AnalyticsExtension

        return [AnalyticsExtension]

    @contextmanager
    def open_store(self) -> Iterator[Database]:
        """The store the server is configured with, disposed of afterwards."""
        from .store import Database

        db = Database(_configured_extension(self).db_url)
        try:
            yield db
        finally:
            db.dispose()


class DbUpgradeApp(_StoreApp):
    name = "jupyter-analytics-db-upgrade"
    description = "Apply pending migrations to the analytics store (AnalyticsExtension.db_url)."

    def start(self) -> None:
        from .store.schema import current_revision, head_revision, upgrade_schema

        with self.open_store() as db:
            before = current_revision(db)
            upgrade_schema(db)
            print(f"store ({db.backend}) upgraded from {before or 'empty'} to {head_revision()}")


class DbCurrentApp(_StoreApp):
    name = "jupyter-analytics-db-current"
    description = "Show the store's schema revision and the one this version expects."

    def start(self) -> None:
        from .store.schema import current_revision, head_revision

        with self.open_store() as db:
            current, head = current_revision(db), head_revision()
            state = "up to date" if current == head else "needs `jupyter analytics db upgrade`"
            print(f"store ({db.backend}) at {current or 'empty'}; code expects {head}: {state}")
        if current != head:
            sys.exit(1)


class DbApp(JupyterApp):
    name = "jupyter-analytics-db"
    description = "Manage the analytics store: `db upgrade`, `db current`."
    version = __version__
    subcommands = {
        "upgrade": (DbUpgradeApp, DbUpgradeApp.description),
        "current": (DbCurrentApp, DbCurrentApp.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_subcommands()
            self.exit(1)
        self.subapp.start()


class DemoDataApp(_StoreApp):
    name = "jupyter-analytics-demo-data"
    description = "Write the retail demo databases (DuckDB and SQLite), offline and deterministic."

    out = Unicode(
        "", help="Folder to write to (default: AnalyticsExtension.demo_data_dir).", config=True
    )
    scale = Float(1.0, help="Size factor: 1.0 is about one million order lines.", config=True)
    force = Bool(False, help="Regenerate even if complete files for this scale exist.", config=True)

    aliases = {"out": "DemoDataApp.out", "scale": "DemoDataApp.scale"}
    flags = {"force": ({"DemoDataApp": {"force": True}}, "Regenerate the files.")}

    def start(self) -> None:
        from .demo.__main__ import summary_table
        from .demo.retail import write_demo_data

        out = Path(self.out or _configured_extension(self).demo_data_dir)
        started = time.perf_counter()
        files = write_demo_data(out, scale=self.scale, force=self.force, progress=print)
        print(summary_table(files, time.perf_counter() - started))


# --- users ---------------------------------------------------------------------------------------


class _CommandFailed(Exception):
    """A refusal to print as one line on stderr (exit status 1)."""


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt that does not echo."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise _CommandFailed("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise _CommandFailed("no terminal to ask for the password on; use --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise _CommandFailed("the two passwords differ; nothing was changed")
    return password


class _UsersCommand(_StoreApp):
    """Base of ``users ...``: runs one action on the configured store's account services.

    The command line acts as no account (``actor_id=None``): whoever can read the server's
    configuration and open its store is trusted, as with ``db upgrade``. The guard rails that
    protect the owner and the last enabled administrator still apply.
    """

    usage = ""

    def one_username(self) -> str:
        if len(self.extra_args) != 1:
            raise _CommandFailed(f"give exactly one username: {self.usage}")
        return self.extra_args[0]

    def start(self) -> None:
        from .errors import AnalyticsError
        from .store import SchemaMismatch

        try:
            with self.admin_users() as admin_users:
                asyncio.run(self.act(admin_users))
        except (_CommandFailed, AnalyticsError, SchemaMismatch) as error:
            _fail(getattr(error, "message", None) or str(error))
        except (KeyboardInterrupt, EOFError):
            _fail("interrupted; nothing was changed")

    async def act(self, admin_users: AdminUserService) -> None:
        """What the subcommand does; every ``users`` subcommand overrides it (traitlets apps
        cannot use ``abc``: their metaclass clashes with ``ABCMeta``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define act()")

    @contextmanager
    def admin_users(self) -> Iterator[AdminUserService]:
        """The services the server would use, on its store (upgraded as the server would)."""
        from .auth.passwords import PasswordHasher
        from .services.accounts import AccountService
        from .services.activity import ActivityLog
        from .services.admin_users import AdminUserService
        from .services.ownership import DeletedUserObjects
        from .services.revocation import RevocationView
        from .store import ensure_schema

        extension = _configured_extension(self)
        hasher = PasswordHasher()
        with self.open_store() as db:
            # With Redis configured, a disabled account is announced to running servers at once;
            # without it they see the change at their next poll of the store.
            revocations = RevocationView(
                db,
                poll_interval=extension.revocation_poll_interval,
                redis_url=extension.redis_url or None,
            )
            try:
                ensure_schema(db, auto_upgrade=extension.auto_upgrade_db)
                activity = ActivityLog()
                accounts = AccountService(db, activity, hasher, asyncio.to_thread)
                yield AdminUserService(
                    db, activity, hasher, accounts, revocations,
                    deleted_objects=DeletedUserObjects(extension.deleted_user_objects),
                )  # fmt: skip
            finally:
                asyncio.run(revocations.stop())
                hasher.close()


class UsersCreateApp(_UsersCommand):
    name = "jupyter-analytics-users-create"
    description = "Create an account; the password is asked twice (or read from --password-stdin)."
    usage = "jupyter analytics users create <username> [--email=...] [--admin] [--notebook]"

    email = Unicode("", help="The account's email address (counted as verified).", config=True)
    display_name = Unicode(
        "", help="The name shown in JupyterLab (default: the username).", config=True
    )
    admin = Bool(False, help="Make the account an administrator.", config=True)
    notebook = Bool(
        False, help="Grant the notebook role (kernels, contents, terminals).", config=True
    )
    password_stdin = Bool(False, help="Read the password from one line of stdin.", config=True)

    aliases = {
        **base_aliases,
        "email": "UsersCreateApp.email",
        "display-name": "UsersCreateApp.display_name",
    }
    flags = {
        **base_flags,
        "admin": ({"UsersCreateApp": {"admin": True}}, "Make the account an administrator."),
        "notebook": ({"UsersCreateApp": {"notebook": True}}, "Grant the notebook role."),
        "password-stdin": (
            {"UsersCreateApp": {"password_stdin": True}},
            "Read the password from one line of standard input.",
        ),
    }

    async def act(self, admin_users: AdminUserService) -> None:
        from pydantic import ValidationError

        from .handlers.base import describe_validation_error
        from .schemas.admin import AdminUserCreate

        username = self.one_username()
        password = _read_password(self.password_stdin)
        try:
            body = AdminUserCreate.model_validate(
                {
                    "username": username,
                    "password": password,
                    "email": self.email or None,
                    "display_name": self.display_name or None,
                    "is_admin": self.admin,
                    "notebook_role": self.notebook,
                }
            )
        except ValidationError as error:
            raise _CommandFailed(describe_validation_error(error)) from None
        user = await admin_users.create(None, body)
        roles = [
            role for role, on in (("admin", user.is_admin), ("notebook", user.notebook_role)) if on
        ]
        print(f"created {user.username!r} ({', '.join(roles) or 'no roles'}), id {user.id}")


class UsersListApp(_UsersCommand):
    name = "jupyter-analytics-users-list"
    description = "List the accounts, newest first."

    async def act(self, admin_users: AdminUserService) -> None:
        from .schemas.admin import AdminUserQuery

        rows = [("USERNAME", "DISPLAY NAME", "EMAIL", "ROLES", "STATE", "LAST LOGIN")]
        cursor = None
        while True:
            page = await asyncio.to_thread(
                admin_users.list, None, AdminUserQuery(limit=200, cursor=cursor)
            )
            for user in page.items:
                roles = [name for name, on in (
                    ("owner", user.is_owner), ("admin", user.is_admin),
                    ("notebook", user.notebook_role),
                ) if on]  # fmt: skip
                last = (
                    user.last_login_at.isoformat(timespec="seconds")
                    if user.last_login_at
                    else "never"
                )
                state = "disabled" if user.disabled else "enabled"
                rows.append(
                    (
                        user.username,
                        user.display_name,
                        user.email or "-",
                        ",".join(roles) or "-",
                        state,
                        last,
                    )
                )
            cursor = page.next
            if cursor is None:
                break
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )


class _UsersToggleApp(_UsersCommand):
    disable: bool

    async def act(self, admin_users: AdminUserService) -> None:
        from .schemas.admin import AdminUserUpdate

        user = await asyncio.to_thread(admin_users.find, self.one_username())
        changes = AdminUserUpdate(disabled=self.disable)
        await asyncio.to_thread(admin_users.update, None, user.id, changes)
        print(f"{'disabled' if self.disable else 'enabled'} {user.username!r}")


class UsersDisableApp(_UsersToggleApp):
    name = "jupyter-analytics-users-disable"
    description = "Disable an account: its sessions end and its API keys are revoked at once."
    usage = "jupyter analytics users disable <username>"
    disable = True


class UsersEnableApp(_UsersToggleApp):
    name = "jupyter-analytics-users-enable"
    description = "Enable a disabled account again (it needs new API keys)."
    usage = "jupyter analytics users enable <username>"
    disable = False


class UsersSetPasswordApp(_UsersCommand):
    name = "jupyter-analytics-users-set-password"
    description = "Set an account's password (asked twice, or --password-stdin); ends its sessions."
    usage = "jupyter analytics users set-password <username> [--password-stdin]"

    password_stdin = Bool(False, help="Read the password from one line of stdin.", config=True)
    flags = {
        **base_flags,
        "password-stdin": (
            {"UsersSetPasswordApp": {"password_stdin": True}},
            "Read the password from one line of standard input.",
        ),
    }

    async def act(self, admin_users: AdminUserService) -> None:
        user = await asyncio.to_thread(admin_users.find, self.one_username())
        await admin_users.set_password(None, user.id, _read_password(self.password_stdin))
        print(f"set the password of {user.username!r}; its sessions have ended")


class UsersApp(JupyterApp):
    name = "jupyter-analytics-users"
    description = "Manage team-server accounts: `users create|list|disable|enable|set-password`."
    version = __version__
    subcommands = {
        "create": (UsersCreateApp, UsersCreateApp.description),
        "list": (UsersListApp, UsersListApp.description),
        "disable": (UsersDisableApp, UsersDisableApp.description),
        "enable": (UsersEnableApp, UsersEnableApp.description),
        "set-password": (UsersSetPasswordApp, UsersSetPasswordApp.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_subcommands()
            self.exit(1)
        self.subapp.start()

"""SQLAlchemy engines for datasources: one pool per (datasource, revision), locked down per dialect.

Every engine made here connects the safe way for its dialect:

- PostgreSQL (libpq drivers): connect timeout, no password file, no client certificate or
  Kerberos credentials borrowed from the server's account, a statement timeout, and
  ``default_transaction_read_only`` for read-only datasources. The host is resolved and checked
  again at every new connection and the checked address pinned with ``hostaddr``, so a DNS
  answer that changes after the datasource was saved cannot point the pool at a denied address.
- MariaDB/MySQL (PyMySQL): connect timeout, ``LOCAL INFILE`` off, read-only sessions, and the
  same re-check (the checked address is used unless the URL asks to verify the server's name).
- SQLite: opened through a ``file:...?mode=ro`` URI, with ATTACH limited to zero databases and
  an authorizer that refuses ATTACH and ``load_extension``.
- DuckDB: ``read_only=True``, external access (files, network, extensions) disabled and the
  configuration locked, so a statement cannot turn it back on.

A change to a datasource bumps its revision; ``engine_for`` then disposes the old pool.
"""

from __future__ import annotations

import math
import socket
import sqlite3
import threading
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.pool import NullPool, QueuePool

from .spec import SourceSpec
from .urls import UrlPolicy

LIBPQ_DRIVERS: Final = frozenset({"psycopg", "psycopg2"})
NO_PASSFILE: Final = "/nonexistent/analytics_ext/no-passfile"
"""libpq reads ``~/.pgpass`` unless told otherwise; a missing file means no stored password."""

DUCKDB_CONFIG: Final = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}

_SQLITE_LIMIT_ATTACHED = getattr(sqlite3, "SQLITE_LIMIT_ATTACHED", 7)


def sqlite_readonly_uri(path: str) -> str:
    """The URI that opens ``path`` read-only (no journal or WAL file is created for writing)."""
    return f"file:{quote(path)}?mode=ro"


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def open_sqlite_readonly(path: str) -> sqlite3.Connection:
    """A SQLite connection to ``path`` that can neither write, attach nor load extensions."""
    connection = sqlite3.connect(
        sqlite_readonly_uri(path), uri=True, check_same_thread=False, timeout=5.0
    )
    connection.setlimit(_SQLITE_LIMIT_ATTACHED, 0)
    connection.set_authorizer(_sqlite_authorizer)
    return connection


def open_duckdb_readonly(path: str) -> Any:
    """A DuckDB connection for SQLAlchemy (schema inspection, previews, connection tests) with
    exactly the settings ``fetch.DuckDBExecution`` opens the file with for queries.

    DuckDB keeps one database instance per file and process and refuses a second connection
    with other settings; duckdb_engine's own ``connect`` adds a user-agent setting, so a query
    after a schema look-up on the same file would fail. Going around it keeps one configuration.
    """
    import duckdb
    from duckdb_engine import ConnectionWrapper

    return ConnectionWrapper(duckdb.connect(path, read_only=True, config=dict(DUCKDB_CONFIG)))


def connect_args(spec: SourceSpec, *, statement_timeout: float | None = None) -> dict[str, Any]:
    """Driver arguments that make connections to ``spec`` safe and bounded."""
    dialect, driver = spec.dialect, spec.url.get_driver_name()
    connect_timeout = max(1, math.ceil(spec.connect_timeout_seconds))
    timeout = statement_timeout if statement_timeout is not None else spec.timeout_seconds
    if dialect == "postgresql" and driver in LIBPQ_DRIVERS:
        options = f"-c statement_timeout={max(1, int(timeout * 1000))}"
        if spec.read_only:
            options += " -c default_transaction_read_only=on"
        args: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "passfile": NO_PASSFILE,
            "gssencmode": "disable",
            "options": options,
        }
        if "sslcert" not in spec.url.query:
            args["sslcertmode"] = "disable"
        return args
    if dialect == "postgresql" and driver == "pg8000":
        return {"timeout": connect_timeout}
    if dialect in {"mysql", "mariadb"}:
        args = {"connect_timeout": connect_timeout, "local_infile": False}
        # Bounds the handshake as well as each statement: a server that accepts the TCP
        # connection and never answers would otherwise hold a worker thread forever.
        args["read_timeout"] = max(1, math.ceil(timeout))
        if spec.read_only:
            args["init_command"] = "SET SESSION TRANSACTION READ ONLY"
        return args
    if dialect == "duckdb":
        return {"read_only": True, "config": dict(DUCKDB_CONFIG)}
    return {}


def create_datasource_engine(
    spec: SourceSpec,
    policy: UrlPolicy | None = None,
    *,
    pooled: bool = True,
    statement_timeout: float | None = None,
) -> Engine:
    """An engine for ``spec``; ``pooled=False`` for one-off work such as a connection test."""
    args = connect_args(spec, statement_timeout=statement_timeout)
    kwargs: dict[str, Any] = {"connect_args": args}
    if not pooled:
        kwargs["poolclass"] = NullPool
    if spec.dialect == "sqlite":
        path = spec.url.database or ""
        return create_engine(
            URL.create("sqlite+pysqlite", database=path),
            creator=lambda: open_sqlite_readonly(path),
            poolclass=QueuePool if pooled else NullPool,
        )
    if spec.dialect == "duckdb" and spec.url.database not in (None, "", ":memory:"):
        path = spec.url.database
        kwargs["creator"] = lambda: open_duckdb_readonly(path)
    engine = create_engine(spec.url, pool_pre_ping=pooled, **kwargs)
    if policy is not None and spec.dialect not in {"sqlite", "duckdb"} and spec.url.host:
        _pin_checked_address(engine, spec, policy)
    return engine


def _pin_checked_address(engine: Engine, spec: SourceSpec, policy: UrlPolicy) -> None:
    """Check the host again at every new connection and connect to the address checked."""
    host, port = spec.url.host or "", spec.url.port
    driver = spec.url.get_driver_name()
    verify_name = str(spec.url.query.get("ssl_verify_identity", "")).lower() in {"1", "true"}

    @event.listens_for(engine, "do_connect")
    def _check(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        # The address connected to is one of those just checked: no second lookup to race.
        address = str(policy.check_host(host, port)[0])
        if spec.dialect == "postgresql" and driver in LIBPQ_DRIVERS:
            cparams["hostaddr"] = address  # host stays for TLS name checks
        elif spec.dialect in {"mysql", "mariadb"} and not verify_name:
            cparams["host"] = address


# -- failures ------------------------------------------------------------------------------------

FAILURE_MESSAGES: Final = {
    "authentication_failed": "the database refused the user name or password",
    "host_unreachable": "the database server could not be reached (check host, port, firewall)",
    "timeout": "the database did not answer in time",
    "database_missing": "the database does not exist on that server",
    "driver_missing": "the driver for this dialect is not installed on the Jupyter server",
    "refused": "the database refused the connection or statement",
    "connection_failed": "the connection failed; the server log has the details",
}
"""Messages written here, never the driver's: its text can quote the URL or the server."""

_PG_STATES: Final = {
    "28P01": "authentication_failed",
    "28000": "authentication_failed",
    "3D000": "database_missing",
    "57014": "timeout",
    "42501": "refused",
    "25006": "refused",
}
_MYSQL_CODES: Final = {
    1045: "authentication_failed",
    1698: "authentication_failed",
    1044: "database_missing",
    1049: "database_missing",
    2003: "host_unreachable",
    2005: "host_unreachable",
    2006: "host_unreachable",
    2013: "timeout",
    1969: "timeout",
    3024: "timeout",
    1792: "refused",
}
_TEXT_HINTS: Final = (
    ("password authentication failed", "authentication_failed"),
    ("no password supplied", "authentication_failed"),
    ("authentication failed", "authentication_failed"),
    ("access denied", "authentication_failed"),
    ('role "', "authentication_failed"),  # PostgreSQL: role "x" does not exist
    ("timeout expired", "timeout"),
    ("timed out", "timeout"),
    ("canceling statement due to statement timeout", "timeout"),
    ("does not exist", "database_missing"),
    ("unable to open database file", "database_missing"),
    ("no such file", "database_missing"),
    ("cannot open file", "database_missing"),
    ("connection refused", "host_unreachable"),
    ("could not translate host name", "host_unreachable"),
    ("name or service not known", "host_unreachable"),
    ("no route to host", "host_unreachable"),
    ("network is unreachable", "host_unreachable"),
    ("can't connect", "host_unreachable"),
)


def classify_connection_error(error: BaseException) -> tuple[str, str]:
    """(category, safe message) for an error raised while connecting or querying.

    The driver's text is read to choose a category but never returned: it may quote the URL,
    the user name, or whatever the remote server chose to say.
    """
    if isinstance(error, NoSuchModuleError | ImportError):
        category = "driver_missing"
    else:
        original = getattr(error, "orig", None) or error
        category = _classify(original)
    return category, FAILURE_MESSAGES[category]


def _classify(error: BaseException) -> str:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if state in _PG_STATES:
        return _PG_STATES[state]
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_CODES:
        if args[0] == 2003 and "timed out" in str(error).lower():
            return "timeout"
        return _MYSQL_CODES[args[0]]
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return "host_unreachable"
    if isinstance(error, ModuleNotFoundError):
        return "driver_missing"
    text = str(error).lower()
    for hint, category in _TEXT_HINTS:
        if hint in text:
            return category
    return "connection_failed"


class ConnectionCache:
    """One engine (pool) per datasource, replaced when the datasource's revision changes."""

    def __init__(self, policy: UrlPolicy | None = None) -> None:
        self._policy = policy
        self._engines: dict[str, tuple[int, Engine]] = {}
        self._lock = threading.Lock()

    def engine_for(self, spec: SourceSpec) -> Engine:
        stale: Engine | None = None
        with self._lock:
            current = self._engines.get(spec.id)
            if current is not None and current[0] == spec.revision:
                return current[1]
            if current is not None and current[0] > spec.revision:
                # An older revision asked late: serve it a private engine, keep the newer pool.
                return create_datasource_engine(spec, self._policy, pooled=False)
            engine = create_datasource_engine(spec, self._policy)
            self._engines[spec.id] = (spec.revision, engine)
            stale = current[1] if current is not None else None
        if stale is not None:
            stale.dispose()
        return engine

    def invalidate(self, datasource_id: str) -> None:
        """Close the pool of a changed or deleted datasource."""
        with self._lock:
            current = self._engines.pop(datasource_id, None)
        if current is not None:
            current[1].dispose()

    def dispose_all(self) -> None:
        with self._lock:
            engines = [engine for _, engine in self._engines.values()]
            self._engines.clear()
        for engine in engines:
            engine.dispose()

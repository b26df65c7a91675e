"""Which datasource URLs this server will connect to, decided before anything connects.

A datasource URL is user input that makes the server open a connection, so it is checked like
one: the dialect and driver must be allowed, a network database's host must resolve only to
addresses the admin allows (cloud metadata and link-local addresses are denied by default,
every resolved address is checked), and query options are an allow-list per dialect, so options
that read local files, open local sockets or run commands (``passfile``, ``?host=/run/...``,
``unix_socket``, ``local_infile``, ``init_command``, ``options=-c ...``) never reach a driver.
File databases (SQLite, DuckDB) are for admins only and only inside the folders the admin
allowed; the analytics store itself and the server's secrets never qualify.

Statement-level dangers (SQLite ``ATTACH`` and ``load_extension``, DuckDB ``read_csv``, MySQL
``LOAD_FILE``, PostgreSQL ``pg_read_file``) are named by ``forbidden_statement_features``, which
the query engine calls before running a statement; ``engine.connections`` also locks the
connections themselves down (read-only files, no extension loading, no external access).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import sqlglot
from sqlalchemy.engine import URL
from sqlglot import exp

from ..errors import Forbidden, Invalid

DEFAULT_DIALECTS: Final = ("postgresql", "mysql", "mariadb", "sqlite", "duckdb")
FILE_DIALECTS: Final = frozenset({"sqlite", "duckdb"})

DEFAULT_HOST_DENYLIST: Final = (
    "169.254.0.0/16",  # link-local, including 169.254.169.254 (AWS, GCP, Azure metadata)
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "metadata.google.internal",
    "metadata",
)
"""Denied unless the admin replaces ``AnalyticsExtension.host_denylist``."""

# Drivers whose connection to "localhost" stays on TCP. mysqlclient and the MariaDB connector
# turn "localhost" into the server's unix socket, where socket authentication would log a
# user in as the operating-system account running Jupyter.
_DRIVERS: Final[dict[str, frozenset[str]]] = {
    "postgresql": frozenset({"psycopg", "psycopg2", "pg8000"}),
    "mysql": frozenset({"pymysql"}),
    "mariadb": frozenset({"pymysql"}),
    "sqlite": frozenset({"pysqlite"}),
    "duckdb": frozenset({"duckdb_engine"}),
}
"""Drivers per built-in dialect (``get_driver_name`` names the default one for a bare dialect)."""

# Query options passed through to the driver, per built-in dialect. Anything else is refused.
_PLAIN_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "postgresql": frozenset(
        {
            "sslmode",
            "application_name",
            "target_session_attrs",
            "client_encoding",
            "channel_binding",
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
        }
    ),
    "mysql": frozenset({"charset", "ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"}),
    "mariadb": frozenset({"charset", "ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"}),
    "sqlite": frozenset(),
    "duckdb": frozenset(),
}

# Options naming a local file the driver reads (certificates): allowed only to admins, and
# only for files inside the allowed datasource folders.
_FILE_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "postgresql": frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl"}),
    "mysql": frozenset({"ssl_ca", "ssl_cert", "ssl_key"}),
    "mariadb": frozenset({"ssl_ca", "ssl_cert", "ssl_key"}),
}

# Refused for every dialect, including admin-allowed ones, each with the reason.
_DANGEROUS_OPTIONS: Final[dict[str, str]] = {
    "host": "puts the host (or a local socket) outside the URL's host part",
    "hostaddr": "puts the host outside the URL's host part",
    "unix_socket": "connects to a local socket",
    "unix_sock": "connects to a local socket",
    "passfile": "reads a password file on the server",
    "service": "reads a service file on the server",
    "servicefile": "reads a service file on the server",
    "sslkeylogfile": "writes TLS keys to a file on the server",
    "local_infile": "lets the database read files on the server",
    "init_command": "runs a statement on every connection",
    "options": "sets server parameters on every connection",
    "read_default_file": "reads an option file on the server",
    "read_default_group": "reads an option file on the server",
    "plugin_dir": "loads plugins from the server",
    "mode": "changes how a database file is opened",
    "uri": "changes how a database file is opened",
    "immutable": "changes how a database file is opened",
    "access_mode": "changes how a database file is opened",
    "allow_unsigned_extensions": "loads unsigned code",
    "enable_external_access": "lets queries read files on the server",
}

SECRET_OPTIONS: Final = frozenset(
    {
        "password",
        "passwd",
        "token",
        "access_token",
        "refresh_token",
        "private_key",
        "private_key_passphrase",
        "client_secret",
        "secret",
        "api_key",
        "credentials_base64",
        "sslpassword",
    }
)
"""Query options holding secrets: stored encrypted with the password, masked in answers."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class UrlPolicy:
    """What the admin allows (``AnalyticsExtension`` datasource traits), as plain values."""

    allowed_dialects: frozenset[str] = frozenset(DEFAULT_DIALECTS)
    datasource_dirs: tuple[Path, ...] = ()
    denied_paths: tuple[Path, ...] = ()
    """Files and folders never opened as a datasource: the store (and its -wal/-shm), secrets."""
    host_allowlist: tuple[str, ...] = ()
    """Empty: any host not denied. Else a host must match a name here, or every address a net."""
    host_denylist: tuple[str, ...] = DEFAULT_HOST_DENYLIST
    _allow_nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False
    )
    _deny_nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allow_nets", _networks(self.host_allowlist))
        object.__setattr__(self, "_deny_nets", _networks(self.host_denylist))
        object.__setattr__(
            self, "datasource_dirs", tuple(Path(d).resolve() for d in self.datasource_dirs)
        )
        object.__setattr__(
            self, "denied_paths", tuple(Path(p).resolve() for p in self.denied_paths)
        )

    # -- the whole URL ---------------------------------------------------------------------

    def check(self, url: URL, *, is_admin: bool, resolve: bool = True) -> URL:
        """``url`` if this server may connect to it, normalised (file paths resolved).

        Raises ``Forbidden`` for a file database requested by a non-admin, ``Invalid("url", ...)``
        naming the problem otherwise. ``resolve=False`` skips DNS (for re-checks that must not
        block), which is only safe when the host was checked before.
        """
        dialect = url.get_backend_name()
        if dialect not in self.allowed_dialects:
            allowed = ", ".join(sorted(self.allowed_dialects))
            raise Invalid("url", f"dialect {dialect!r} is not allowed here (allowed: {allowed})")
        if dialect in _DRIVERS and _driver(url) not in _DRIVERS[dialect]:
            drivers = ", ".join(f"{dialect}+{d}" for d in sorted(_DRIVERS[dialect]))
            raise Invalid("url", f"{dialect} URLs must name one of these drivers: {drivers}")
        self._check_options(url, dialect, is_admin=is_admin)
        if dialect in FILE_DIALECTS:
            if not is_admin:
                raise Forbidden(
                    "only administrators may add file-based (SQLite, DuckDB) datasources"
                )
            if url.host or url.port or url.username or url.password:
                raise Invalid("url", f"a {dialect} URL names a file, not a host or user")
            return url.set(database=str(self.database_file(url.database)))
        if resolve:
            self.check_host(url.host, url.port)
        elif not url.host:
            raise Invalid("url", "a host is required")
        return url

    def _check_options(self, url: URL, dialect: str, *, is_admin: bool) -> None:
        for name, value in url.query.items():
            key = name.lower()
            if key in _DANGEROUS_OPTIONS:
                reason = _DANGEROUS_OPTIONS[key]
                raise Invalid("url", f"option {name!r} is not allowed: it {reason}")
            values = value if isinstance(value, tuple) else (value,)
            if any(_has_control(v) for v in values):
                raise Invalid("url", f"option {name!r} contains control characters")
            if dialect not in _PLAIN_OPTIONS:
                continue  # an admin-allowed dialect: its options are the admin's business
            if key in _PLAIN_OPTIONS[dialect]:
                continue
            if key in _FILE_OPTIONS.get(dialect, ()):
                if key == "sslrootcert" and values == ("system",):
                    continue  # libpq: the system's trusted CAs, no file named
                if not is_admin:
                    raise Invalid("url", f"option {name!r} reads a file: administrators only")
                for path in values:
                    self.allowed_file(path, what=f"option {name!r}")
                continue
            raise Invalid("url", f"option {name!r} is not supported for {dialect}")

    # -- hosts -------------------------------------------------------------------------------

    def check_host(self, host: str | None, port: int | None) -> list[Address]:
        """The addresses ``host`` resolves to, all of them allowed; refuses a host that is
        missing, a socket path, denied, or resolves to any denied address."""
        if not host:
            raise Invalid("url", "a host is required")
        if host.startswith(("/", "@", "\\")) or _has_control(host) or " " in host:
            raise Invalid("url", "the host must be a host name or address, not a socket path")
        name = host.strip("[]").lower().rstrip(".")
        if _name_listed(name, self.host_denylist):
            raise Invalid("url", f"host {host!r} is denied on this server")
        addresses = resolve_host(name, port)
        for address in addresses:
            if any(address in net for net in self._deny_nets):
                raise Invalid(
                    "url",
                    f"host {host!r} resolves to {address}, a denied address "
                    "(link-local or cloud metadata, or listed by the admin)",
                )
        if self.host_allowlist and not _name_listed(name, self.host_allowlist):
            outside = [a for a in addresses if not any(a in net for net in self._allow_nets)]
            if outside:
                raise Invalid("url", f"host {host!r} is not in this server's host allow-list")
        return addresses

    # -- files -------------------------------------------------------------------------------

    def database_file(self, database: str | None) -> Path:
        """The resolved path of a file database, if it is one this server may open."""
        if not database or database == ":memory:" or database.startswith("file:"):
            raise Invalid("url", "a file database needs the absolute path of an existing file")
        return self.allowed_file(database, what="database file", must_exist=True)

    def allowed_file(self, raw: str, *, what: str, must_exist: bool = True) -> Path:
        if _has_control(raw) or not Path(raw).is_absolute():
            raise Invalid("url", f"{what} must be an absolute path")
        path = Path(raw).resolve()  # symlinks followed: a link out of an allowed folder fails
        # Containment is checked before existence, so probing paths outside reveals nothing.
        if not any(path.is_relative_to(folder) for folder in self.datasource_dirs):
            raise Invalid(
                "url", f"{what} is outside the folders allowed for datasources on this server"
            )
        if any(path == denied or path.is_relative_to(denied) for denied in self.denied_paths):
            raise Invalid("url", f"{what} is one of the server's own files")
        if must_exist and not path.is_file():
            raise Invalid("url", f"{what} does not exist")
        return path


def resolve_host(host: str, port: int | None) -> list[Address]:
    """Every address ``host`` resolves to (IPv4-mapped IPv6 addresses unwrapped)."""
    try:
        infos = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise UnresolvableHost(host) from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses


class UnresolvableHost(Invalid):
    """The host name does not resolve: its addresses cannot be checked, so nothing connects."""

    def __init__(self, host: str) -> None:
        super().__init__("url", f"host {host!r} cannot be resolved")


def _driver(url: URL) -> str | None:
    try:
        return url.get_driver_name()
    except Exception:  # an unknown driver plugin: not one of ours, so refused by the caller
        return None


def _networks(entries: Iterable[str]) -> tuple:
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name: matched by name
    return tuple(nets)


def _name_listed(name: str, entries: Iterable[str]) -> bool:
    for entry in entries:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and name.endswith(entry[1:]):
            return True
        if name == entry:
            return True
    return False


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


# -- statements -------------------------------------------------------------------------------

_FORBIDDEN_FUNCTIONS: Final[dict[str, frozenset[str]]] = {
    "sqlite": frozenset({"load_extension", "readfile", "writefile", "fts3_tokenizer"}),
    "duckdb": frozenset(
        {
            "read_csv",
            "read_csv_auto",
            "read_json",
            "read_json_auto",
            "read_json_objects",
            "read_ndjson",
            "read_ndjson_auto",
            "read_parquet",
            "parquet_scan",
            "parquet_metadata",
            "parquet_schema",
            "read_text",
            "read_blob",
            "glob",
            "sniff_csv",
            "read_xlsx",
            "sqlite_scan",
            "postgres_scan",
            "mysql_scan",
            "iceberg_scan",
            "delta_scan",
        }
    ),
    "postgresql": frozenset(
        {
            "pg_read_file",
            "pg_read_binary_file",
            "pg_ls_dir",
            "pg_stat_file",
            "lo_import",
            "lo_export",
            "dblink",
            "dblink_exec",
            "dblink_connect",
            "pg_reload_conf",
            "pg_terminate_backend",
            "pg_cancel_backend",
            "set_config",
        }
    ),
    "mysql": frozenset({"load_file", "sys_exec", "sys_eval"}),
    "mariadb": frozenset({"load_file", "sys_exec", "sys_eval"}),
}

# Statement keywords that attach files, load code or change settings.
_FORBIDDEN_COMMANDS: Final[dict[str, frozenset[str]]] = {
    "sqlite": frozenset({"ATTACH", "DETACH", "PRAGMA", "VACUUM"}),
    "duckdb": frozenset(
        {
            "ATTACH",
            "DETACH",
            "INSTALL",
            "LOAD",
            "PRAGMA",
            "SET",
            "RESET",
            "COPY",
            "EXPORT",
            "IMPORT",
            "USE",
            "CALL",
        }
    ),
    "postgresql": frozenset({"COPY", "SET", "RESET", "LOAD", "DO", "CALL"}),
    "mysql": frozenset({"LOAD", "SET", "HANDLER", "INSTALL", "CALL"}),
    "mariadb": frozenset({"LOAD", "SET", "HANDLER", "INSTALL", "CALL"}),
}

_SQLGLOT_DIALECT: Final = {"postgresql": "postgres", "mariadb": "mysql"}


def forbidden_statement_features(sql: str, dialect: str) -> list[str]:
    """What in ``sql`` reaches outside the database on ``dialect``, as messages; [] if nothing.

    The query engine refuses a statement with any (422, nothing runs). Read from sqlglot's
    tokens and parse tree, not from regular expressions over the text, so comments, string
    literals and quoted identifiers are neither false alarms nor hiding places. SQL the parser
    cannot read is judged from its tokens alone. Connections are locked down as well
    (``engine.connections``): this check gives a clear message, it is not the only guard.
    """
    functions = _FORBIDDEN_FUNCTIONS.get(dialect, frozenset())
    commands = _FORBIDDEN_COMMANDS.get(dialect, frozenset())
    read = _SQLGLOT_DIALECT.get(dialect, dialect)
    found: list[str] = []
    try:
        tokens = sqlglot.tokenize(sql, read=read)
    except sqlglot.errors.TokenError:
        return ["the statement cannot be read"]
    starts_statement, previous = True, ""
    for token in tokens:
        text = token.text.upper() if token.token_type != sqlglot.TokenType.STRING else ""
        if starts_statement and text in commands:
            found.append(f"{text} statements are not allowed on {dialect} datasources")
        if previous == "INTO" and text in {"OUTFILE", "DUMPFILE"}:
            found.append(f"INTO {text} writes files on the server and is not allowed")
        starts_statement = token.token_type == sqlglot.TokenType.SEMICOLON
        previous = text
    try:
        trees = sqlglot.parse(sql, read=read)
    except sqlglot.errors.ParseError:
        trees = []
        names = {t.text.lower() for t in tokens if t.token_type == sqlglot.TokenType.VAR}
        found.extend(f"function {n}() is not allowed" for n in sorted(names & functions))
    for tree in trees:
        if tree is None:
            continue
        for node in tree.walk():
            name = _function_name(node)
            if name and name in functions:
                found.append(f"function {name}() is not allowed on {dialect} datasources")
            if isinstance(node, exp.Attach | exp.Detach):
                found.append(f"ATTACH statements are not allowed on {dialect} datasources")
            if dialect == "duckdb" and _names_a_file(node):
                found.append("reading files by name is not allowed on duckdb datasources")
    return list(dict.fromkeys(found))


_FILE_SUFFIXES: Final = (
    ".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet", ".xlsx", ".gz", ".zst",
    ".db", ".duckdb", ".sqlite", ".arrow",
)  # fmt: skip


def _names_a_file(node: exp.Expression) -> bool:
    """DuckDB's replacement scans read ``FROM 'file.csv'`` (or a quoted name) as a file."""
    if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
        return False
    name = node.this.name.lower()
    return node.this.quoted and ("/" in name or "\\" in name or name.endswith(_FILE_SUFFIXES))


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous | exp.Func):
        return _function_name(node.this)
    return None

"""Run one statement and read its rows as Arrow record batches, by the fastest path available.

- PostgreSQL: ADBC (``adbc_driver_postgresql``; libpq's COPY-based reader). Parameters are bound
  by position (``$1``) with the types PostgreSQL inferred when it prepared the statement, so a
  string compared with a date column binds as a date. The session is read-only
  (``default_transaction_read_only``) with a ``statement_timeout``; cancel is
  ``pg_cancel_backend(pid)`` from a second connection.
- DuckDB: its native Arrow reader, the file opened read-only with external access off
  (``read_csv('/etc/passwd')`` and ``ATTACH`` fail); cancel is ``interrupt()``.
- SQLite: the standard library driver, the file opened ``mode=ro`` plus ``PRAGMA query_only``;
  cancel is ``interrupt()``. (ADBC's SQLite driver answers NOT_IMPLEMENTED to cancel, measured
  with adbc-driver-sqlite 1.13, and a query nobody can stop breaks the engine's promise.)
- MariaDB/MySQL: pymysql with an unbuffered cursor, ``START TRANSACTION READ ONLY`` and
  ``max_statement_time``; cancel is ``KILL QUERY <connection id>`` from a second connection.
- Anything else: the dialect's DB-API driver through SQLAlchemy, rows converted in batches.

Every ``Execution`` is one fresh connection for one statement: no session state leaks between
runs, and cancelling one run can never hit another.
"""

from __future__ import annotations

import contextlib
import decimal
import os
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from analytics_ext.engine.arrowize import RowBatcher, mysql_hints
from analytics_ext.engine.connections import DUCKDB_CONFIG, NO_PASSFILE, open_sqlite_readonly
from analytics_ext.engine.errors import QueryFailed, SourceUnavailable
from analytics_ext.engine.parameters import Style, bind
from analytics_ext.engine.spec import SourceSpec
from analytics_ext.errors import Invalid

DEFAULT_BATCH_ROWS = 65_536
CANCEL_CONNECT_SECONDS = 2.0


class Cancelled(Exception):  # a state, not a failure: hence no Error suffix
    """The run was cancelled (by a caller or the timeout) before or while it ran."""


class Execution(ABC):
    """One statement on one connection of its own; ``cancel`` may be called from any thread."""

    style: Style = "named"

    def __init__(self, spec: SourceSpec, sql: str, values: dict[str, Any], batch_rows: int):
        self.spec = spec
        self.sql, self.args = bind(sql, values, spec.dialect, self.style)
        self.batch_rows = batch_rows
        self.schema: pa.Schema | None = None
        """The result's columns once known (also when there are no rows)."""
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop the statement in the database; safe to call before, during or after it runs."""
        self._cancelled.set()
        with contextlib.suppress(Exception):
            self._interrupt()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Connect, run and yield the rows; raises ``Cancelled`` once ``cancel`` was called."""
        try:
            self._connect()
            self._raise_if_cancelled()
            yield from self._run()
            self._raise_if_cancelled()
        except (Cancelled, QueryFailed, Invalid):
            raise  # Invalid: the host policy refused the address before anything connected
        except Exception as error:
            if self.cancelled:
                raise Cancelled from None
            raise self._translate(error) from None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(Exception):
            self._close()

    def _raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled

    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _run(self) -> Iterator[pa.RecordBatch]: ...

    @abstractmethod
    def _interrupt(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    def _translate(self, error: Exception) -> Exception:
        return QueryFailed(_first_line(error))


_ADBC_PREFIX = re.compile(r"^.*?Failed to (?:prepare|execute) query(?: '.*?')?: ", re.DOTALL)
"""ADBC repeats the statement before the server's message: the caller wrote it, drop it."""


def _first_line(error: Exception) -> str:
    """The database's message without driver prefixes, SQLSTATE trailers or the query text."""
    text = str(error).strip() or type(error).__name__
    for prefix in ("INVALID_STATE: ", "NOT_FOUND: ", "IO: ", "INVALID_ARGUMENT: ", "UNKNOWN: "):
        text = text.removeprefix(prefix)
    text = text.replace("[libpq] ", "")
    text = _ADBC_PREFIX.sub("", text, count=1)
    text = text.splitlines()[0] if text else "the query failed"
    return text.removeprefix("ERROR:  ").strip()[:500] or "the query failed"


# -- PostgreSQL (ADBC) -------------------------------------------------------------------------


def libpq_uri(spec: SourceSpec, *, session: bool = True) -> str:
    """A libpq URI from the SQLAlchemy URL: host, port, user, password, database and sslmode only.

    Other query options (``passfile``, ``host=/socket``, ``options``) are never passed on, so a
    datasource cannot make libpq read local files or change the session's guards.
    """
    url = spec.url
    if not url.host:
        raise SourceUnavailable("a PostgreSQL datasource needs a host name")
    userinfo = ""
    if url.username:
        userinfo = quote(url.username, safe="")
        if url.password:
            userinfo += ":" + quote(str(url.password), safe="")
        userinfo += "@"
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{int(url.port)}" if url.port else ""
    database = quote(url.database or "", safe="")
    query: dict[str, str] = {
        "connect_timeout": str(max(1, int(spec.connect_timeout_seconds))),
        "application_name": "analytics_ext",
        # Never the server account's ~/.pgpass, Kerberos ticket or client certificate.
        "passfile": NO_PASSFILE,
        "gssencmode": "disable",
        "sslcertmode": "disable",
    }
    pinned = spec.pinned_address()
    if pinned is not None:
        query["hostaddr"] = pinned  # the address just checked; host stays for TLS name checks
    sslmode = url.query.get("sslmode")
    if isinstance(sslmode, str) and sslmode in {"disable", "allow", "prefer", "require"}:
        query["sslmode"] = sslmode
    if session:
        options = [f"-c statement_timeout={max(1, int(spec.timeout_seconds * 1000))}"]
        if spec.read_only:
            options.append("-c default_transaction_read_only=on")
        query["options"] = " ".join(options)
    return f"postgresql://{userinfo}{host}{port}/{database}?{urlencode(query, quote_via=quote)}"


def _close_cursor_and_connection(execution: Any) -> None:
    """Close a DB-API execution's cursor, then its connection (each at most once)."""
    with execution._lock:
        cursor, connection = execution._cursor, execution._connection
        execution._cursor = execution._connection = None
    if cursor is not None:
        with contextlib.suppress(Exception):
            cursor.close()
    if connection is not None:
        connection.close()


class PostgresExecution(Execution):
    style: Style = "dollar_numeric"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connection: Any = None
        self._cursor: Any = None
        self.backend_pid: int | None = None

    def _connect(self) -> None:
        import adbc_driver_postgresql.dbapi as adbc_pg

        uri = libpq_uri(self.spec)  # the host policy's refusal (Invalid) is the caller's to see
        try:
            connection = adbc_pg.connect(uri, autocommit=True)
        except Exception:
            raise SourceUnavailable("could not connect to the PostgreSQL datasource") from None
        cursor = connection.cursor()
        with self._lock:
            self._connection, self._cursor = connection, cursor
        cursor.execute("SELECT pg_backend_pid()")
        self.backend_pid = int(cursor.fetchone()[0])

    def _run(self) -> Iterator[pa.RecordBatch]:
        cursor = self._cursor
        if self.args:
            cursor.execute(self.sql, parameters=self._typed_parameters(cursor))
        else:
            cursor.execute(self.sql)
        reader = cursor.fetch_record_batch()
        self.schema, convert = _postgres_schema(reader.schema)
        for batch in reader:
            if self.cancelled:
                raise Cancelled
            yield convert(batch)

    def _typed_parameters(self, cursor: Any) -> pa.RecordBatch:
        """Values as the types PostgreSQL inferred for ``$1..$n`` when preparing the statement."""
        inferred = cursor.adbc_prepare(self.sql)
        arrays = []
        for value, field in zip(self.args or [], inferred, strict=True):
            arrays.append(_parameter_array(value, field.type))
        return pa.RecordBatch.from_arrays(arrays, names=[f"${i + 1}" for i in range(len(arrays))])

    def _interrupt(self) -> None:
        pid = self.backend_pid
        if pid is not None:
            import psycopg

            with psycopg.connect(
                libpq_uri(self.spec, session=False),
                connect_timeout=int(CANCEL_CONNECT_SECONDS),
                autocommit=True,
            ) as killer:
                killer.execute("SELECT pg_cancel_backend(%s)", (pid,))

    def _close(self) -> None:
        _close_cursor_and_connection(self)


PARTITION_MIN_PAGES = 4096
"""Pages (32 MiB of 8 KiB pages) each partition must have, else fewer partitions are used.

A partition costs a connection (ADBC loads the server's type catalog on connect: ≈50 ms on
local PostgreSQL) and a snapshot import; 32 MiB take ≈0.3 s to read, so a split below that
size cannot pay for itself."""


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def partition_count(requested: int, pages: int, cores: int) -> int:
    """How many connections a read of ``pages`` pages should use: at most ``requested``, one
    per usable core (each reader needs a core to parse what its server process sends), and
    never a partition smaller than ``PARTITION_MIN_PAGES``. 1 means "do not split"."""
    return max(1, min(requested, cores, pages // max(1, PARTITION_MIN_PAGES)))


_NOT_PARTITIONABLE = ("with", "joins", "group", "having", "order", "limit", "offset", "distinct")


def partition_plan(sql: str) -> tuple[str, Any] | None:
    """For ``SELECT <row-wise expressions> FROM <one table> [WHERE ...]``: the table's name and
    a function giving the statement restricted to a block range, else None.

    Row-wise statements over one table can be split by physical position (``ctid`` ranges,
    which PostgreSQL reads with a TID range scan) and read by several connections at once.
    Aggregates, windows, joins, ordering and limits need all rows in one place: not split.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except SqlglotError:
        return None
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in _NOT_PARTITIONABLE):
        return None
    source = tree.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table):
        return None
    if not isinstance(source.this.this, exp.Identifier) or source.this.args.get("sample"):
        return None  # a table function (generate_series) or TABLESAMPLE
    if any(isinstance(node, (exp.AggFunc, exp.Window, exp.Subquery)) for node in tree.walk()):
        return None
    if any(isinstance(node, exp.Select) and node is not tree for node in tree.walk()):
        return None
    table = source.this
    name = exp.Table(this=table.this, db=table.args.get("db"), catalog=table.args.get("catalog"))

    def restricted(first_page: int, end_page: int | None) -> str:
        condition = f"ctid >= '({int(first_page)},0)'::tid"
        if end_page is not None:
            condition += f" AND ctid < '({int(end_page)},0)'::tid"
        return tree.copy().where(condition, dialect="postgres").sql("postgres")

    return name.sql("postgres"), restricted


class PartitionedPostgresExecution(PostgresExecution):
    """A large single-table read split into block ranges, each read by its own connection.

    The connections share one snapshot (``pg_export_snapshot``), so together they return
    exactly the rows one connection would have; batches come back in block order.
    """

    def __init__(self, *args: Any, partitions: int, row_cap: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partitions = partitions
        self.row_cap = row_cap
        self._helpers: list[PostgresExecution] = []

    def _run(self) -> Iterator[pa.RecordBatch]:
        plan = partition_plan(self.sql) if self.args is None else None
        ranges = self._ranges(plan[0]) if plan is not None else None
        if plan is None or ranges is None:
            yield from super()._run()
            return
        restricted = plan[1]
        cursor = self._cursor
        mode = "ISOLATION LEVEL REPEATABLE READ" + (" READ ONLY" if self.spec.read_only else "")
        cursor.execute(f"BEGIN {mode}")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = str(cursor.fetchone()[0])
        helpers = [
            PostgresExecution(self.spec, restricted(first, end), {}, self.batch_rows)
            for first, end in ranges[1:]
        ]
        with self._lock:
            self._helpers = helpers
        outputs: list[list[pa.RecordBatch]] = [[] for _ in helpers]
        errors: list[BaseException] = []

        def read(index: int, helper: PostgresExecution) -> None:
            try:
                helper._connect()
                helper._cursor.execute(f"BEGIN {mode}")
                helper._cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                outputs[index].extend(helper._run())
            except BaseException as error:  # re-raised by the reading thread below
                errors.append(error)

        threads = [
            threading.Thread(target=read, args=(i, h), name=f"pg-partition-{i + 1}", daemon=True)
            for i, h in enumerate(helpers)
        ]
        for thread in threads:
            thread.start()
        try:
            first_sql = restricted(*ranges[0])
            cursor.execute(first_sql)
            reader = cursor.fetch_record_batch()
            self.schema, convert = _postgres_schema(reader.schema)
            for batch in reader:
                if self.cancelled:
                    raise Cancelled
                yield convert(batch)
            for index, thread in enumerate(threads):
                while thread.is_alive():
                    thread.join(0.05)
                    if self.cancelled:
                        raise Cancelled
                if errors:
                    raise errors[0]
                for batch in outputs[index]:
                    yield convert(batch) if batch.schema != self.schema else batch
                outputs[index] = []
        finally:
            if any(thread.is_alive() for thread in threads):
                for helper in helpers:
                    helper.cancel()
            for thread in threads:
                thread.join(5)
            for helper in helpers:
                helper.close()
            with contextlib.suppress(Exception):
                cursor.execute("COMMIT")

    def _ranges(self, table: str) -> list[tuple[int, int | None]] | None:
        """Block ranges for the table (``partition_count`` of them), or None when splitting
        cannot pay: a small table, a view, a row cap below the table's rows, one usable core."""
        cursor = self._cursor
        cursor.execute(
            "SELECT c.relkind::text, c.relpages::int8, c.reltuples::float8 FROM pg_class c"
            " WHERE c.oid = to_regclass($1::text)",
            parameters=pa.RecordBatch.from_arrays([pa.array([table])], names=["$1"]),
        )
        row = cursor.fetchone()
        if row is None or row[0] != "r":
            return None
        pages, tuples = int(row[1]), float(row[2])
        if self.row_cap is not None and tuples > 0 and self.row_cap < tuples:
            return None  # a capped read stops early; one reader is cheaper
        count = partition_count(self.partitions, pages, usable_cores())
        if count < 2:
            return None
        step = -(-pages // count)
        bounds = [i * step for i in range(count)]
        return [
            (first, bounds[i + 1] if i + 1 < len(bounds) else None)
            for i, first in enumerate(bounds)
        ]

    def _interrupt(self) -> None:
        with self._lock:
            helpers = list(self._helpers)
        for helper in helpers:
            with contextlib.suppress(Exception):
                helper.cancel()
        super()._interrupt()


def _parameter_array(value: Any, wanted: pa.DataType) -> pa.Array:
    if value is None:
        return pa.nulls(1, type=pa.string() if isinstance(wanted, pa.BaseExtensionType) else wanted)
    if isinstance(wanted, pa.BaseExtensionType):
        if getattr(wanted, "type_name", "") == "numeric" or isinstance(
            value, (int, float, decimal.Decimal)
        ):
            if isinstance(value, bool):
                return pa.array([value])
            return pa.array([decimal.Decimal(str(value))])
        return pa.array([str(value)])
    if isinstance(value, str) and not pa.types.is_string(wanted):
        try:
            return pa.array([value]).cast(wanted)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise QueryFailed(f"the value {value[:40]!r} is not a valid {wanted}") from None
    try:
        return pa.array([value], type=wanted)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([value])


def _postgres_schema(schema: pa.Schema) -> tuple[pa.Schema, Any]:
    """ADBC hands NUMERIC as opaque text: make NUMERIC(p, s) a decimal, other opaque types text."""
    fields: list[pa.Field] = []
    changes: dict[int, pa.DataType] = {}
    for index, field in enumerate(schema):
        kind = field.type
        if isinstance(kind, pa.BaseExtensionType) and kind.extension_name == "arrow.opaque":
            target: pa.DataType = kind.storage_type
            if getattr(kind, "type_name", "") == "numeric":
                typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
                if typmod >= 4:
                    precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
                    if precision <= 38:
                        target = pa.decimal128(precision, scale)
                    else:
                        target = pa.decimal256(precision, scale)
            changes[index] = target
            fields.append(pa.field(field.name, target, field.nullable))
        else:
            fields.append(field)
    target_schema = pa.schema(fields)
    if not changes:
        return target_schema, lambda batch: batch

    def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = list(batch.columns)
        for index, target in changes.items():
            storage = columns[index].storage
            columns[index] = storage if target == storage.type else pc.cast(storage, target)
        return pa.RecordBatch.from_arrays(columns, schema=target_schema)

    return target_schema, convert


# -- DuckDB ------------------------------------------------------------------------------------


class DuckDBExecution(Execution):
    style: Style = "dollar_named"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connection: Any = None

    def _connect(self) -> None:
        import duckdb

        database = self.spec.url.database or ":memory:"
        in_memory = database == ":memory:"
        try:
            # Datasource files are always opened read-only (issue: file databases are read, never
            # written, whatever the datasource's own read_only option says).
            connection = duckdb.connect(
                database, read_only=not in_memory, config=dict(DUCKDB_CONFIG)
            )
        except duckdb.Error as error:
            message = f"could not open the DuckDB file: {_first_line(error)}"
            raise SourceUnavailable(message) from None
        with self._lock:
            self._connection = connection

    def _run(self) -> Iterator[pa.RecordBatch]:
        relation = self._connection.sql(self.sql, params=self.args)
        if relation is None:  # a statement without a result (on a writable datasource)
            self.schema = pa.schema([])
            return
        reader = relation.to_arrow_reader(self.batch_rows)
        self.schema = reader.schema
        for batch in reader:
            if self.cancelled:
                raise Cancelled
            yield batch

    def _interrupt(self) -> None:
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.interrupt()

    def _close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


# -- Cursor drivers: SQLite, MariaDB/MySQL, anything else ---------------------------------------


class CursorExecution(Execution):
    """A DB-API cursor read with ``fetchmany``; rows become Arrow in ``RowBatcher``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connection: Any = None
        self._cursor: Any = None

    def _hints(self, description: Sequence[Sequence[Any]]) -> list[pa.DataType | None]:
        return [None] * len(description)

    def _execute(self, cursor: Any) -> None:
        if self.args is None:
            cursor.execute(self.sql)
        else:
            cursor.execute(self.sql, self.args)

    def _run(self) -> Iterator[pa.RecordBatch]:
        cursor = self._cursor
        self._execute(cursor)
        description = cursor.description
        if not description:
            self.schema = pa.schema([])
            return
        batcher = RowBatcher([column[0] for column in description], self._hints(description))
        self.schema = pa.schema([pa.field(name, pa.null()) for name in batcher.names])
        while True:
            if self.cancelled:
                raise Cancelled
            rows = cursor.fetchmany(self.batch_rows)
            if not rows:
                break
            batch = batcher.convert(rows)
            self.schema = batch.schema
            yield batch
        self._finish()

    def _finish(self) -> None:
        return None

    def _close(self) -> None:
        _close_cursor_and_connection(self)


class SQLiteExecution(CursorExecution):
    style: Style = "qmark"

    def _connect(self) -> None:
        database = self.spec.url.database or ":memory:"
        try:
            # Always read-only, and never ATTACH or load_extension (open_sqlite_readonly);
            # a read_only datasource is further kept to plain reads by the authorizer below.
            if database == ":memory:":
                connection = sqlite3.connect(database, check_same_thread=False)
            else:
                connection = open_sqlite_readonly(database)
        except sqlite3.Error as error:
            message = f"could not open the SQLite file: {_first_line(error)}"
            raise SourceUnavailable(message) from None
        connection.isolation_level = None
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        if self.spec.read_only:
            connection.execute("PRAGMA query_only = ON")
            connection.set_authorizer(_sqlite_read_only)
        with self._lock:
            self._connection, self._cursor = connection, connection.cursor()

    def _interrupt(self) -> None:
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.interrupt()


_SQLITE_READS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_SQLITE_REFUSED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit"})


def _sqlite_read_only(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """SQLite's authorizer: reads and plain functions only (no ATTACH, PRAGMA or writes)."""
    if action in _SQLITE_READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        name = (arg2 or "").lower()
        return sqlite3.SQLITE_DENY if name in _SQLITE_REFUSED_FUNCTIONS else sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class MySQLExecution(CursorExecution):
    style: Style = "pyformat"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_id: int | None = None

    def _connect_args(self) -> dict[str, Any]:
        url = self.spec.url
        if not url.host:
            raise SourceUnavailable("a MariaDB/MySQL datasource needs a host name")
        return {
            "host": self.spec.pinned_address() or url.host,
            "port": int(url.port or 3306),
            "user": url.username or "",
            "password": str(url.password or ""),
            "connect_timeout": max(1, int(self.spec.connect_timeout_seconds)),
            "charset": "utf8mb4",
            "local_infile": False,
            "autocommit": True,
        }

    def _connect(self) -> None:
        import pymysql
        import pymysql.cursors

        try:
            connection = pymysql.connect(
                **self._connect_args(),
                database=self.spec.url.database or None,
                cursorclass=pymysql.cursors.SSCursor,
            )
        except pymysql.Error:
            raise SourceUnavailable("could not connect to the MariaDB/MySQL datasource") from None
        cursor = connection.cursor()
        with self._lock:
            self._connection, self._cursor = connection, cursor
        cursor.execute("SELECT CONNECTION_ID(), VERSION()")
        ((connection_id, version),) = cursor.fetchall()
        self.connection_id = int(connection_id)
        seconds = max(1, int(self.spec.timeout_seconds))
        if "mariadb" in str(version).lower():
            cursor.execute(f"SET SESSION max_statement_time = {seconds}")
        else:
            cursor.execute(f"SET SESSION max_execution_time = {seconds * 1000}")
        if self.spec.read_only:
            # Refuses INSERT/UPDATE/DELETE even if sqlglot missed one. DDL commits implicitly in
            # MariaDB and is stopped only by the classifier: give read-only datasources a
            # database user without DDL privileges as well.
            cursor.execute("START TRANSACTION READ ONLY")

    def _hints(self, description: Sequence[Sequence[Any]]) -> list[pa.DataType | None]:
        return mysql_hints(description)

    def _finish(self) -> None:
        if self.spec.read_only:
            self._cursor.execute("ROLLBACK")

    def _interrupt(self) -> None:
        if self.connection_id is None:
            return
        import pymysql

        killer = pymysql.connect(**self._connect_args())
        try:
            with killer.cursor() as cursor:
                cursor.execute("KILL QUERY %s", (self.connection_id,))
        finally:
            killer.close()


class SQLAlchemyExecution(CursorExecution):
    """Any other installed dialect: its own DB-API driver, placeholders in its paramstyle."""

    def __init__(self, spec: SourceSpec, *args: Any, **kwargs: Any) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self._engine = create_engine(spec.url, poolclass=NullPool)
        self.style = _STYLES.get(self._engine.dialect.paramstyle, "named")
        super().__init__(spec, *args, **kwargs)

    def _connect(self) -> None:
        try:
            fairy = self._engine.raw_connection()
        except Exception:
            raise SourceUnavailable("could not connect to the datasource") from None
        connection = fairy.dbapi_connection
        with self._lock:
            self._connection, self._cursor = fairy, connection.cursor()

    def _interrupt(self) -> None:
        with self._lock:
            cursor = self._cursor
        if cursor is not None and hasattr(cursor, "cancel"):
            cursor.cancel()

    def _close(self) -> None:
        super()._close()
        self._engine.dispose()


_STYLES: dict[str, Style] = {
    "qmark": "qmark",
    "numeric_dollar": "dollar_numeric",
    "pyformat": "pyformat",
    "named": "named",
}


def open_execution(
    spec: SourceSpec,
    sql: str,
    values: dict[str, Any],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    partitions: int = 1,
    row_cap: int | None = None,
) -> Execution:
    """The fastest ``Execution`` for the datasource's dialect (nothing connects until iterated).

    ``partitions`` > 1 lets a large PostgreSQL single-table read use that many connections.
    """
    if spec.dialect == "postgresql" and partitions > 1:
        return PartitionedPostgresExecution(
            spec, sql, values, batch_rows, partitions=partitions, row_cap=row_cap
        )
    kinds: dict[str, type[Execution]] = {
        "postgresql": PostgresExecution,
        "duckdb": DuckDBExecution,
        "sqlite": SQLiteExecution,
        "mysql": MySQLExecution,
        "mariadb": MySQLExecution,
    }
    kind = kinds.get(spec.dialect)
    if kind is None:
        return SQLAlchemyExecution(spec, sql, values, batch_rows)
    return kind(spec, sql, values, batch_rows)

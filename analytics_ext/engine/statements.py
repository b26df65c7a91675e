"""Classify a statement with sqlglot before it runs: one statement, and on a read-only
datasource one that cannot write.

This is the first of two locks. The second is the database's own read-only mode (a read-only
transaction on PostgreSQL and MariaDB, files opened read-only for SQLite and DuckDB, see
``fetch.py``): sqlglot can miss a dialect's corner, and a database cannot be talked out of its
read-only transaction by a statement that was refused here. Both are tested.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from analytics_ext.engine.dialects import sqlglot_dialect
from analytics_ext.engine.errors import StatementRefused

MAX_SQL_CHARS = 1_000_000
"""A statement longer than this is refused before sqlglot spends time on it."""

READ_ROOTS: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.SetOperation,
    exp.Values,
    exp.Describe,
    exp.Show,
    exp.Subquery,
    exp.Paren,
)
"""Statement kinds that only read (their subtrees are still checked for writes)."""

WRITING_NODES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Copy,
    exp.Into,
    exp.Lock,
    exp.Command,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Set,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Grant,
    exp.Install,
)
"""Nodes that write, change session state or escape the read-only transaction, anywhere in a tree
(``WITH d AS (DELETE ... RETURNING *) SELECT ...`` is a SELECT at its root)."""

WRITING_FUNCTIONS = frozenset(
    {
        # PostgreSQL: sequences, session settings, locks, notifications, other backends, files.
        "nextval",
        "setval",
        "set_config",
        "pg_advisory_lock",
        "pg_advisory_lock_shared",
        "pg_advisory_xact_lock",
        "pg_advisory_xact_lock_shared",
        "pg_try_advisory_lock",
        "pg_try_advisory_lock_shared",
        "pg_try_advisory_xact_lock",
        "pg_try_advisory_xact_lock_shared",
        "pg_notify",
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_logical_emit_message",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "lo_create",
        "lo_unlink",
        "lo_from_bytea",
        "lo_put",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "txid_current",
        "pg_current_xact_id",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        # MariaDB/MySQL: server files and named locks.
        "load_file",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "sys_exec",
        "sys_eval",
        # SQLite: native code and files.
        "load_extension",
        "writefile",
        "readfile",
        "edit",
        "fts3_tokenizer",
        # DuckDB: files outside the datasource (also closed by enable_external_access=false).
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_ndjson",
        "read_text",
        "read_blob",
        "glob",
        "sniff_csv",
    }
)
"""Functions that write, read the server's files or reach outside the datasource."""

_EXPLAIN = re.compile(r"^\s*explain\b(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_EXPLAIN_EXECUTES = re.compile(r"^\s*(\(|analy[sz]e\b|query\s+plan\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One checked statement: the text to run and its normalized form for cache keys."""

    sql: str
    normalized: str
    """sqlglot's rendering without comments: whitespace and keyword case no longer matter."""
    reads_only: bool


def _parse(sql: str, dialect: str | None) -> list[exp.Expression]:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "falling back to Command" is our decision, not a log line
    try:
        return [tree for tree in sqlglot.parse(sql, read=dialect) if tree is not None]
    finally:
        logger.setLevel(level)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _writes(tree: exp.Expression) -> str | None:
    """Why ``tree`` may write (a short phrase), or None when every node only reads."""
    if not isinstance(tree, READ_ROOTS):
        return f"{tree.key.upper()} statements"
    for node in tree.walk():
        if isinstance(node, WRITING_NODES):
            return f"{node.key.upper()} clauses"
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in WRITING_FUNCTIONS:
                return f"the function {name}()"
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in WRITING_FUNCTIONS:
            return f"the function {str(node.this).lower()}()"
    return None


def classify(sql: str, backend: str, *, read_only: bool) -> Statement:
    """Check ``sql`` for a datasource of ``backend`` and return it with its normalized form.

    Raises ``StatementRefused`` (422) for empty input, several statements, input sqlglot cannot
    parse on a read-only datasource, and anything that may write on one.
    """
    if not sql or not sql.strip():
        raise StatementRefused("is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise StatementRefused(f"is longer than {MAX_SQL_CHARS} characters")
    dialect = sqlglot_dialect(backend)
    try:
        trees = _parse(sql, dialect)
    except SqlglotError as error:
        if read_only:
            first = str(error).splitlines()[0] if str(error) else "syntax error"
            raise StatementRefused(
                f"could not be parsed ({first}); a read-only datasource runs only statements "
                "that can be checked"
            ) from None
        return Statement(sql=sql, normalized=" ".join(sql.split()), reads_only=False)
    if not trees:
        raise StatementRefused("holds no statement")
    if len(trees) > 1:
        raise StatementRefused(f"holds {len(trees)} statements; run one at a time")
    tree = trees[0]
    reason = _explain_reason(tree, backend) if isinstance(tree, exp.Command) else _writes(tree)
    if read_only and reason is not None:
        raise StatementRefused(f"may write ({reason}), and this datasource is read-only")
    normalized = tree.sql(dialect=dialect, comments=False)
    return Statement(sql=sql, normalized=normalized, reads_only=reason is None)


def _explain_reason(tree: exp.Command, backend: str) -> str | None:
    """EXPLAIN of a reading statement only reads; EXPLAIN ANALYZE runs its statement."""
    match = _EXPLAIN.match(tree.sql())
    if match is None:
        return f"{str(tree.this).upper()} statements"
    rest = match.group("rest")
    if _EXPLAIN_EXECUTES.match(rest):
        return "EXPLAIN ANALYZE"
    try:
        inner = classify(rest, backend, read_only=True)
    except StatementRefused as refused:
        return refused.message.removeprefix("sql: ")
    return None if inner.reads_only else "EXPLAIN of a writing statement"

"""Statement checks: read-only datasources refuse anything that writes, before it runs; the
databases' own read-only modes refuse it too; placeholders are rewritten, never spliced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from analytics_ext.engine.errors import ParameterError, QueryFailed, StatementRefused
from analytics_ext.engine.fetch import open_execution
from analytics_ext.engine.parameters import bind, find_placeholders
from analytics_ext.engine.statements import classify
from tests.support.engine import query_engine, spec_for

REFUSED = [
    ("postgresql", "SELECT nextval('s')"),
    ("postgresql", "select SETVAL('s', 5)"),
    ("postgresql", "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone"),
    ("postgresql", "WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1"),
    ("postgresql", "SELECT * INTO copy_of_t FROM t"),
    ("postgresql", "SELECT * FROM t FOR UPDATE"),
    ("postgresql", "COPY (SELECT 1) TO STDOUT"),
    ("postgresql", "COPY t FROM '/etc/passwd'"),
    ("postgresql", "SELECT 1; DROP TABLE t"),
    ("postgresql", "SELECT 1;\nSELECT 2"),
    ("postgresql", "SET default_transaction_read_only = off"),
    ("postgresql", "BEGIN"),
    ("postgresql", "COMMIT"),
    ("postgresql", "EXPLAIN ANALYZE DELETE FROM t"),
    ("postgresql", "EXPLAIN (ANALYZE) SELECT 1"),
    ("postgresql", "SELECT pg_read_file('/etc/passwd')"),
    ("postgresql", "SELECT pg_terminate_backend(1)"),
    ("postgresql", "SELECT query_to_xml('select nextval(''s'')', true, true, '')"),
    ("postgresql", "DO $$ BEGIN PERFORM 1; END $$"),
    ("postgresql", "CALL p()"),
    ("postgresql", "VACUUM"),
    ("postgresql", "UPDATE t SET a = 1"),
    ("postgresql", "CREATE TABLE x (a int)"),
    ("postgresql", "TRUNCATE t"),
    ("postgresql", "SELECT 1 /* ; */ ; DELETE FROM t"),
    ("mysql", "SELECT LOAD_FILE('/etc/passwd')"),
    ("mysql", "SELECT GET_LOCK('x', 10)"),
    ("mysql", "SELECT * FROM t INTO OUTFILE '/tmp/x'"),
    ("mysql", "INSERT INTO t VALUES (1)"),
    ("sqlite", "ATTACH DATABASE '/tmp/other.db' AS other"),
    ("sqlite", "DETACH DATABASE other"),
    ("sqlite", "PRAGMA journal_mode = WAL"),
    ("sqlite", "PRAGMA writable_schema = 1"),
    ("sqlite", "SELECT load_extension('/tmp/evil.so')"),
    ("sqlite", "VACUUM INTO '/tmp/copy.db'"),
    ("duckdb", "INSTALL httpfs"),
    ("duckdb", "LOAD httpfs"),
    ("duckdb", "SELECT * FROM read_csv('/etc/passwd')"),
    ("duckdb", "ATTACH '/tmp/x.duckdb'"),
    ("duckdb", "CREATE TABLE t AS SELECT 1"),
    ("duckdb", "COPY t TO '/tmp/out.csv'"),
    ("postgresql", ""),
    ("postgresql", "   ;  "),
    ("postgresql", "SELEC garbage ((("),
]


@pytest.mark.parametrize(("backend", "sql"), REFUSED)
def test_read_only_refuses(backend: str, sql: str) -> None:
    with pytest.raises(StatementRefused):
        classify(sql, backend, read_only=True)


ALLOWED = [
    ("postgresql", "SELECT * FROM t WHERE a = :a"),
    ("postgresql", "WITH x AS (SELECT 1 AS a) SELECT a FROM x UNION ALL SELECT 2"),
    ("postgresql", "SELECT count(*) FROM t; "),
    ("postgresql", "EXPLAIN SELECT * FROM t"),
    ("postgresql", "VALUES (1), (2)"),
    ("mysql", "SHOW TABLES"),
    ("duckdb", "DESCRIBE t"),
    ("sqlite", "SELECT 'DROP TABLE t; ATTACH' AS text_only"),
]


@pytest.mark.parametrize(("backend", "sql"), ALLOWED)
def test_read_only_allows_reads(backend: str, sql: str) -> None:
    assert classify(sql, backend, read_only=True).reads_only


def test_writable_datasources_still_take_one_statement_at_a_time() -> None:
    assert not classify("DELETE FROM t", "postgresql", read_only=False).reads_only
    with pytest.raises(StatementRefused, match="2 statements"):
        classify("DELETE FROM t; DELETE FROM u", "postgresql", read_only=False)


def test_normalization_ignores_whitespace_case_and_comments() -> None:
    a = classify("SELECT a, b FROM t WHERE c = :c", "postgresql", read_only=True)
    b = classify("select a ,b\n\tfrom t -- note\n where c=:c ;", "postgresql", read_only=True)
    c = classify("SELECT a, b FROM t WHERE c = :d", "postgresql", read_only=True)
    assert a.normalized == b.normalized
    assert a.normalized != c.normalized


def test_placeholders_skip_strings_comments_casts_and_quoted_names() -> None:
    sql = (
        "SELECT a::int, ':fake', \"x:y\", b FROM t -- :comment\n"
        "WHERE c = :real AND d = :real AND e=:other /* :hidden */"
    )
    assert [p.name for p in find_placeholders(sql, "postgresql")] == ["real", "real", "other"]
    rewritten, args = bind(sql, {"real": 1, "other": "o"}, "postgresql", "dollar_numeric")
    assert "c = $1 AND d = $1 AND e=$2" in rewritten
    assert "':fake'" in rewritten
    assert args == [1, "o"]
    rewritten, args = bind("SELECT '5%' WHERE a = :a", {"a": 1}, "mysql", "pyformat")
    assert rewritten == "SELECT '5%%' WHERE a = %(a)s"
    assert args == {"a": 1}


def test_values_are_never_in_the_sql() -> None:
    hostile = "'); DROP TABLE t; --"
    for style in ("dollar_numeric", "qmark", "dollar_named", "pyformat", "named"):
        rewritten, _ = bind("SELECT :v", {"v": hostile}, "postgresql", style)  # type: ignore[arg-type]
        assert "DROP" not in rewritten


def test_bad_parameter_names_and_values() -> None:
    with pytest.raises(ParameterError):
        bind("SELECT :a", {"a": {"nested": 1}}, "postgresql", "named")
    with pytest.raises(ParameterError):
        bind("SELECT :a", {"a": 1, "b;drop": 2}, "postgresql", "named")
    with pytest.raises(ParameterError):
        bind("SELECT :a", {"a": "x" * 1_000_001}, "postgresql", "named")


def test_sqlite_file_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (a int)")
    connection.close()
    spec = spec_for(f"sqlite:///{path}")
    for sql in (
        "INSERT INTO t VALUES (1)",
        "ATTACH DATABASE ':memory:' AS x",
        f"ATTACH DATABASE '{tmp_path / 'other.sqlite'}' AS other",
        "PRAGMA query_only = OFF",
        "PRAGMA table_info(t)",
        "SELECT load_extension('/tmp/evil.so')",
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 3) "
        "SELECT max(i) AS top FROM r",
    ):
        if sql.startswith("WITH"):  # reads still work under the authorizer
            execution = open_execution(spec, sql, {})
            assert next(iter(execution.batches())).column("top").to_pylist() == [3]
            execution.close()
            continue
        execution = open_execution(spec, sql, {})
        with pytest.raises(QueryFailed):
            list(execution.batches())
        execution.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (0,)
    check.close()
    assert not (tmp_path / "other.sqlite").exists()


def test_duckdb_file_is_opened_read_only_without_file_access(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    writer = duckdb.connect(str(path))
    writer.execute("CREATE TABLE t (a int); CREATE SEQUENCE s")
    writer.close()
    spec = spec_for(f"duckdb:///{path}")
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for sql in (
        "INSERT INTO t VALUES (1)",
        "SELECT nextval('s')",
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM '{secret}'",
        f"ATTACH '{tmp_path / 'other.duckdb'}'",
        "SET enable_external_access = true",
    ):
        execution = open_execution(spec, sql, {})
        with pytest.raises(QueryFailed):
            list(execution.batches())
        execution.close()


def test_engine_refuses_before_connecting(tmp_path: Path) -> None:
    """Refused statements never reach a database: the URL here points nowhere."""
    spec = spec_for("postgresql://nobody@127.0.0.1:1/none")
    with query_engine() as engine:
        with pytest.raises(StatementRefused):
            engine.submit("alice", spec, "DELETE FROM t")
        with pytest.raises(ParameterError):
            engine.submit("alice", spec, "SELECT :a")
        assert engine.executions == 0

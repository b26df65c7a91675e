"""Each driver path yields Arrow with the source's types and NULLs, and binds named parameters.

Real databases: PostgreSQL (ADBC), MariaDB (the pymysql cursor fallback), SQLite and DuckDB files.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

from analytics_ext.engine.errors import ParameterError, QueryFailed
from analytics_ext.engine.fetch import open_execution
from analytics_ext.engine.spec import SourceSpec
from tests.support.engine import mariadb_admin, mariadb_database, spec_for

HOSTILE = "x'; DROP TABLE items; --"


def fetch(spec: SourceSpec, sql: str, values: dict | None = None) -> pa.Table:
    execution = open_execution(spec, sql, values or {}, batch_rows=2)
    try:
        batches = list(execution.batches())
        assert execution.schema is not None
        if not batches:
            return execution.schema.empty_table()
        schema = batches[-1].schema
        return pa.Table.from_batches([b.cast(schema) for b in batches], schema=schema)
    finally:
        execution.close()


@pytest.fixture
def pg_spec(postgresql_url: str) -> SourceSpec:
    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE items (id int8 PRIMARY KEY, small int2, qty int4,"
                " price numeric(10,2),"
                " ratio float8, label text, seen timestamp, seen_tz timestamptz, day date,"
                " ok boolean)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO items VALUES"
                " (1, 1, 10, 12.34, 0.5, 'one', '2024-01-02 03:04:05.123456',"
                "  '2024-01-02 03:04:05+00', '2024-01-02', true),"
                " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
                " (3, 3, 30, -5.00, 1.5, 'three', '2024-03-01 00:00:00', NULL, '2024-03-01', false)"
            )
        )
    engine.dispose()
    return spec_for(postgresql_url)


@pytest.fixture(scope="module")
def maria_url() -> Iterator[str]:
    with mariadb_database() as url:
        name = url.rsplit("/", 1)[1]
        connection = mariadb_admin(name)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE items (id BIGINT PRIMARY KEY, qty INT, price DECIMAL(10,2),"
                " ratio DOUBLE, label VARCHAR(40), seen DATETIME(6), day DATE)"
            )
            cursor.execute(
                "INSERT INTO items VALUES"
                " (1, 10, 12.34, 0.5, 'one', '2024-01-02 03:04:05.123456', '2024-01-02'),"
                " (2, NULL, NULL, NULL, NULL, NULL, NULL),"
                " (3, 30, -5.00, 1.5, 'three', '2024-03-01 00:00:00', '2024-03-01')"
            )
        connection.close()
        yield url


@pytest.fixture
def sqlite_spec(tmp_path: Path) -> SourceSpec:
    path = tmp_path / "items.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, ratio REAL, label TEXT,"
            " blob BLOB);"
            "INSERT INTO items VALUES (1, NULL, NULL, NULL, NULL), (2, NULL, 0.5, 'two', x'00ff'),"
            " (3, 30, 1.5, 'three', NULL);"
        )
    connection.close()
    return spec_for(f"sqlite:///{path}")


@pytest.fixture
def duckdb_spec(tmp_path: Path) -> SourceSpec:
    path = tmp_path / "items.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute(
        "CREATE TABLE items (id BIGINT, price DECIMAL(10,2), seen TIMESTAMP, label VARCHAR)"
    )
    connection.execute(
        "INSERT INTO items VALUES (1, 12.34, TIMESTAMP '2024-01-02 03:04:05', 'one'),"
        " (2, NULL, NULL, NULL), (3, -5, TIMESTAMP '2024-03-01 00:00:00', 'three')"
    )
    connection.close()
    return spec_for(f"duckdb:///{path}")


def test_postgresql_adbc_types_and_nulls(pg_spec: SourceSpec) -> None:
    table = fetch(pg_spec, "SELECT * FROM items ORDER BY id")
    types = {field.name: field.type for field in table.schema}
    assert types == {
        "id": pa.int64(),
        "small": pa.int16(),
        "qty": pa.int32(),
        "price": pa.decimal128(10, 2),
        "ratio": pa.float64(),
        "label": pa.string(),
        "seen": pa.timestamp("us"),
        "seen_tz": pa.timestamp("us", tz="UTC"),
        "day": pa.date32(),
        "ok": pa.bool_(),
    }
    rows = table.to_pylist()
    assert rows[0]["price"] == decimal.Decimal("12.34")
    assert rows[0]["seen"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert all(value is None for key, value in rows[1].items() if key != "id")
    assert rows[2]["price"] == decimal.Decimal("-5.00")


def test_postgresql_binds_named_parameters_by_position(pg_spec: SourceSpec) -> None:
    table = fetch(
        pg_spec,
        "SELECT id, :label AS echoed, ':not_a_parameter' AS literal FROM items"
        " WHERE day >= :since AND price > :floor AND id <> :skip ORDER BY id",
        {"label": HOSTILE, "since": "2024-01-01", "floor": 0, "skip": 99},
    )
    assert table.column("id").to_pylist() == [1]
    assert table.column("echoed").to_pylist() == [HOSTILE]
    assert table.column("literal").to_pylist() == [":not_a_parameter"]
    assert fetch(pg_spec, "SELECT count(*) AS n FROM items").column("n").to_pylist() == [3]
    # A repeated name is one value; a hostile value matches nothing and drops nothing.
    same = fetch(pg_spec, "SELECT id FROM items WHERE label = :v OR label = :v", {"v": HOSTILE})
    assert same.num_rows == 0


def test_mariadb_fallback_types_and_nulls(maria_url: str) -> None:
    table = fetch(spec_for(maria_url), "SELECT * FROM items ORDER BY id")
    types = {field.name: field.type for field in table.schema}
    assert types == {
        "id": pa.int64(),
        "qty": pa.int64(),
        "price": pa.decimal128(10, 2),
        "ratio": pa.float64(),
        "label": pa.string(),
        "seen": pa.timestamp("us"),
        "day": pa.date32(),
    }
    rows = table.to_pylist()
    assert rows[0]["price"] == decimal.Decimal("12.34")
    assert rows[0]["seen"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert all(value is None for key, value in rows[1].items() if key != "id")
    assert rows[2]["price"] == decimal.Decimal("-5.00")


def test_mariadb_binds_named_parameters(maria_url: str) -> None:
    spec = spec_for(maria_url)
    table = fetch(
        spec,
        "SELECT id, :label AS echoed, '100%' AS pct FROM items WHERE qty > :min ORDER BY id",
        {"label": HOSTILE, "min": 15},
    )
    assert table.to_pylist() == [{"id": 3, "echoed": HOSTILE, "pct": "100%"}]
    assert fetch(spec, "SELECT count(*) AS n FROM items").column("n").to_pylist() == [3]


def test_sqlite_types_and_nulls_across_batches(sqlite_spec: SourceSpec) -> None:
    # batch_rows=2: the first batch has qty all NULL; its type comes from the second batch.
    table = fetch(sqlite_spec, "SELECT * FROM items ORDER BY id")
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("qty").type == pa.int64()
    assert table.schema.field("ratio").type == pa.float64()
    assert table.schema.field("label").type == pa.string()
    assert table.schema.field("blob").type == pa.binary()
    assert table.column("qty").to_pylist() == [None, None, 30]
    assert table.column("blob").to_pylist() == [None, b"\x00\xff", None]


def test_sqlite_and_duckdb_bind_parameters(
    sqlite_spec: SourceSpec, duckdb_spec: SourceSpec
) -> None:
    for spec in (sqlite_spec, duckdb_spec):
        table = fetch(
            spec,
            "SELECT id, :label AS echoed FROM items WHERE label = :name OR id = :id",
            {"label": HOSTILE, "name": "three", "id": 1},
        )
        assert sorted(table.column("id").to_pylist()) == [1, 3]
        assert set(table.column("echoed").to_pylist()) == {HOSTILE}


def test_duckdb_native_arrow_types(duckdb_spec: SourceSpec) -> None:
    table = fetch(duckdb_spec, "SELECT * FROM items ORDER BY id")
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert table.schema.field("seen").type == pa.timestamp("us")
    assert table.column("label").to_pylist() == ["one", None, "three"]


def test_missing_and_unused_parameters_are_refused(duckdb_spec: SourceSpec) -> None:
    with pytest.raises(ParameterError, match=":id"):
        open_execution(duckdb_spec, "SELECT * FROM items WHERE id = :id", {})
    with pytest.raises(ParameterError, match="not used"):
        open_execution(duckdb_spec, "SELECT 1", {"id": 1})
    with pytest.raises(ParameterError, match="cannot be bound"):
        open_execution(duckdb_spec, "SELECT :v", {"v": [1, 2]})


def test_database_errors_are_query_failures_without_the_url(pg_spec: SourceSpec) -> None:
    with pytest.raises(QueryFailed) as caught:
        fetch(pg_spec, "SELECT * FROM no_such_table")
    assert "no_such_table" in caught.value.message
    assert "127.0.0.1" not in caught.value.message


# -- partitioned reads (PostgreSQL) ------------------------------------------------------------


@pytest.fixture
def wide_pg(postgresql_url: str, monkeypatch: pytest.MonkeyPatch) -> SourceSpec:
    """A 20k-row table, with the partitioning threshold lowered so it is split."""
    from analytics_ext.engine import fetch as fetch_module

    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE wide AS SELECT i AS id, md5(i::text) AS note,"
                " CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END AS half"
                " FROM generate_series(1, 20000) AS i"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE wide"))
    engine.dispose()
    monkeypatch.setattr(fetch_module, "PARTITION_MIN_PAGES", 1)
    monkeypatch.setattr(fetch_module, "usable_cores", lambda: 8)  # as on a larger machine
    return spec_for(postgresql_url)


def test_partitioned_read_returns_exactly_the_single_read(wide_pg: SourceSpec) -> None:
    from analytics_ext.engine.fetch import PartitionedPostgresExecution

    single = fetch(wide_pg, "SELECT id, note, half FROM wide WHERE id % 2 = 0")
    for partitions in (2, 3):
        execution = open_execution(
            wide_pg, "SELECT id, note, half FROM wide WHERE id % 2 = 0", {}, partitions=partitions
        )
        assert isinstance(execution, PartitionedPostgresExecution)
        try:
            batches = list(execution.batches())
            assert execution.partitions == partitions
            assert len(execution._helpers) == partitions - 1
        finally:
            execution.close()
        split = pa.Table.from_batches(batches)
        assert split.num_rows == 10_000
        assert split.equals(single)


def test_partition_plan_splits_only_row_wise_single_table_reads() -> None:
    from analytics_ext.engine.fetch import partition_plan

    plan = partition_plan("SELECT a, b * 2 FROM s.t WHERE c > 1")
    assert plan is not None
    assert plan[0] == "s.t"
    restricted = plan[1](5, 9)
    assert "c > 1 AND (ctid >= CAST('(5,0)' AS tid) AND ctid < CAST('(9,0)' AS tid))" in restricted
    assert plan[1](0, None).endswith("c > 1 AND ctid >= CAST('(0,0)' AS tid)")
    either = partition_plan("SELECT a FROM t WHERE c > 1 OR d < 2")
    assert either is not None
    assert "WHERE (c > 1 OR d < 2) AND" in either[1](0, 5)
    for sql in (
        "SELECT count(*) FROM t",
        "SELECT a FROM t ORDER BY a",
        "SELECT a FROM t LIMIT 5",
        "SELECT DISTINCT a FROM t",
        "SELECT a FROM t JOIN u ON t.id = u.id",
        "SELECT a, row_number() OVER () FROM t",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SELECT a FROM t WHERE a IN (SELECT a FROM u)",
        "SELECT * FROM generate_series(1, 10)",
        "SELECT a FROM t GROUP BY a",
    ):
        assert partition_plan(sql) is None, sql


def test_partition_count_follows_table_size_and_cores() -> None:
    from analytics_ext.engine.fetch import PARTITION_MIN_PAGES, partition_count

    assert partition_count(4, PARTITION_MIN_PAGES - 1, cores=8) == 1  # too small to pay
    assert partition_count(4, 2 * PARTITION_MIN_PAGES, cores=8) == 2  # no partition below min
    assert partition_count(4, 100 * PARTITION_MIN_PAGES, cores=8) == 4  # what was asked for
    assert partition_count(4, 100 * PARTITION_MIN_PAGES, cores=2) == 2  # one reader per core
    assert partition_count(4, 100 * PARTITION_MIN_PAGES, cores=1) == 1
    assert partition_count(1, 100 * PARTITION_MIN_PAGES, cores=8) == 1


def test_partitioned_read_stays_single_on_one_core(
    wide_pg: SourceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analytics_ext.engine import fetch as fetch_module

    monkeypatch.setattr(fetch_module, "usable_cores", lambda: 1)
    execution = open_execution(wide_pg, "SELECT id, note FROM wide", {}, partitions=4)
    try:
        assert sum(batch.num_rows for batch in execution.batches()) == 20_000
        assert execution._helpers == []  # one connection: a split could not have paid
    finally:
        execution.close()

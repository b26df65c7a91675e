"""Schema inspection and preview on PostgreSQL, MariaDB, SQLite and DuckDB: columns, keys, row
estimates, pages, cache and refresh; names must be ones the inspector returned; 100k columns."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from analytics_ext.errors import Invalid, NotFound
from analytics_ext.schemas.datasources import PreviewQuery, SchemaQuery, TableColumnsQuery
from analytics_ext.services import schema_inspection
from tests.support.datasources import (
    duckdb_file,
    mariadb_database,
    postgres_database,
    sqlite_file,
)
from tests.test_datasources import World, make_world

WEIRD = 'we"ird; name'
"""A table name with a quote, a semicolon and a space: fine when quoted by the dialect."""


@pytest.fixture
def world(sqlite_url, tmp_path) -> Iterator[World]:
    from analytics_ext.store import Database, upgrade_schema

    db = Database(sqlite_url)
    upgrade_schema(db)
    made = make_world(db, tmp_path)
    yield made
    made.connections.dispose_all()
    db.dispose()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            quoted = '"' + WEIRD.replace('"', '""') + '"'
            connection.execute(text(f"CREATE TABLE {quoted} (x INTEGER)"))
            connection.execute(text(f"INSERT INTO {quoted} VALUES (7)"))
            connection.execute(text("CREATE SCHEMA other"))
            connection.execute(text("CREATE TABLE other.t (id INTEGER PRIMARY KEY)"))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def maria_url() -> Iterator[str]:
    with mariadb_database() as url:
        yield url


@pytest.fixture(params=["postgresql", "mariadb", "sqlite", "duckdb"])
def source(request, world: World) -> str:
    """A datasource id, once per database, holding the shop schema."""
    kind = request.param
    if kind == "postgresql":
        url = request.getfixturevalue("pg_url")
    elif kind == "mariadb":
        url = request.getfixturevalue("maria_url")
    elif kind == "sqlite":
        url = f"sqlite:///{sqlite_file(world.data)}"
    else:
        url = f"duckdb:///{duckdb_file(world.data)}"
    return world.create(world.admin, kind, url=url).id


def page(world: World, source: str, **params):
    return world.service.schema(
        world.admin, SchemaQuery.model_validate({"datasource_id": source, **params})
    )


def test_tables_views_columns_and_keys(world, source):
    first = page(world, source)
    assert first.schema_ in first.schemas
    by_name = {item.name: item for item in first.items}
    assert {"customers", "orders", "big_orders"} <= set(by_name)
    assert by_name["big_orders"].kind == "view"
    customers, orders = by_name["customers"], by_name["orders"]
    assert customers.kind == "table"
    assert [c.name for c in customers.columns] == ["id", "name", "email"]
    assert customers.primary_key == ["id"]
    assert [(c.name, c.nullable, c.primary_key) for c in customers.columns][1:] == [
        ("name", False, False),
        ("email", True, False),
    ]
    assert "INT" in customers.columns[0].type.upper()
    [fk] = orders.foreign_keys
    assert (fk.columns, fk.referred_table, fk.referred_columns) == (
        ["customer_id"],
        "customers",
        ["id"],
    )
    kind = world.service.get(world.admin, source).dialect
    if kind == "sqlite":
        assert customers.row_estimate is None  # SQLite keeps no estimate
    else:
        assert customers.row_estimate == 2


def test_pages_are_bounded_stable_and_cached_until_refresh(world, source):
    names = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        current = page(world, source, **params)
        assert len(current.items) <= 1
        names += [item.name for item in current.items]
        cursor = current.next
        if cursor is None:
            break
    assert names == sorted(names)
    assert {"customers", "orders", "big_orders"} <= set(names)
    assert current.total == len(names)
    before = page(world, source)
    assert page(world, source).cached_at == before.cached_at
    assert page(world, source, refresh="true").cached_at > before.cached_at


def test_preview_returns_rows_of_a_known_table(world, source):
    result = world.service.preview(
        world.admin, PreviewQuery.model_validate({"datasource_id": source, "table": "orders"})
    )
    assert [c.name for c in result.columns] == ["id", "customer_id", "total", "placed_at"]
    rows = sorted(result.rows)
    assert rows[0][:3] == [10, 1, "12.50"] or rows[0][:3] == [10, 1, 12.5]
    assert rows[0][3].startswith("2026-01-02")
    assert rows[1][3] is None
    assert result.truncated is False
    one = world.service.preview(
        world.admin,
        PreviewQuery.model_validate({"datasource_id": source, "table": "orders", "limit": 1}),
    )
    assert len(one.rows) == 1
    assert one.truncated is True


@pytest.mark.parametrize(
    "table",
    [
        "orders; DROP TABLE customers",
        'orders" --',
        "ord\u0435rs",  # a Cyrillic e: looks like "orders", is not
        "ORDERS ",
        "customers_missing",
    ],
)
def test_preview_of_a_name_the_inspector_did_not_return_is_404(world, source, table):
    with pytest.raises(NotFound, match="not found"):
        world.service.preview(
            world.admin, PreviewQuery.model_validate({"datasource_id": source, "table": table})
        )
    assert len(page(world, source).items) >= 3  # nothing was dropped


def test_unknown_schema_is_404_and_a_forged_cursor_is_422(world, source):
    with pytest.raises(NotFound, match="schema"):
        page(world, source, schema="no_such_schema")
    with pytest.raises(Invalid, match="cursor"):
        page(world, source, cursor="not-a-cursor")


def columns(world: World, source: str, **params):
    return world.service.table_columns(
        world.admin, TableColumnsQuery.model_validate({"datasource_id": source, **params})
    )


def test_names_only_pages_list_relations_without_describing_them(world, source, monkeypatch):
    full = page(world, source)

    def no_describe(self, schema, relations):
        raise AssertionError(f"describe called for {[r.name for r in relations]}")

    monkeypatch.setattr(schema_inspection.SqlAlchemyCatalog, "describe", no_describe)
    monkeypatch.setattr(schema_inspection.DuckDBCatalog, "describe", no_describe)
    names = page(world, source, columns="false")
    assert [(i.name, i.kind, i.row_estimate) for i in names.items] == [
        (i.name, i.kind, i.row_estimate) for i in full.items
    ]
    assert all(not hasattr(item, "columns") for item in names.items)
    dumped = names.model_dump(mode="json", by_alias=True)
    assert set(dumped["items"][0]) == {"name", "kind", "row_estimate"}
    assert (names.total, names.schema_, names.schemas) == (full.total, full.schema_, full.schemas)
    # Paged like the full listing, cursor and all.
    first = page(world, source, columns="false", limit=1)
    second = page(world, source, columns="false", limit=1, cursor=first.next)
    assert [first.items[0].name, second.items[0].name] == [i.name for i in full.items[:2]]
    assert second.schemas is None


def test_one_tables_columns_come_in_pages_with_its_keys(world, source):
    whole = columns(world, source, table="orders")
    assert [c.name for c in whole.columns] == ["id", "customer_id", "total", "placed_at"]
    assert (whole.table, whole.kind, whole.total_columns, whole.next) == (
        "orders",
        "table",
        4,
        None,
    )
    assert whole.primary_key == ["id"]
    assert whole.columns[0].primary_key
    assert not whole.columns[1].primary_key
    assert whole.foreign_keys[0].referred_table == "customers"
    seen, cursor = [], None
    while True:
        current = columns(
            world, source, table="orders", limit=3, **({"cursor": cursor} if cursor else {})
        )
        assert len(current.columns) <= 3
        assert current.total_columns == 4
        seen += [c.name for c in current.columns]
        cursor = current.next
        if cursor is None:
            break
    assert seen == [c.name for c in whole.columns]
    view = columns(world, source, table="big_orders")
    assert view.kind == "view"
    assert view.total_columns >= 1


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"table": "orders; DROP TABLE customers"}, NotFound, "not found"),
        ({"table": "ORDERS "}, NotFound, "not found"),
        ({"table": "orders", "schema": "no_such_schema"}, NotFound, "schema"),
        ({"table": "orders", "cursor": "forged"}, Invalid, "cursor"),
        # A schema-page cursor is not a columns cursor, nor is a negative or far offset.
        ({"table": "orders", "cursor": schema_inspection.encode_position("x")}, Invalid, "cursor"),
        ({"table": "orders", "cursor": schema_inspection.encode_offset(99)}, Invalid, "cursor"),
    ],
)
def test_table_columns_refuse_unknown_names_and_forged_cursors(world, source, params, error, words):
    with pytest.raises(error, match=words):
        columns(world, source, **params)


def test_table_columns_query_bounds():
    from pydantic import ValidationError

    base = {"datasource_id": "a" * 22, "table": "t"}
    for bad in ({"limit": 0}, {"limit": 1001}, {"table": "a\nb"}, {"table": ""}, {"x": 1}):
        with pytest.raises(ValidationError):
            TableColumnsQuery.model_validate({**base, **bad})
    with pytest.raises(Invalid, match="not a cursor"):
        schema_inspection.decode_offset(schema_inspection.encode_offset(-1))


def test_names_with_quotes_and_other_schemas_are_quoted_by_the_dialect(world, pg_url):
    source = world.create(world.admin, "pg", url=pg_url).id
    weird = world.service.preview(
        world.admin, PreviewQuery.model_validate({"datasource_id": source, "table": WEIRD})
    )
    assert weird.rows == [[7]]
    other = page(world, source, schema="other")
    assert [item.name for item in other.items] == ["t"]
    assert "other" in page(world, source).schemas


def test_a_datasource_change_drops_its_cached_schema(world, tmp_path):
    path = sqlite_file(world.data)
    source = world.create(world.admin, "s", url=f"sqlite:///{path}").id
    before = page(world, source)
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE added (id INTEGER)")
    connection.commit()
    connection.close()
    assert page(world, source).total == before.total  # cached
    from analytics_ext.schemas.datasources import DatasourcePatch
    from tests.test_datasources import HERE

    world.service.update(
        world.admin, source, DatasourcePatch.model_validate({"options": {"row_limit": 9}}), HERE
    )
    assert page(world, source).total == before.total + 1


@pytest.mark.slow
def test_first_page_of_a_100k_column_schema_is_bounded_and_fast_cold(world):
    """1000 tables x 100 columns in PostgreSQL: the first page, cold, in under a second."""
    ddl = [
        """
        DO $$
        DECLARE t int;
        BEGIN
          FOR t IN 1..1000 LOOP
            EXECUTE format('CREATE TABLE wide_%s (%s)', lpad(t::text, 4, '0'),
              (SELECT string_agg(format('c%s integer', c), ', ') FROM generate_series(1, 100) c));
          END LOOP;
        END $$;
        """
    ]
    with postgres_database(ddl) as url:
        source = world.create(world.admin, "wide", url=url).id
        started = time.perf_counter()
        first = page(world, source, limit=50)
        elapsed = time.perf_counter() - started
        assert len(first.items) == 50
        assert first.total == 1000
        assert sum(len(item.columns) for item in first.items) == 5000
        assert first.items[0].name == "wide_0001"
        print(f"100k-column schema: first page in {elapsed:.3f} s cold")
        assert elapsed < 1.0, f"first page took {elapsed:.2f} s cold"
        world.connections.dispose_all()

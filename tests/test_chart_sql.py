"""Chart SQL on real databases: the saved query wrapped in aggregation, sort and limit gives
exact values in exact order on PostgreSQL, DuckDB and SQLite; parameters stay bound; odd
column names stay identifiers; histograms bin in Arrow; column and type checks name the field."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from analytics_ext.engine.chart_sql import (
    chart_query,
    check_columns,
    histogram_table,
    plain_numbers,
    strip_terminator,
)
from analytics_ext.engine.runs import QueryEngine, RunState
from analytics_ext.errors import Invalid
from analytics_ext.schemas.charts import ChartSpec
from tests.support.datasources import postgres_database
from tests.support.engine import finished, query_engine, spec_for

pytestmark = pytest.mark.timeout(120)

SALES = [
    ("north", "a", 10, 1.5, "2026-01-01"),
    ("north", "b", 20, 2.5, "2026-01-02"),
    ("south", "a", 5, 3.0, "2026-01-03"),
    ("south", "a", 7, 1.0, "2026-01-04"),
    ("east", "c", 1, 9.0, "2026-01-05"),
    ("north", "a", 30, 2.0, "2026-01-06"),
]
DDL = [
    "CREATE TABLE sales (region VARCHAR(20), product VARCHAR(20), amount INTEGER, "
    "price DOUBLE PRECISION, sold_on DATE)",
    "INSERT INTO sales VALUES "
    + ", ".join(f"('{r}', '{p}', {a}, {c}, DATE '{d}')" for r, p, a, c, d in SALES),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[QueryEngine]:
    with query_engine() as engine:
        yield engine


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database(DDL) as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("chart_sqlite") / "sales.sqlite"
    connection = sqlite3.connect(path)
    connection.execute(DDL[0].replace("DOUBLE PRECISION", "REAL"))
    connection.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", SALES)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def duckdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("chart_duckdb") / "sales.duckdb"
    connection = duckdb.connect(str(path))
    for statement in DDL:
        connection.execute(statement)
    connection.close()
    return f"duckdb:///{path}"


@pytest.fixture(params=["postgresql", "duckdb", "sqlite"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(
        {"postgresql": "pg_url"}.get(request.param, request.param + "_url")
    )


def draw(
    engine: QueryEngine, url: str, sql: str, spec: dict[str, Any], **values: Any
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    source = spec_for(url)
    parsed = ChartSpec.model_validate(spec)
    query = chart_query(sql, parsed, source.dialect, cap=1000)
    run = finished(engine.submit("tester", source, query.sql, values, row_limit=1001))
    assert run.state is RunState.SUCCEEDED, run.error
    assert run.result is not None
    table = run.result.to_table()
    if query.histogram:
        table = histogram_table(table, parsed, query.columns)
    table = plain_numbers(table)
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()], query.columns


def _plain(value: Any) -> Any:
    """Numbers only: a decimal or text value here would be a chart that cannot plot."""
    assert not isinstance(value, Decimal), value
    return value


BAR = {"type": "bar", "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}}}


def test_sum_sorted_by_value_and_limited(engine: QueryEngine, url: str) -> None:
    spec = {**BAR, "aggregation": {"op": "sum"}, "sort": {"by": "y", "order": "descending"}}
    rows, columns = draw(engine, url, "SELECT * FROM sales", {**spec, "limit": 2})
    assert rows == [{"region": "north", "amount": 60}, {"region": "south", "amount": 12}]
    assert columns == {"x": "region", "y": "amount"}


def test_unsorted_aggregates_come_back_in_group_order(engine: QueryEngine, url: str) -> None:
    rows, _ = draw(engine, url, "SELECT * FROM sales", {**BAR, "aggregation": {"op": "mean"}})
    assert rows == [
        {"region": "east", "amount": 1},
        {"region": "north", "amount": 20},
        {"region": "south", "amount": 6},
    ]


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("count_distinct", {"east": 1, "north": 2, "south": 1}),
        ("count", {"east": 1, "north": 3, "south": 2}),
        ("min", {"east": 1, "north": 10, "south": 5}),
        ("max", {"east": 1, "north": 30, "south": 7}),
    ],
)
def test_aggregations(engine: QueryEngine, url: str, op: str, expected: dict[str, int]) -> None:
    spec = {
        "type": "bar",
        "encodings": {
            "x": {"field": "region"},
            "y": {"field": "product" if "count" in op else "amount"},
        },
        "aggregation": {"op": op},
    }
    rows, columns = draw(engine, url, "SELECT * FROM sales", spec)
    assert {row["region"]: row[columns["y"]] for row in rows} == expected


def test_count_of_rows_without_a_y_field(engine: QueryEngine, url: str) -> None:
    spec = {"type": "bar", "encodings": {"x": {"field": "region"}}, "aggregation": {"op": "count"}}
    rows, columns = draw(engine, url, "SELECT * FROM sales", spec)
    assert columns["y"] == "count"
    assert rows == [
        {"region": "east", "count": 1},
        {"region": "north", "count": 3},
        {"region": "south", "count": 2},
    ]


def test_median_where_the_dialect_has_one(engine: QueryEngine, url: str) -> None:
    spec = {**BAR, "aggregation": {"op": "median"}}
    if url.startswith("sqlite"):
        with pytest.raises(Invalid) as refused:
            draw(engine, url, "SELECT * FROM sales", spec)
        assert refused.value.field == "spec.aggregation.op"
        assert "median is not available on sqlite" in refused.value.message
        return
    rows, _ = draw(engine, url, "SELECT * FROM sales", spec)
    assert {row["region"]: row["amount"] for row in rows} == {"east": 1, "north": 20, "south": 6}


def test_parameters_stay_bound_and_a_trailing_semicolon_goes(engine: QueryEngine, url: str) -> None:
    sql = "SELECT * FROM sales WHERE amount >= :min_amount ; -- only big ones"
    spec = {**BAR, "aggregation": {"op": "sum"}}
    rows, _ = draw(engine, url, sql, spec, min_amount=7)
    assert rows == [{"region": "north", "amount": 60}, {"region": "south", "amount": 7}]


def test_a_trailing_comment_does_not_swallow_the_wrapper(engine: QueryEngine, url: str) -> None:
    rows, _ = draw(
        engine, url, "SELECT * FROM sales -- everything", {**BAR, "aggregation": {"op": "sum"}}
    )
    assert len(rows) == 3


def test_odd_column_names_are_identifiers(engine: QueryEngine, url: str) -> None:
    sql = 'SELECT region AS "the ""region""", amount AS "order" FROM sales'
    spec = {
        "type": "bar",
        "encodings": {"x": {"field": 'the "region"'}, "y": {"field": "order"}},
        "aggregation": {"op": "sum"},
        "sort": {"by": "x", "order": "descending"},
    }
    rows, _ = draw(engine, url, sql, spec)
    assert [row['the "region"'] for row in rows] == ["south", "north", "east"]
    assert [row["order"] for row in rows] == [12, 60, 1]


def test_heatmap_groups_by_x_and_y(engine: QueryEngine, url: str) -> None:
    spec = {
        "type": "heatmap",
        "encodings": {
            "x": {"field": "region"},
            "y": {"field": "product"},
            "color": {"field": "amount"},
        },
        "aggregation": {"op": "sum"},
    }
    rows, _ = draw(engine, url, "SELECT * FROM sales", spec)
    assert rows == [
        {"region": "east", "product": "c", "amount": 1},
        {"region": "north", "product": "a", "amount": 40},
        {"region": "north", "product": "b", "amount": 20},
        {"region": "south", "product": "a", "amount": 12},
    ]


def test_unaggregated_rows_sorted_and_limited(engine: QueryEngine, url: str) -> None:
    spec = {
        "type": "scatter",
        "encodings": {"x": {"field": "price"}, "y": {"field": "amount"}},
        "sort": {"by": "x", "order": "descending"},
        "limit": 3,
    }
    rows, _ = draw(engine, url, "SELECT * FROM sales", spec)
    assert rows == [
        {"price": 9.0, "amount": 1},
        {"price": 3.0, "amount": 5},
        {"price": 2.5, "amount": 20},
    ]


def test_histogram_bins_in_arrow(engine: QueryEngine, url: str) -> None:
    spec = {"type": "histogram", "encodings": {"x": {"field": "amount"}}, "bins": 3}
    rows, columns = draw(engine, url, "SELECT * FROM sales", spec)
    assert columns == {"x": "amount", "x_end": "amount_end", "y": "count"}
    assert [row["count"] for row in rows] == [4, 1, 1]
    assert rows[0]["amount"] == 1
    assert rows[-1]["amount_end"] == pytest.approx(30)


def test_histogram_of_dates_per_colour() -> None:
    table = pa.table(
        {
            "day": pa.array([0, 1, 2, 3], pa.int32()).cast(pa.date32()),
            "kind": ["a", "b", "a", "a"],
        }
    )
    spec = ChartSpec.model_validate(
        {
            "type": "histogram",
            "encodings": {"x": {"field": "day"}, "color": {"field": "kind"}},
            "bins": 2,
        }
    )
    columns = {"x": "day", "color": "kind", "x_end": "day_end", "y": "count"}
    binned = histogram_table(table, spec, columns)
    assert binned.schema.field("day").type == pa.date32()
    assert [(str(r["day"]), r["kind"], r["count"]) for r in binned.to_pylist()] == [
        ("1970-01-01", "a", 1),
        ("1970-01-01", "b", 1),
        ("1970-01-02", "a", 2),
    ]


def test_strip_terminator_keeps_inner_semicolons_in_strings() -> None:
    assert strip_terminator("SELECT ';' AS s;;  ", "postgresql") == "SELECT ';' AS s"
    assert strip_terminator("SELECT 1", "sqlite") == "SELECT 1"


SCHEMA = pa.schema(
    [("region", pa.string()), ("amount", pa.int64()), ("sold_on", pa.date32()), ("n", pa.null())]
)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"type": "bar", "encodings": {"x": {"field": "foo"}, "y": {"field": "amount"}}},
            "spec.encodings.x.field",
            "'foo' is not a column of the query (columns: region, amount, sold_on, n)",
        ),
        (
            {"type": "histogram", "encodings": {"x": {"field": "region"}}},
            "spec.encodings.x.field",
            "a histogram bins numbers or dates; 'region' is text",
        ),
        (
            {
                "type": "bar",
                "encodings": {"x": {"field": "amount"}, "y": {"field": "region"}},
                "aggregation": {"op": "sum"},
            },
            "spec.encodings.y.field",
            "sum needs a numeric column; 'region' is text",
        ),
        (
            {"type": "bar", "encodings": {"x": {"field": "amount"}, "y": {"field": "region"}}},
            "spec.encodings.y.field",
            "the y of a bar chart must be a number or a date; 'region' is text (or aggregate it "
            "with count)",
        ),
        (
            {
                "type": "line",
                "encodings": {
                    "x": {"field": "region", "type": "quantitative"},
                    "y": {"field": "amount"},
                },
            },
            "spec.encodings.x.type",
            "'region' is text; it cannot be read as quantitative",
        ),
    ],
)
def test_column_checks_name_the_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_columns(ChartSpec.model_validate(spec), SCHEMA)
    assert (refused.value.field, refused.value.message) == (field, f"{field}: {message}")


def test_fitting_columns_pass_and_all_null_columns_are_not_judged() -> None:
    check_columns(
        ChartSpec.model_validate(
            {"type": "line", "encodings": {"x": {"field": "sold_on"}, "y": {"field": "n"}}}
        ),
        SCHEMA,
    )


def test_every_path_puts_the_source_in_a_subquery() -> None:
    spec = ChartSpec.model_validate({**BAR, "aggregation": {"op": "sum"}})
    query = chart_query("SELECT * FROM sales;", spec, "mysql", cap=10)
    assert query.sql == (
        "SELECT `region`, SUM(`amount`) AS `amount` FROM (\nSELECT * FROM sales\n) AS chart_source"
        "\nGROUP BY 1\nORDER BY 1 ASC\nLIMIT 11"
    )


def test_a_box_plot_keeps_its_values_unaggregated() -> None:
    spec = ChartSpec.model_validate({**BAR, "type": "box", "aggregation": {"op": "mean"}})
    with pytest.raises(Invalid) as refused:
        chart_query("SELECT * FROM sales", spec, "duckdb", cap=10)
    assert refused.value.field == "spec.aggregation"
    raw = chart_query(
        "SELECT * FROM sales", spec.model_copy(update={"aggregation": None}), "duckdb", 10
    )
    assert "GROUP BY" not in raw.sql

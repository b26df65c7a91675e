"""Chart data over HTTP on real PostgreSQL, DuckDB and SQLite datasources: the rows a chart
draws (aggregated, sorted and limited on the datasource) as JSON and as Arrow, with the chart's
parameter values; the row cap says ``truncated``; unsaved specs preview the same way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from traitlets.config import Config

from analytics_ext.services.chart_data import MAX_CHART_ROWS
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query
from tests.test_chart_sql import DDL, SALES

pytestmark = pytest.mark.timeout(120)

SUM_BY_REGION = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
    "sort": {"by": "y", "order": "descending"},
}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


@pytest.fixture
def jp_server_config(jp_server_config: Config, files: Path) -> Config:
    jp_server_config.AnalyticsExtension.datasource_dirs = [str(files)]
    return jp_server_config


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database(DDL) as url:
        yield url


def sqlite_url(folder: Path) -> str:
    path = folder / "sales.sqlite"
    connection = sqlite3.connect(path)
    connection.execute(DDL[0].replace("DOUBLE PRECISION", "REAL"))
    connection.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", SALES)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def duckdb_url(folder: Path) -> str:
    path = folder / "sales.duckdb"
    connection = duckdb.connect(str(path))
    for statement in DDL:
        connection.execute(statement)
    connection.close()
    return f"duckdb:///{path}"


@pytest.fixture(params=["postgresql", "duckdb", "sqlite"])
def source_url(request: pytest.FixtureRequest, files: Path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return {"duckdb": duckdb_url, "sqlite": sqlite_url}[request.param](files)


async def arrow_data(jp_fetch: Any, chart_id: str) -> pa.Table:
    """``?format=arrow`` read as the Arrow IPC stream it is (bytes, not text)."""
    response = await jp_fetch("api", "chart", chart_id, "data", params={"format": "arrow"})
    assert response.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    return pa.ipc.open_stream(response.body).read_all()


async def chart_of(api: ApiClient, source: str, sql: str, spec: dict, **fields: Any) -> dict:
    parameters = fields.pop("query_parameters", [])
    query = await save_query(api, source, sql, parameters=parameters)
    body = {"name": "chart", "query_id": query["id"], "spec": spec, **fields}
    return await api.post("/api/chart", body, expect=201)


async def test_data_is_aggregated_sorted_and_limited_on_the_datasource(
    api: ApiClient, jp_fetch: Any, source_url: str
) -> None:
    source = await make_datasource(api, source_url)
    parameters = [{"name": "min_amount", "type": "number", "default": 0}]
    chart = await chart_of(
        api,
        source,
        "SELECT * FROM sales WHERE amount >= :min_amount",
        {**SUM_BY_REGION, "limit": 2},
        parameters={"min_amount": 6},
        query_parameters=parameters,
    )
    data = await api.get(f"/api/chart/{chart['id']}/data")
    assert data["chart_id"] == chart["id"]
    assert data["channels"] == {"x": "region", "y": "amount"}
    assert data["rows"] == [{"region": "north", "amount": 60}, {"region": "south", "amount": 7}]
    assert data["truncated"] is False
    assert [column["name"] for column in data["columns"]] == ["region", "amount"]

    table = await arrow_data(jp_fetch, chart["id"])
    assert table.column("region").to_pylist() == ["north", "south"]
    assert table.column("amount").to_pylist() == [60, 7]


async def test_histogram_and_count_without_y(api: ApiClient, source_url: str) -> None:
    source = await make_datasource(api, source_url)
    histogram = await chart_of(
        api,
        source,
        "SELECT amount FROM sales",
        {"type": "histogram", "encodings": {"x": {"field": "amount"}}, "bins": 3},
    )
    data = await api.get(f"/api/chart/{histogram['id']}/data")
    assert [row["count"] for row in data["rows"]] == [4, 1, 1]
    assert data["channels"] == {"x": "amount", "x_end": "amount_end", "y": "count"}
    pie = await chart_of(
        api,
        source,
        "SELECT region FROM sales",
        {"type": "pie", "encodings": {"x": {"field": "region"}}, "aggregation": {"op": "count"}},
    )
    rows = (await api.get(f"/api/chart/{pie['id']}/data"))["rows"]
    assert rows == [
        {"region": "east", "count": 1},
        {"region": "north", "count": 3},
        {"region": "south", "count": 2},
    ]


async def test_more_rows_than_a_chart_draws_are_cut_and_flagged(
    api: ApiClient, jp_fetch: Any, files: Path
) -> None:
    source = await make_datasource(api, duckdb_url(files), row_limit=10 * MAX_CHART_ROWS)
    spec = {"type": "scatter", "encodings": {"x": {"field": "i"}, "y": {"field": "i"}}}
    sql = f"SELECT i FROM range({MAX_CHART_ROWS + 5}) AS t(i)"
    chart = await chart_of(api, source, sql, spec)
    table = await arrow_data(jp_fetch, chart["id"])
    assert table.num_rows == MAX_CHART_ROWS
    data = await api.get(f"/api/chart/{chart['id']}/data")
    assert data["truncated"] is True
    assert len(data["rows"]) == MAX_CHART_ROWS
    exact = await chart_of(api, source, f"SELECT i FROM range({MAX_CHART_ROWS}) AS t(i)", spec)
    assert (await api.get(f"/api/chart/{exact['id']}/data"))["truncated"] is False


async def test_the_datasource_row_limit_caps_a_chart_too(api: ApiClient, files: Path) -> None:
    source = await make_datasource(api, duckdb_url(files), row_limit=50)
    spec = {"type": "scatter", "encodings": {"x": {"field": "i"}, "y": {"field": "i"}}}
    chart = await chart_of(api, source, "SELECT i FROM range(60) AS t(i)", spec)
    data = await api.get(f"/api/chart/{chart['id']}/data")
    assert (len(data["rows"]), data["truncated"]) == (50, True)


async def test_preview_of_an_unsaved_spec(api: ApiClient, files: Path) -> None:
    source = await make_datasource(api, sqlite_url(files))
    query = await save_query(api, source, "SELECT * FROM sales")
    body = {"query_id": query["id"], "spec": {**SUM_BY_REGION, "limit": 1}}
    preview = await api.post("/api/chart/preview", body)
    assert preview["chart_id"] is None
    assert preview["rows"] == [{"region": "north", "amount": 60}]
    bad = {
        "query_id": query["id"],
        "spec": {"type": "bar", "encodings": {"x": {"field": "nope"}, "y": {"field": "amount"}}},
    }
    refused = await api.request("POST", "/api/chart/preview", bad, expect=422)
    assert refused.body["message"].startswith("spec.encodings.x.field: 'nope' is not a column")

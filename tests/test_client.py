"""The Python client against a real server process and a real PostgreSQL datasource: connect
from arguments or the kernel's environment, datasources by name, schema, preview, queries with
bound parameters, multi-page Arrow results, cancellation, and readable errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from analytics_ext import client as analytics
from analytics_ext.client import runs
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer, shop_url: str) -> str:
    """A uniquely named datasource on the shop database, made by the owner."""
    name = f"shop-{time.monotonic_ns()}"
    body = {"name": name, "url": shop_url, "options": {"row_limit": 1_000_000}}
    response = requests.post(
        f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
    )
    assert response.status_code == 201, response.text
    return name


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


def test_connects_from_the_kernel_environment(live_server: LiveServer, monkeypatch) -> None:
    monkeypatch.setenv("ANALYTICS_EXT_URL", live_server.url)
    monkeypatch.setenv("ANALYTICS_EXT_TOKEN", live_server.token)
    assert analytics.connect().me()["is_owner"] is True
    monkeypatch.delenv("ANALYTICS_EXT_TOKEN")
    monkeypatch.delenv("ANALYTICS_EXT_API_KEY", raising=False)
    with pytest.raises(analytics.AnalyticsError, match="no credential"):
        analytics.connect()


def test_datasource_by_name_schema_and_preview(client, datasource: str) -> None:
    found = client.datasource(datasource)
    assert client.datasource(found["id"])["name"] == datasource
    tables = {item["name"] for item in client.schema(datasource)["items"]}
    assert {"customers", "orders", "big_orders"} <= tables
    preview = client.preview(datasource, "customers")
    assert list(preview.columns) == ["id", "name", "email"]
    assert sorted(preview["name"]) == ["Ada", "Grace"]


def test_query_binds_parameters_and_returns_a_dataframe(client, datasource: str) -> None:
    hostile = "Ada'; DROP TABLE customers; --"
    frame = client.query(
        "SELECT name, :note AS note FROM customers WHERE id = :id",
        datasource,
        parameters={"id": 1, "note": hostile},
    )
    assert frame.to_dict("records") == [{"name": "Ada", "note": hostile}]
    assert len(client.query("SELECT * FROM customers", datasource)) == 2  # table intact


def test_large_results_arrive_in_arrow_pages(client, datasource: str) -> None:
    rows = runs.ARROW_PAGE_ROWS * 2 + 123
    sql = f"SELECT g AS n FROM generate_series(1, {rows}) AS g"
    with pytest.warns(UserWarning, match="cut at 1000 rows"):  # the default_row_limit setting
        assert client.query_arrow(sql, datasource).num_rows == 1000
    run = client.run(sql, datasource, row_limit=rows)
    table = run.wait(timeout=60).arrow()
    assert not run.truncated  # exactly the cap is a complete result
    assert table.num_rows == rows == run.rows
    assert table.column("n").to_pylist()[:: runs.ARROW_PAGE_ROWS] == [1, 100_001, 200_001]
    assert run.arrow(offset=rows - 2).column("n").to_pylist() == [rows - 1, rows]
    page = run.page(offset=5, limit=3)
    assert [row["n"] for row in page["rows"]] == [6, 7, 8]
    assert page["total_rows"] == rows


def test_cancel_stops_a_running_query(client, datasource: str) -> None:
    run = client.run("SELECT pg_sleep(30)", datasource)
    deadline = time.monotonic() + 10
    while run.refresh().state == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    run.cancel()
    with pytest.raises(analytics.QueryCancelled):
        run.wait(timeout=15)


def test_errors_are_readable(client, datasource: str, live_server: LiveServer) -> None:
    with pytest.raises(analytics.QueryFailed, match="no_such_table"):
        client.query("SELECT * FROM no_such_table", datasource)
    with pytest.raises(analytics.NotFound, match="no datasource named 'nope'"):
        client.query("SELECT 1", "nope")
    with pytest.raises(analytics.InvalidRequest, match="sql"):
        client.run("", datasource)
    with pytest.raises(analytics.AuthenticationFailed) as refused:
        analytics.connect(live_server.url, "aek_" + "x" * 56).me()
    assert refused.value.status == 401
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(analytics.ServerUnreachable, match="cannot reach"):
        analytics.connect(f"http://127.0.0.1:{closed}/", "token").me()

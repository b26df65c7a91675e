"""The client's chart calls against a real server process and a real PostgreSQL datasource:
charts CRUD, their rows as Arrow and JSON (aggregated on the server), previews of unsaved specs,
chart templates, share links, exports, and readable errors."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import requests
from sqlalchemy import create_engine, text

from analytics_ext import client as analytics
from analytics_ext.client.charts import chart_columns
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.timeout(180)

SALES_DDL = [
    "CREATE TABLE sales (region TEXT, day DATE, amount NUMERIC(10, 2), qty INTEGER)",
    "INSERT INTO sales VALUES ('EMEA', '2024-01-01', 10.00, 1), ('EMEA', '2024-01-02', 20.00, 2),"
    " ('APAC', '2024-01-01', 5.50, 3), ('AMER', '2024-01-03', 7.25, 4)",
    "CREATE TABLE doomed (n INTEGER)",
    "INSERT INTO doomed VALUES (1), (2)",
]
BY_REGION = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
    "sort": {"by": "y", "order": "descending"},
}


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(SALES_DDL) as url:
        yield url


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


@pytest.fixture(scope="module")
def datasource(owner: analytics.AnalyticsClient, live_server: LiveServer, sales_url: str) -> str:
    body = {"name": f"charts-{time.monotonic_ns()}", "url": sales_url}
    response = requests.post(
        f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def query_id(owner: analytics.AnalyticsClient, datasource: str) -> str:
    sql = "SELECT region, day, amount, qty FROM sales"
    return owner.save_query(f"sales-{time.monotonic_ns()}", sql, datasource)["id"]


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def test_chart_lifecycle_and_its_rows(owner, query_id: str) -> None:
    title = "<b>Sales</b> & more"
    chart = owner.create_chart(unique("by region"), query_id, BY_REGION, {"title": title})
    assert chart["permission"] == "manage"
    assert chart["customization"] == {**chart["customization"], "title": title}
    assert owner.chart(chart["id"])["spec"]["aggregation"] == {"op": "sum"}
    assert chart["id"] in {c["id"] for c in owner.charts(query_id=query_id)}

    table = owner.chart_arrow(chart["id"])
    assert isinstance(table, pa.Table)
    assert table.column("region").to_pylist() == ["EMEA", "AMER", "APAC"]
    assert table.column("amount").to_pylist() == [30.0, 7.25, 5.5]
    frame = owner.chart_data(chart["id"])
    assert frame.to_dict("list") == {
        "region": ["EMEA", "AMER", "APAC"],
        "amount": [30.0, 7.25, 5.5],
    }
    as_json = owner.chart_data_json(chart["id"])
    assert as_json["channels"] == chart_columns(BY_REGION) == {"x": "region", "y": "amount"}
    assert [row["amount"] for row in as_json["rows"]] == [30.0, 7.25, 5.5]
    assert as_json["truncated"] is False

    renamed = owner.update_chart(chart["id"], name="renamed", customization={"x_label": "Where"})
    assert renamed["name"] == "renamed"
    assert renamed["customization"]["x_label"] == "Where"
    assert renamed["customization"].get("title") is None  # replaced whole
    owner.delete_chart(chart["id"])
    with pytest.raises(analytics.NotFound):
        owner.chart(chart["id"])


@pytest.mark.parametrize(
    "spec",
    [
        BY_REGION,
        {"type": "bar", "encodings": {"x": {"field": "region"}}, "aggregation": {"op": "count"}},
        {"type": "histogram", "encodings": {"x": {"field": "amount"}}, "bins": 4},
        {
            "type": "scatter",
            "encodings": {"x": {"field": "qty"}, "y": {"field": "qty"}, "size": {"field": "qty"}},
            "aggregation": {"op": "max"},
        },
        {"type": "line", "encodings": {"x": {"field": "day"}, "y": {"field": "amount"}}},
    ],
    ids=["sum", "count", "histogram", "same-field-twice", "raw-line"],
)
def test_previews_name_their_columns_as_chart_columns_does(owner, query_id: str, spec) -> None:
    preview = owner.chart_preview(query_id, spec)
    assert preview["channels"] == chart_columns(spec)
    table, truncated = owner.chart_preview_arrow(query_id, spec)
    assert not truncated
    assert table.column_names == [column["name"] for column in preview["columns"]]
    assert table.num_rows == len(preview["rows"])


def test_preview_rows_keep_the_servers_types(owner, query_id: str) -> None:
    spec = {
        "type": "line",
        "encodings": {"x": {"field": "day"}, "y": {"field": "qty"}},
        "aggregation": {"op": "sum"},
    }
    table, _ = owner.chart_preview_arrow(query_id, spec)
    assert pa.types.is_date(table.schema.field("day").type)
    assert table.column("day").to_pylist() == [
        dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
    ]  # fmt: skip
    assert table.column("qty").to_pylist() == [4, 2, 4]


def test_templates_from_a_chart_applied_to_a_query(owner, query_id: str) -> None:
    chart = owner.create_chart(unique("source"), query_id, BY_REGION, {"title": "Top"})
    template = owner.create_chart_template(unique("preset"), from_chart_id=chart["id"])
    assert {role["channel"] for role in template["roles"]} == {"x", "y"}
    assert owner.chart_template(template["id"])["customization"]["title"] == "Top"
    assert template["id"] in {t["id"] for t in owner.chart_templates()}
    applied = owner.apply_chart_template(
        template["id"], query_id, unique("applied"), bindings={"x": "region", "y": "qty"}
    )
    assert applied["spec"]["encodings"]["y"]["field"] == "qty"
    assert owner.chart_arrow(applied["id"]).column("qty").to_pylist() == [4, 3, 3]
    changed = owner.update_chart_template(template["id"], description="by region")
    assert changed["description"] == "by region"
    owner.delete_chart_template(template["id"])
    with pytest.raises(analytics.NotFound):
        owner.chart_template(template["id"])


def test_share_links_open_the_chart_until_revoked(owner, query_id: str) -> None:
    chart = owner.create_chart(unique("shared"), query_id, BY_REGION)
    link = owner.share_chart(chart["id"], link=True)
    assert link["token"]
    assert link["url"]
    opened = requests.get(link["url"], timeout=30)
    assert opened.status_code == 200
    assert opened.json()["id"] == chart["id"]
    assert link["id"] in {grant["id"] for grant in owner.chart_grants(chart["id"])}
    owner.revoke_chart_grant(link["id"])
    assert requests.get(link["url"], timeout=30).status_code == 404
    with pytest.raises(analytics.AnalyticsError, match="not both"):
        owner.share_chart(chart["id"])


def test_exports_pictures_rows_and_files(owner, query_id: str, tmp_path: Path) -> None:
    chart = owner.create_chart(unique("exported"), query_id, BY_REGION)
    png = owner.export_chart(chart["id"], "png", width=320, height=200)
    assert isinstance(png, bytes)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    target = owner.export_chart(chart["id"], "svg", path=tmp_path / "chart.svg")
    assert target == tmp_path / "chart.svg"
    assert target.read_text().startswith("<svg")
    assert not (tmp_path / "chart.svg.part").exists()
    rows = owner.export_chart(format="csv", query_id=query_id, spec=BY_REGION)
    assert rows.decode().splitlines()[1:] == ['"EMEA",30', '"AMER",7.25', '"APAC",5.5']


def test_errors_are_readable(owner, query_id: str, datasource: str, sales_url: str) -> None:
    with pytest.raises(analytics.NotFound):
        owner.chart("A" * 22)
    with pytest.raises(analytics.InvalidRequest, match=r"spec\.encodings\.y\.field"):
        owner.create_chart(
            "bad",
            query_id,
            {"type": "bar", "encodings": {"x": {"field": "region"}, "y": {"field": "nope"}}},
        )
    doomed = owner.save_query(unique("doomed"), "SELECT n FROM doomed", datasource)
    spec = {"type": "line", "encodings": {"x": {"field": "n"}, "y": {"field": "n"}}}
    chart = owner.create_chart(unique("doomed"), doomed["id"], spec)
    engine = create_engine(sales_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE doomed"))
    engine.dispose()
    with pytest.raises(analytics.AnalyticsError, match="doomed") as failed:
        owner.chart_arrow(chart["id"])
    assert failed.value.status == 400
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(analytics.ServerUnreachable):
        analytics.connect(f"http://127.0.0.1:{closed}/", "token").chart(chart["id"])

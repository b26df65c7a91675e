"""The client's dashboard calls against a real server process and a real PostgreSQL datasource:
CRUD with the board's rules as readable errors, publishing, a tile's data as an Arrow table of
the server's types (filters, the result cache and Refresh), static exports, share links, and
sharing with another account on a team server (who sees the tiles' data through the dashboard,
never the saved query behind it)."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pyarrow as pa
import pytest
import requests

from analytics_ext import client as analytics
from analytics_ext.client.dashboards import TileData
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer, seed_account, start_live_server

pytestmark = pytest.mark.timeout(240)

PASSWORD = "granite heron at noon 7"  # a test account's password
SALES_DDL = [
    "CREATE TABLE sales (region TEXT, day DATE, amount NUMERIC(10, 2), qty INTEGER)",
    "INSERT INTO sales VALUES ('EMEA', '2024-01-01', 10.00, 1), ('EMEA', '2024-01-02', 20.00, 2),"
    " ('APAC', '2024-01-01', 5.50, 3), ('AMER', '2024-01-03', 7.25, 4)",
]
BY_REGION = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
    "sort": {"by": "y", "order": "descending"},
}
SQL = "SELECT region, day, amount, qty FROM sales WHERE qty >= :least ORDER BY qty"
LEAST = {"name": "least", "type": "number", "default": 0, "integer": True}


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(SALES_DDL) as url:
        yield url


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


@pytest.fixture(scope="module")
def objects(owner, sales_url: str) -> dict[str, str]:
    """A datasource, a saved query with a parameter and a chart of it."""
    datasource = owner.transport.json(
        "POST",
        "api/datasources",
        json={
            "name": unique("dash-client"),
            "url": sales_url,
            "options": {"cache_ttl_seconds": 600},
        },
    )["id"]
    query = owner.save_query(unique("sales"), SQL, datasource, parameters=[LEAST])["id"]
    chart = owner.create_chart(unique("by region"), query, BY_REGION)["id"]
    return {"datasource": datasource, "query": query, "chart": chart}


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def board(objects: dict[str, str], row_limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
    tiles = [
        {"id": "table", "type": "query", "query_id": objects["query"], "row_limit": row_limit},
        {"id": "chart", "type": "chart", "chart_id": objects["chart"]},
        {"id": "notes", "type": "markdown", "text": "*hello*"},
        {
            "id": "least",
            "type": "filter",
            "parameter": LEAST,
            "targets": [{"tile": "table", "parameter": "least"}],
        },
    ]
    layout = [
        {"tile": "table", "x": 0, "y": 0, "w": 6, "h": 4},
        {"tile": "chart", "x": 6, "y": 0, "w": 6, "h": 4},
        {"tile": "notes", "x": 0, "y": 4, "w": 6, "h": 1},
        {"tile": "least", "x": 6, "y": 4, "w": 6, "h": 1},
    ]
    return {"tiles": tiles, "layout": layout}


def test_dashboard_lifecycle_and_readable_errors(owner, objects: dict[str, str]) -> None:
    title = unique("<b>Revenue</b>")
    created = owner.create_dashboard(
        title, **board(objects), description="weekly", refresh_seconds=60, tags=["sales"]
    )
    assert created["permission"] == "manage"
    assert created["title"] == title
    assert [tile["id"] for tile in created["tiles"]] == ["table", "chart", "notes", "least"]
    assert created["refresh_seconds"] == 60
    assert created["viewer_url"] is None
    assert owner.dashboard(created["id"])["layout"] == created["layout"]
    assert created["id"] in {d["id"] for d in owner.dashboards(search=title)}
    assert created["id"] in {d["id"] for d in owner.dashboards(tag="sales", owner="me")}

    changed = owner.update_dashboard(
        created["id"], title="Renamed", base_version=created["version"]
    )
    assert (changed["title"], changed["version"]) == ("Renamed", created["version"] + 1)
    with pytest.raises(analytics.Conflict):
        owner.update_dashboard(created["id"], title="stale", base_version=created["version"])

    versions = owner.dashboard_versions(created["id"])
    assert [v["version"] for v in versions] == [changed["version"], created["version"]]
    assert owner.dashboard_version(created["id"], created["version"])["title"] == title
    restored = owner.restore_dashboard(created["id"], created["version"])
    assert (restored["title"], restored["version"]) == (title, changed["version"] + 1)

    overlapping = board(objects)
    overlapping["layout"][1]["x"] = 4
    with pytest.raises(analytics.InvalidRequest, match=r"layout\.1: 'chart' overlaps 'table'"):
        owner.create_dashboard("overlaps", **overlapping)
    with pytest.raises(analytics.InvalidRequest, match=r"tiles\.0\.query_id"):
        owner.create_dashboard(
            "missing",
            [{"id": "t", "type": "query", "query_id": "A" * 22}],
            [{"tile": "t", "x": 0, "y": 0, "w": 12, "h": 1}],
        )

    owner.delete_dashboard(created["id"])
    with pytest.raises(analytics.NotFound):
        owner.dashboard(created["id"])


def test_tile_data_keeps_the_servers_types_and_honours_filters_and_refresh(
    owner, objects: dict[str, str]
) -> None:
    dashboard = owner.create_dashboard(unique("data"), **board(objects))
    table = owner.tile_data(dashboard["id"], "table")
    assert isinstance(table, TileData)
    assert (table.tile_id, table.type, table.chart) == ("table", "query", None)
    assert table.table.schema.types == [
        pa.string(), pa.date32(), pa.decimal128(10, 2), pa.int32(),
    ]  # fmt: skip
    assert [c["type"] for c in table.columns] == [str(t) for t in table.table.schema.types]
    assert table.table.column("qty").to_pylist() == [1, 2, 3, 4]
    assert table.rows[0][:2] == ["EMEA", datetime(2024, 1, 1).date()]
    assert table.to_pandas()["region"].tolist() == ["EMEA", "EMEA", "APAC", "AMER"]
    assert table.refreshed_at is not None
    assert table.refreshed_at.tzinfo is not None
    assert not table.truncated

    again = owner.tile_data(dashboard["id"], "table")
    assert again.cached
    fresh = owner.tile_data(dashboard["id"], "table", refresh=True)
    assert not fresh.cached

    filtered = owner.tile_data(dashboard["id"], "table", filters={"least": 3})
    assert filtered.table.column("qty").to_pylist() == [3, 4]
    with pytest.raises(analytics.InvalidRequest, match="least"):
        owner.tile_data(dashboard["id"], "table", filters={"least": "many"})

    chart = owner.tile_data(dashboard["id"], "chart")
    assert chart.type == "chart"
    assert chart.chart is not None
    assert chart.chart["spec"]["type"] == "bar"
    assert set(chart.chart["channels"]) >= {"x", "y"}
    x, y = chart.chart["channels"]["x"], chart.chart["channels"]["y"]
    assert chart.table.column(x).to_pylist() == ["EMEA", "AMER", "APAC"]
    assert [float(v) for v in chart.table.column(y).to_pylist()] == [30.0, 7.25, 5.5]

    with pytest.raises(analytics.NotFound):
        owner.tile_data(dashboard["id"], "nope")
    with pytest.raises(analytics.InvalidRequest):
        owner.tile_data(dashboard["id"], "notes")  # a markdown tile has no data

    cut = owner.create_dashboard(unique("cut"), **board(objects, row_limit=2))
    first = owner.tile_data(cut["id"], "table")
    assert first.truncated
    assert first.num_rows == 2


def test_exports_are_self_contained_files(owner, objects: dict[str, str], tmp_path: Path):
    title = unique("Exported <i>board</i>")
    dashboard = owner.create_dashboard(title, **board(objects))
    page = owner.export_dashboard(dashboard["id"], "html")
    assert isinstance(page, bytes)
    text = page.decode()
    assert "&lt;i&gt;board&lt;/i&gt;" in text
    assert "<i>board</i>" not in text
    assert "<script" not in text.lower()
    assert not re.search(r"""\bsrc=["']?(https?:)?//""", text)  # nothing fetched from elsewhere
    target = owner.export_dashboard(dashboard["id"], "html", path=tmp_path / "board.html")
    assert target == tmp_path / "board.html"
    assert "&lt;i&gt;board&lt;/i&gt;" in target.read_text()
    assert not (tmp_path / "board.html.part").exists()
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        pdf = owner.export_dashboard(dashboard["id"], "pdf", path=tmp_path / "board.pdf")
        assert pdf.read_bytes().startswith(b"%PDF")


def test_share_links_open_the_dashboard_and_nothing_else(owner, objects: dict[str, str]):
    dashboard = owner.create_dashboard(unique("linked"), **board(objects))
    expires = datetime.now(UTC) + timedelta(days=1)
    link = owner.share_dashboard_link(dashboard["id"], expires_at=expires)
    assert link["token"]
    assert link["url"].split("?")[0].endswith(f"analytics/dashboards/{dashboard['id']}")
    grants = owner.dashboard_grants(dashboard["id"])
    assert link["id"] in {grant["id"] for grant in grants}
    assert all(not grant.get("token") for grant in grants)
    with analytics.connect(owner.url, link["token"]) as guest:
        assert guest.dashboard(dashboard["id"])["permission"] == "view"
        data = guest.tile_data(dashboard["id"], "table", filters={"least": 2})
        assert data.table.column("qty").to_pylist() == [2, 3, 4]
        with pytest.raises(analytics.NotFound):
            guest.saved_query(objects["query"])
        with pytest.raises(analytics.AnalyticsError):
            guest.update_dashboard(dashboard["id"], title="defaced")
        with pytest.raises(analytics.AnalyticsError):
            guest.publish_dashboard(dashboard["id"])
        owner.revoke_dashboard_grant(link["id"])
        with pytest.raises((analytics.AuthenticationFailed, analytics.NotFound)):
            guest.dashboard(dashboard["id"])
    assert owner.dashboard(dashboard["id"])["title"] == dashboard["title"]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A team server: an admin who owns the dashboard, and a user it is shared with."""
    with postgres_database([]) as store_url:
        seed_account(store_url, "chief", PASSWORD, is_admin=True)
        viewer = seed_account(store_url, "viewer", PASSWORD)
        extra = [
            "--AnalyticsExtension.multi_user=True",
            f"--AnalyticsExtension.db_url={store_url}",
            f"--AnalyticsExtension.jwt_signing_key={secrets.token_urlsafe(48)}",
            "--AnalyticsExtension.dashboard_viewers=False",
        ]
        with start_live_server(tmp_path_factory.mktemp("team"), extra_args=extra) as server:
            tokens = {
                name: requests.post(
                    f"{server.url}api/auth/login",
                    json={"username": name, "password": PASSWORD},
                    timeout=30,
                ).json()["access_token"]
                for name in ("chief", "viewer")
            }
            yield {"server": server, "tokens": tokens, "viewer_id": viewer.id}


def test_a_viewer_sees_the_tiles_through_the_dashboard_only(
    team: dict[str, Any], sales_url: str
) -> None:
    server, tokens = team["server"], team["tokens"]
    with (
        analytics.connect(server.url, tokens["chief"]) as chief,
        analytics.connect(server.url, tokens["viewer"]) as viewer,
    ):
        objects = team_objects(chief, sales_url)
        query, chart = objects["query"], objects["chart"]
        dashboard = chief.create_dashboard(unique("team board"), **board(objects))
        with pytest.raises(analytics.NotFound):
            viewer.dashboard(dashboard["id"])
        with pytest.raises(analytics.NotFound):
            viewer.tile_data(dashboard["id"], "table")

        grant = chief.share_dashboard(dashboard["id"], user_id=team["viewer_id"])
        assert grant["level"] == "view"
        assert dashboard["id"] in {d["id"] for d in viewer.dashboards(owner="shared")}
        assert viewer.dashboard(dashboard["id"])["permission"] == "view"
        rows = viewer.tile_data(dashboard["id"], "table", filters={"least": 4})
        assert rows.table.column("region").to_pylist() == ["AMER"]
        with pytest.raises(analytics.NotFound):
            viewer.saved_query(query)  # the data, through the dashboard only
        with pytest.raises(analytics.NotFound):
            viewer.chart(chart)
        with pytest.raises(analytics.PermissionDenied):
            viewer.update_dashboard(dashboard["id"], title="mine now")
        with pytest.raises((analytics.PermissionDenied, analytics.NotFound)):
            viewer.dashboard_grants(dashboard["id"])

        chief.share_dashboard(dashboard["id"], user_id=team["viewer_id"], level="edit")
        assert viewer.update_dashboard(dashboard["id"], title="edited")["title"] == "edited"
        held = chief.dashboard_grants(dashboard["id"])
        assert [g["level"] for g in held if g["principal_id"] == team["viewer_id"]][-1] == "edit"
        for grant in held:
            chief.revoke_dashboard_grant(grant["id"])
        with pytest.raises(analytics.NotFound):
            viewer.dashboard(dashboard["id"])


def test_publishing_writes_the_viewers_notebook(team: dict[str, Any], sales_url: str) -> None:
    server: LiveServer = team["server"]  # a server without a Voila process (viewers off)
    with analytics.connect(server.url, team["tokens"]["chief"]) as chief:
        objects = team_objects(chief, sales_url)
        dashboard = chief.create_dashboard(unique("published"), **board(objects))
        published = chief.publish_dashboard(dashboard["id"])
        assert published["dashboard_id"] == dashboard["id"]
        assert published["version"] == dashboard["version"]
        assert published["notebook"] == f"{dashboard['id']}.ipynb"
        assert published["viewer_url"].endswith(f"analytics/dashboards/{dashboard['id']}")
        seen = chief.dashboard(dashboard["id"])
        assert seen["published_version"] == dashboard["version"]
        assert seen["viewer_url"] == published["viewer_url"]
        folder = server.root.parent / "data" / "analytics_ext" / "dashboards"
        notebook = nbformat.read(folder / published["notebook"], as_version=4)
        (cell,) = notebook.cells
        assert f'show("{dashboard["id"]}", version=1)' in cell.source
        assert "analytics_ext.dashboards.view" in cell.source
        chief.unpublish_dashboard(dashboard["id"])
        assert chief.dashboard(dashboard["id"])["viewer_url"] is None
        assert not (folder / published["notebook"]).exists()


def team_objects(chief: analytics.AnalyticsClient, sales_url: str) -> dict[str, str]:
    """A datasource, a saved query and a chart owned by the team server's admin."""
    datasource = chief.transport.json(
        "POST", "api/datasources", json={"name": unique("team"), "url": sales_url}
    )["id"]
    query = chief.save_query(unique("q"), SQL, datasource, parameters=[LEAST])["id"]
    chart = chief.create_chart(unique("c"), query, BY_REGION)["id"]
    return {"datasource": datasource, "query": query, "chart": chart}

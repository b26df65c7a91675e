"""``show(dashboard_id)``, what a published dashboard's kernel runs, against a real server and
real PostgreSQL data: the grid places each tile at its cell, the chart tile is a bqplot figure
of the chart's rows, markdown and titles cannot carry script, a filter re-runs only the tiles
it targets, Refresh and the refresh timer re-run every data tile past the cache, a failing
tile says the server's reason while the others load, and a dashboard kernel's token (a kernel
link for that one dashboard) draws the dashboard from its environment alone and opens nothing
else. Tile-data requests are counted by wrapping the client's real ``tile_data`` method."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import pytest
import requests
from sqlalchemy import create_engine, text

from analytics_ext import client as analytics
from analytics_ext.dashboards.tile_widgets import (
    ChartTile,
    FilterTile,
    MarkdownTile,
    QueryTableTile,
)
from analytics_ext.dashboards.view import DashboardView, show
from analytics_ext.services.activity import ActivityLog
from analytics_ext.services.dashboards import DASHBOARD, LEVELS
from analytics_ext.services.sharing import SharedKind, SharingService
from analytics_ext.store import Database
from analytics_ext.store.models import Dashboard
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer
from tests.support.widgets import recording_comms

pytestmark = pytest.mark.timeout(300)

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
TITLE = '<b>Sales</b> & <script>alert("t")</script>'
MARKDOWN = (
    "## Notes\n\nRevenue **by region**.\n\n<script>alert('md')</script>\n\n"
    "<img src=x onerror=alert('img')>\n"
)
LAYOUT = [
    {"tile": "table", "x": 0, "y": 0, "w": 7, "h": 4},
    {"tile": "chart", "x": 7, "y": 0, "w": 5, "h": 4},
    {"tile": "notes", "x": 0, "y": 4, "w": 8, "h": 2},
    {"tile": "least", "x": 8, "y": 4, "w": 4, "h": 1},
]


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(SALES_DDL) as url:
        yield url


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer, sales_url: str) -> str:
    body = {
        "name": unique("dashboard-view"),
        "url": sales_url,
        "options": {"cache_ttl_seconds": 600},
    }
    response = requests.post(
        f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def sales_query(owner, datasource: str) -> str:
    sql = "SELECT region, day, amount, qty FROM sales WHERE qty >= :least ORDER BY qty"
    parameter = {"name": "least", "type": "number", "default": 0, "integer": True}
    return owner.save_query(unique("sales"), sql, datasource, parameters=[parameter])["id"]


@pytest.fixture(scope="module")
def chart_id(owner, sales_query: str) -> str:
    return owner.create_chart(unique("by region"), sales_query, BY_REGION)["id"]


@pytest.fixture(scope="module")
def board(owner, sales_query: str, chart_id: str) -> dict[str, Any]:
    """The four-tile dashboard: a query table, a bar chart, markdown with markup in it, and a
    filter bound to the table's query only."""
    tiles = [
        {"id": "table", "type": "query", "title": "Orders <i>raw</i>", "query_id": sales_query},
        {"id": "chart", "type": "chart", "title": "By region", "chart_id": chart_id},
        {"id": "notes", "type": "markdown", "title": "Read me", "text": MARKDOWN},
        {
            "id": "least",
            "type": "filter",
            "title": "Smallest quantity",
            "parameter": {"name": "least", "type": "number", "default": 0, "integer": True,
                          "minimum": 0, "maximum": 100},
            "targets": [{"tile": "table", "parameter": "least"}],
        },
    ]  # fmt: skip
    return owner.create_dashboard(TITLE, tiles, LAYOUT, description="Line one <u>\nline two")


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


class CountingClient(analytics.AnalyticsClient):
    """A real client whose ``tile_data`` calls are recorded before they are sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, dict[str, Any], bool]] = []
        self._lock = threading.Lock()

    def tile_data(
        self, dashboard_id, tile_id, filters=None, refresh=False, timeout=None, version=None
    ):
        with self._lock:
            self.calls.append((tile_id, dict(filters or {}), refresh))
        return super().tile_data(dashboard_id, tile_id, filters, refresh, timeout, version)

    def take(self) -> list[tuple[str, dict[str, Any], bool]]:
        with self._lock:
            calls, self.calls = sorted(self.calls, key=repr), []
        return calls


@pytest.fixture
def counting(live_server: LiveServer) -> Iterator[CountingClient]:
    with CountingClient(live_server.url, live_server.token) as connected:
        yield connected


def no_threads_left(view: DashboardView) -> bool:
    view._background.join(10)
    prefixes = ("analytics-widget-", f"analytics-dashboard-{view.dashboard_id}")
    return not [t for t in threading.enumerate() if t.name.startswith(prefixes) and t.is_alive()]


def table_values(tile: QueryTableTile, column: str) -> list[Any]:
    assert tile.data is not None
    return tile.data.table.column(column).to_pylist()


def test_show_places_every_tile_and_draws_it(owner, board: dict[str, Any]) -> None:
    with recording_comms() as comms:
        view = show(board["id"], owner).wait(60)
    try:
        assert view.grid.layout.grid_template_columns == "repeat(12, 1fr)"
        assert set(view.grid.children) == set(view.tiles.values())
        for item in LAYOUT:
            card = view.tiles[item["tile"]]
            area = f"{item['y'] + 1} / {item['x'] + 1} / span {item['h']} / span {item['w']}"
            assert card.layout.grid_area == area
            assert (card.layout.grid_row, card.layout.grid_column) == (None, None)
        table, chart = view.tiles["table"], view.tiles["chart"]
        assert isinstance(table, QueryTableTile)
        assert isinstance(chart, ChartTile)
        assert (table.status, chart.status) == ("ready", "ready"), (table.error, chart.error)
        assert table_values(table, "qty") == [1, 2, 3, 4]
        assert str(table.data.table.schema.field("day").type) == "date32[day]"
        assert "<td>2024-01-01</td>" in table.table.value
        (bars,) = chart.figure.marks
        assert isinstance(bars, bq.Bars)
        assert list(bars.x) == ["EMEA", "AMER", "APAC"]
        assert bars.y.tolist() == [30.0, 7.25, 5.5]
        assert isinstance(view.tiles["notes"], MarkdownTile)
        assert isinstance(view.filters["least"], FilterTile)
        assert isinstance(view.filters["least"].control, widgets.BoundedIntText)
        assert view.filters["least"].control.value == 0
        # comms opened for the real widgets, the figure among them
        assert any(model == "FigureModel" for _, model, _ in comms.messages)
    finally:
        view.close()
    assert no_threads_left(view)


def test_markdown_and_titles_cannot_carry_markup(owner, board: dict[str, Any]) -> None:
    view = DashboardView(owner, owner.dashboard(board["id"]), load=False)
    try:
        notes = view.tiles["notes"].html.value
        assert "<h2>Notes</h2>" in notes
        assert "<strong>by region</strong>" in notes
        assert "<script" not in notes.lower()
        assert "<img" not in notes.lower()
        assert not re.search(r"<[^>]*\bon\w+\s*=", notes), notes
        assert "&lt;script&gt;" in notes  # shown as text, not dropped silently
        header = view.header.value
        assert "&lt;b&gt;Sales&lt;/b&gt; &amp; &lt;script&gt;" in header
        assert "<b>" not in header
        assert "<script" not in header
        assert "&lt;u&gt;" in header  # the description is escaped too
        assert "Orders &lt;i&gt;raw&lt;/i&gt;" in view.tiles["table"].title.value
        assert "<i>" not in view.tiles["table"].title.value
    finally:
        view.close()


def test_a_filter_reruns_only_its_targets(counting: CountingClient, board: dict[str, Any]):
    view = show(board["id"], counting).wait(60)
    try:
        assert counting.take() == [("chart", {}, False), ("table", {}, False)]
        chart_figure = view.tiles["chart"].figure

        jobs = view.set_filter("least", 3)
        assert len(jobs) == 1
        view.wait(60)
        assert counting.take() == [("table", {"least": 3}, False)]
        assert table_values(view.tiles["table"], "qty") == [3, 4]
        assert view.tiles["chart"].loads == 1
        assert view.tiles["chart"].figure is chart_figure

        # a viewer typing into the control does the same
        view.filters["least"].control.value = 4
        view.wait(60)
        assert counting.take() == [("table", {"least": 4}, False)]
        assert table_values(view.tiles["table"], "qty") == [4]
        assert view.tiles["table"].loads == 3
        assert view.tiles["chart"].loads == 1

        with pytest.raises(ValueError, match="between"):
            view.set_filter("least", 101)
        with pytest.raises(KeyError):
            view.set_filter("chart", 1)
        assert counting.take() == []
    finally:
        view.close()
    assert no_threads_left(view)


def test_refresh_reruns_every_data_tile_past_the_cache(
    counting: CountingClient, board: dict[str, Any]
) -> None:
    view = show(board["id"], counting).wait(60)
    try:
        counting.take()
        view.set_filter("least", 2)
        view.wait(60)
        counting.take()
        view.refresh_button.click()
        view.wait(60)
        assert counting.take() == [("chart", {}, True), ("table", {"least": 2}, True)]
        assert not view.tiles["table"].data.cached
        assert not view.tiles["chart"].data.cached
        assert table_values(view.tiles["table"], "qty") == [2, 3, 4]
        assert len(view.refresh()) == 2
        view.wait(60)
        assert len(counting.take()) == 2
    finally:
        view.close()


def test_refresh_timer_runs_until_the_view_closes(
    counting: CountingClient, board: dict[str, Any]
) -> None:
    dashboard = {**counting.dashboard(board["id"]), "refresh_seconds": 1}
    view = DashboardView(counting, dashboard).wait(60)
    try:
        assert sorted(call[0] for call in counting.take()) == ["chart", "table"]
        deadline = time.monotonic() + 30
        seen: list[tuple[str, dict[str, Any], bool]] = []
        while {"chart", "table"} - {c[0] for c in seen if c[2]} and time.monotonic() < deadline:
            time.sleep(0.2)
            seen.extend(counting.take())
        assert {("chart", True), ("table", True)} <= {(tile, refresh) for tile, _, refresh in seen}
    finally:
        view.close()
    assert no_threads_left(view)
    counting.take()
    time.sleep(2.5)
    assert counting.take() == []  # closed: no tick after it


def test_a_failing_tile_shows_the_servers_reason(
    owner, datasource: str, sales_url: str, chart_id: str
) -> None:
    with postgres_database(["CREATE TABLE doomed (n INTEGER)"]) as doomed_url:
        response = owner.transport.json(
            "POST", "api/datasources", json={"name": unique("doomed"), "url": doomed_url}
        )
        doomed = owner.save_query(unique("doomed"), "SELECT n FROM doomed", response["id"])
        gone = owner.save_query(unique("gone"), "SELECT 1 AS one", response["id"])
        tiles = [
            {"id": "broken", "type": "query", "query_id": doomed["id"]},
            {"id": "fine", "type": "chart", "chart_id": chart_id},
            {"id": "gone", "type": "query", "query_id": gone["id"]},
        ]
        layout = [
            {"tile": "broken", "x": 0, "y": 0, "w": 6, "h": 3},
            {"tile": "fine", "x": 6, "y": 0, "w": 6, "h": 3},
            {"tile": "gone", "x": 0, "y": 3, "w": 12, "h": 2},
        ]
        dashboard = owner.create_dashboard(unique("failing"), tiles, layout)
        engine = create_engine(doomed_url)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE doomed"))
        engine.dispose()
        owner.delete_query(gone["id"])
        view = show(dashboard["id"], owner).wait(60)
        try:
            broken, fine = view.tiles["broken"], view.tiles["fine"]
            assert broken.status == "error"
            with pytest.raises(analytics.AnalyticsError) as direct:
                owner.tile_data(dashboard["id"], "broken")
            assert direct.value.message in broken.error  # the server's own words
            assert "doomed" in broken.error
            assert "Traceback" not in broken.message.value
            assert broken.body.children == ()
            assert fine.status == "ready", fine.error  # one failure leaves the others be
            with pytest.raises(analytics.Conflict) as conflict:
                owner.tile_data(dashboard["id"], "gone")
            assert view.tiles["gone"].status == "error"
            assert conflict.value.message in view.tiles["gone"].error
        finally:
            view.close()


@pytest.fixture
def kernel_token(live_server: LiveServer, board: dict[str, Any]) -> Iterator[str]:
    """A dashboard kernel's token for ``board``, issued as the Voila process issues it (in
    the server's store), and revoked afterwards."""
    store = live_server.root.parent / "data" / "analytics_ext" / "analytics.sqlite"
    assert store.exists(), store
    db = Database(f"sqlite:///{store}")
    sharing = SharingService(db, ActivityLog())
    sharing.register(SharedKind(DASHBOARD, Dashboard, LEVELS, linkable=True))
    issuer = f"test:k:{time.monotonic_ns()}"
    try:
        yield sharing.issue_kernel_link(DASHBOARD, board["id"], issuer, timedelta(hours=1))
    finally:
        sharing.revoke_issued(issuer)
        db.dispose()


def test_a_dashboard_kernel_needs_only_its_environment_and_opens_nothing_else(
    live_server: LiveServer,
    owner,
    board: dict[str, Any],
    sales_query: str,
    kernel_token: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ANALYTICS_EXT_URL", live_server.url)
    monkeypatch.setenv("ANALYTICS_EXT_TOKEN", kernel_token)
    monkeypatch.delenv("ANALYTICS_EXT_API_KEY", raising=False)
    view = show(board["id"]).wait(60)  # connect() from the environment, as in Voila
    try:
        assert view.tiles["table"].status == "ready", view.tiles["table"].error
        assert view.tiles["chart"].status == "ready", view.tiles["chart"].error
        assert list(view.tiles["chart"].figure.marks[0].x) == ["EMEA", "AMER", "APAC"]
        view.set_filter("least", 4)
        view.wait(60)
        assert table_values(view.tiles["table"], "qty") == [4]

        kernel = view.client
        with pytest.raises(analytics.NotFound):
            kernel.saved_query(sales_query)
        with pytest.raises(analytics.NotFound):
            kernel.chart(board["tiles"][1]["chart_id"])
        other = owner.create_dashboard(
            unique("other"),
            [{"id": "t", "type": "query", "query_id": sales_query}],
            [{"tile": "t", "x": 0, "y": 0, "w": 12, "h": 2}],
        )
        with pytest.raises(analytics.NotFound):
            kernel.dashboard(other["id"])
        with pytest.raises(analytics.NotFound):
            kernel.tile_data(other["id"], "t")
        with pytest.raises(analytics.AnalyticsError):
            kernel.update_dashboard(board["id"], title="taken over")
        with pytest.raises(analytics.AnalyticsError):
            kernel.run("SELECT 1", "dashboard-view")
    finally:
        view.close()
    assert owner.dashboard(board["id"])["title"] == TITLE
    assert no_threads_left(view)


TYPED_SQL = """
SELECT g AS n, 'row ' || g AS label, DATE '2024-01-01' + g AS day
FROM generate_series(1, 60) AS g
WHERE 'row ' || g <> :word AND g >= :least AND DATE '2024-01-01' + g >= :since
  AND DATE '2024-01-01' + g BETWEEN :period_start AND :period_end
  AND CAST(:pick AS TEXT) IN ('odd', 'all') AND (CAST(:pick AS TEXT) = 'all' OR g % 2 = 1)
ORDER BY g
"""
TYPED_PARAMETERS = [
    {"name": "word", "type": "text", "default": "row 2"},
    {"name": "least", "type": "number", "default": 0, "minimum": 0, "maximum": 1000},
    {"name": "since", "type": "date", "default": "2024-01-01"},
    {"name": "period", "type": "date_range",
     "default": {"start": "2024-01-01", "end": "2024-12-31"}},
    {"name": "pick", "type": "enum", "options": ["all", "odd"], "default": "all"},
]  # fmt: skip


def test_each_parameter_type_gets_its_control_and_the_table_pages(
    counting: CountingClient, datasource: str
) -> None:
    query = counting.save_query(unique("typed"), TYPED_SQL, datasource, parameters=TYPED_PARAMETERS)
    tiles: list[dict[str, Any]] = [{"id": "rows", "type": "query", "query_id": query["id"]}]
    layout = [{"tile": "rows", "x": 0, "y": 0, "w": 12, "h": 4}]
    for index, parameter in enumerate(TYPED_PARAMETERS):
        tiles.append(
            {"id": f"f_{parameter['name']}", "type": "filter", "title": parameter["name"],
             "parameter": parameter,
             "targets": [{"tile": "rows", "parameter": parameter["name"]}]}
        )  # fmt: skip
        layout.append({"tile": f"f_{parameter['name']}", "x": index * 2, "y": 4, "w": 2, "h": 1})
    dashboard = counting.create_dashboard(unique("typed"), tiles, layout)
    view = show(dashboard["id"], counting).wait(60)
    try:
        controls = {name[2:]: tile.control for name, tile in view.filters.items()}
        assert isinstance(controls["word"], widgets.Text)
        assert controls["word"].value == "row 2"
        assert isinstance(controls["least"], widgets.BoundedFloatText)
        assert (controls["least"].min, controls["least"].max) == (0, 1000)
        assert isinstance(controls["since"], widgets.DatePicker)
        assert controls["since"].value.isoformat() == "2024-01-01"
        start, end = controls["period"].children
        assert (start.value.isoformat(), end.value.isoformat()) == ("2024-01-01", "2024-12-31")
        assert isinstance(controls["pick"], widgets.Dropdown)
        assert controls["pick"].value == "all"

        rows = view.tiles["rows"]
        assert isinstance(rows, QueryTableTile)
        assert rows.total_rows == 59  # 'row 2' left out by the text filter's default
        assert 5 <= rows.page_size < 59
        assert rows._position.value == f"Rows 1 to {rows.page_size} of 59"
        rows._next.click()
        assert rows.offset == rows.page_size
        assert f'<td class="r n">{rows.page_size + 1}</td>' in rows.table.value
        rows.go(10_000)  # past the end: the last page
        assert rows._next.disabled
        assert rows._position.value.endswith("to 59 of 59")
        counting.take()

        view.set_filter("f_period", {"start": "2024-01-10", "end": "2024-01-20"})
        view.set_filter("f_pick", "odd")
        view.set_filter("f_least", 12.5)
        view.wait(60)
        calls = counting.take()
        assert len(calls) == 3
        assert all(tile == "rows" for tile, _, _ in calls)
        last = max(calls, key=lambda call: len(call[1]))[1]
        assert last == {
            "f_period": {"start": "2024-01-10", "end": "2024-01-20"},
            "f_pick": "odd",
            "f_least": 12.5,
        }
        assert table_values(rows, "n") == [13, 15, 17, 19]
        assert str(rows.data.table.schema.field("day").type) == "date32[day]"

        controls["word"].value = "row 13"  # typed by a viewer (applies on Enter)
        view.wait(60)
        assert table_values(rows, "n") == [15, 17, 19]
        with pytest.raises(ValueError, match="ISO date"):
            view.set_filter("f_since", "next tuesday")
        with pytest.raises(ValueError, match="one of"):
            view.set_filter("f_pick", "even")
        with pytest.raises(ValueError, match="start"):
            view.set_filter("f_period", "2024-01-01")
    finally:
        view.close()
    assert no_threads_left(view)

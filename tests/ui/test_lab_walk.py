"""The issue's walk through the Analytics sidebar, one person, one JupyterLab, the demo data.

Add the demo datasource → test it → browse its schema → preview a table → save a query →
favorite it → open it in a notebook and run it → see its chart's thumbnail → add the chart to a
new dashboard → publish the dashboard → open it in a Lab tab, where Voila draws the chart. Each
step asserts its effect where a person would see it and, where the issue asks, in the REST API.

The server starts like ``make demo`` (retail demo data, dashboard viewers on) but without the
automatic ``demo`` datasource, so the first step really adds it. Screenshots of every section,
populated, go to ``tests/ui/screenshots/panel-<area>.png``; ``make screenshots`` runs this test
and copies them into ``docs/images/`` for the README.

The one step taken outside the panels is saving the chart: charts are drawn in notebooks
(``widgets.ChartBuilder``) and saved from there; here the test saves it through the REST API as
the builder's Save does, then everything else happens in the panels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from analytics_ext.demo.retail import write_demo_data
from tests.support.live_server import LiveServer, start_live_server
from tests.ui.test_lab_account import open_account_tab
from tests.ui.test_lab_add_to_dashboard import add_to_dashboard
from tests.ui.test_lab_charts import open_charts_section, wait_for_thumbnail
from tests.ui.test_lab_dashboards import open_dashboard_tab, publish_dashboard
from tests.ui.test_lab_dashboards import show_dashboards_section as open_dashboards_section
from tests.ui.test_lab_datasources import (
    add_datasource,
    expand_table,
    open_datasources,
    open_preview,
)
from tests.ui.test_lab_datasources import test_datasource as run_connection_test
from tests.ui.test_lab_queries import (
    favorite_query,
    focus_queries_section,
    open_query_in_notebook,
    queries_section,
    save_query,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.ui, pytest.mark.timeout(900)]

SIDEBAR_ID = "analytics-ext:sidebar"
VOILA_TIMEOUT_MS = 150_000
QUERY_NAME = "Revenue by category"
CHART_NAME = "Revenue by category (bars)"
DASHBOARD_NAME = "Walk board"
CATEGORY_SQL = (
    "SELECT p.category, round(sum(l.line_total), 2) AS revenue "
    "FROM order_lines l JOIN products p ON p.id = l.product_id "
    "GROUP BY p.category ORDER BY revenue DESC"
)


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """A server on freshly written demo data with dashboard viewers on and no datasource yet;
    the demo file may be added (``demo_data_dir`` is where file datasources are allowed)."""
    work = tmp_path_factory.mktemp("lab-walk")
    demo_dir = work / "demo"
    write_demo_data(demo_dir, scale=0.01, formats=["duckdb"])
    with start_live_server(
        work / "server",
        timeout=120,
        extra_args=(
            f"--AnalyticsExtension.demo_data_dir={demo_dir}",
            "--AnalyticsExtension.demo_datasource=False",
            "--AnalyticsExtension.dashboard_viewers=True",
        ),
    ) as server:
        yield server, demo_dir / "retail.duckdb"


def _api(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method, f"{server.url}{path}", json=body, headers=server.auth_header, timeout=60
    )
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def _demo_categories(demo_file: Path) -> list[str]:
    """The categories the query answers, read from the file itself (not through the server)."""
    import duckdb

    with duckdb.connect(str(demo_file), read_only=True) as connection:
        rows = connection.execute(CATEGORY_SQL).fetchall()
    return [row[0] for row in rows]


def _dismiss_notifications(page: Page) -> None:
    """Close the toasts a step left (they close by themselves after a few seconds)."""
    for close in page.get_by_role("button", name="Hide notification").all():
        close.click()


def _show_only_section(page: Page, section_id: str) -> None:
    """Expand the sidebar section ``section_id`` and collapse the others."""
    from playwright.sync_api import expect

    titles = page.locator(f'[id="{SIDEBAR_ID}"] .lm-AccordionPanel-title')
    for title in titles.all():
        wanted = title.get_attribute("aria-controls") == section_id
        if (title.get_attribute("aria-expanded") == "true") != wanted:
            title.locator(".lm-AccordionPanel-titleLabel").click()
            expect(title).to_have_attribute("aria-expanded", str(wanted).lower())


def test_the_walk_from_a_datasource_to_a_published_dashboard(
    walk_server: tuple[LiveServer, Path], page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    server, demo_file = walk_server
    assert _api(server, "GET", "api/datasources")["items"] == []

    # 1. Add the demo datasource through the form; the API lists it.
    open_datasources(page, server)
    add_datasource(page, "demo", demo_file)
    listed = {item["name"]: item for item in _api(server, "GET", "api/datasources")["items"]}
    assert set(listed) == {"demo"}
    assert listed["demo"]["dialect"] == "duckdb"

    # 2. Test it: the panel reports the connection as working.
    assert "OK" in run_connection_test(page, "demo")

    # 3. Browse its schema to one table's columns, as the API describes them.
    table = expand_table(page, "demo", "orders")
    described = _api(
        server,
        "GET",
        f"api/datasources/schema/table?datasource_id={listed['demo']['id']}&table=orders",
    )
    shown = table.get_by_test_id("column-name").all_inner_texts()
    assert shown == [column["name"] for column in described["columns"]]

    # 4. Preview the table in a main-area tab: demo rows.
    preview = open_preview(page, "demo", "orders")
    expect(preview.get_by_test_id("preview-row").first).to_be_visible()
    page.screenshot(path=screenshots_dir / "panel-datasources.png")

    # 5. Save a query through the form; the API has it.
    focus_queries_section(page)
    expect(queries_section(page)).to_be_visible()
    query_id = save_query(page, QUERY_NAME, CATEGORY_SQL, "demo", tags=("walk",))
    saved = _api(server, "GET", f"api/query/{query_id}")
    assert (saved["name"], saved["datasource_id"]) == (QUERY_NAME, listed["demo"]["id"])

    # 6. Favorite it; the API lists the favorite.
    favorite_query(page, QUERY_NAME)
    favorites = _api(server, "GET", "api/query/favorites")["items"]
    assert [(item["object_type"], item["object_id"]) for item in favorites] == [("query", query_id)]

    # 7. Open it in a notebook and run it: the output shows the demo rows.
    output = open_query_in_notebook(page, QUERY_NAME)
    categories = _demo_categories(demo_file)
    grid_rows = output.locator("table.ae-grid tbody tr")
    expect(grid_rows).to_have_count(len(categories))
    expect(grid_rows.first).to_contain_text(categories[0])
    page.screenshot(path=screenshots_dir / "panel-queries.png")

    # 8. The chart (saved as a notebook's ChartBuilder saves it) shows its server thumbnail.
    chart = _api(
        server,
        "POST",
        "api/chart",
        {
            "name": CHART_NAME,
            "query_id": query_id,
            "spec": {
                "type": "bar",
                "encodings": {"x": {"field": "category"}, "y": {"field": "revenue"}},
            },
        },
    )
    open_charts_section(page)
    wait_for_thumbnail(page, CHART_NAME, chart["id"])
    page.screenshot(path=screenshots_dir / "panel-charts.png")

    # 9. Add the chart to a new dashboard from its row; the API shows the tile.
    add_to_dashboard(page, "charts", CHART_NAME, DASHBOARD_NAME, new=True)
    boards = _api(server, "GET", "api/dashboards")["items"]
    board = next(b for b in boards if b["title"] == DASHBOARD_NAME)
    assert [tile.get("chart_id") for tile in board["tiles"]] == [chart["id"]]

    _dismiss_notifications(page)

    # 10. Publish it and open it in a Lab tab: Voila draws the chart's SVG with its bars.
    open_dashboards_section(page)
    viewer_url = publish_dashboard(page, DASHBOARD_NAME)
    assert re.search(rf"/analytics/dashboards/{board['id']}$", viewer_url), viewer_url
    frame = open_dashboard_tab(page, DASHBOARD_NAME)
    bars = frame.locator(".ae-dashboard svg.svg-figure rect.bar")
    expect(bars.first).to_be_visible(timeout=VOILA_TIMEOUT_MS)
    assert bars.count() >= len(categories)
    page.screenshot(path=screenshots_dir / "panel-dashboards.png")

    # 11. The account: profile, generated settings form, sessions, keys, activity.
    _show_only_section(page, "analytics-ext:account")
    open_account_tab(page)
    page.screenshot(path=screenshots_dir / "panel-account.png")
    assert page.errors == []  # type: ignore[attr-defined]

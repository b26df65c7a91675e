"""Building a dashboard from the Charts and Queries sections ("Add to dashboard…") in a real
JupyterLab with dashboard viewers on (the Voila process), under a base-URL subpath.

A saved query and a bar chart on it are made through REST on the demo data. From the chart's
row (its button) the chart goes onto a new dashboard, "Walk board" (an empty name is refused in
the dialog first); from the saved query's context menu the query goes onto the same board,
below the chart. While that dialog is open someone else saves the board (a REST PATCH), so the
first Add meets a 409: the dialog stays, says the board changed and reloaded it, and the second
Add puts the tile on the current version (the other save is kept). REST checks each step: the
tiles point at the chart and the query, nothing overlaps on the grid. Then the board is
published from the Dashboards section and its Lab tab draws both tiles (the chart's bars and the
query's table) through Voila.

``add_to_dashboard(page, section, row_name, dashboard, new)`` is the step for a walk across
panels; it takes a page showing JupyterLab with the Analytics sidebar available.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from analytics_ext.demo import write_demo_data
from tests.support.live_server import LiveServer, start_live_server
from tests.ui.test_lab_charts import chart_row
from tests.ui.test_lab_dashboards import (
    CATEGORY_SQL,
    VOILA_TIMEOUT_MS,
    find_dashboard,
    open_dashboard_tab,
    open_lab,
    publish_dashboard,
)
from tests.ui.test_lab_queries import query_row

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

SIDEBAR_ID = "analytics-ext:sidebar"
SECTION_IDS = {
    "charts": "analytics-ext:charts",
    "queries": "analytics-ext:queries",
    "dashboards": "analytics-ext:dashboards",
}
# data-testid hooks of the Add to dashboard dialog (and the chart row's button).
CHART_BUTTON = "chart-add-to-dashboard"
DASHBOARD_SELECT = "add-tile-dashboard"
NEW_NAME = "add-tile-new-name"
TILE_TITLE = "add-tile-title"
PLACEMENT = "add-tile-placement"
DIALOG_ERROR = "dashboards-dialog-error"
MENU_LABEL = "Add to Dashboard…"

BASE_URL = "/lab-add/"
BOARD = "Walk board"
CHART_NAME = "Revenue by category <b>walk</b>"
QUERY_NAME = "Category revenue (walk)"


# -- server and REST ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """JupyterLab under ``/lab-add/`` with the demo datasource and dashboard viewers on."""
    workdir = tmp_path_factory.mktemp("lab-add-to-dashboard")
    demo_dir = workdir / "demo"
    write_demo_data(demo_dir, scale=0.01, formats=["duckdb"])
    with start_live_server(
        workdir / "server",
        base_url=BASE_URL,
        timeout=120,
        extra_args=(
            f"--AnalyticsExtension.demo_data_dir={demo_dir}",
            "--AnalyticsExtension.dashboard_viewers=True",
        ),
    ) as server:
        yield server


def call(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method, f"{server.url}{path.lstrip('/')}", json=body, headers=server.auth_header,
        timeout=120,
    )  # fmt: skip
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def dashboards_titled(server: LiveServer, title: str) -> list[dict[str, Any]]:
    items = call(server, "GET", "api/dashboards?limit=200")["items"]
    return [item for item in items if item["title"] == title]


def cells(item: dict[str, Any]) -> set[tuple[int, int]]:
    return {
        (x, y)
        for x in range(item["x"], item["x"] + item["w"])
        for y in range(item["y"], item["y"] + item["h"])
    }


# -- steps (module level, for a walk across panels) ---------------------------------------------


def show_section(page: Page, section: str) -> Locator:
    """Open the Analytics sidebar with ``section`` (charts, queries, dashboards) expanded and
    the others collapsed, so its list has the room; returns the section."""
    from playwright.sync_api import expect

    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    if not sidebar.is_visible():
        page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]').click()
    expect(sidebar).to_be_visible()
    wanted = SECTION_IDS[section]
    titles = sidebar.locator(".lm-AccordionPanel-title")
    for index in range(titles.count()):
        title = titles.nth(index)
        mine = title.get_attribute("aria-controls") == wanted
        expanded = title.get_attribute("aria-expanded") == "true"
        if mine != expanded:
            title.locator(".lm-AccordionPanel-titleLabel").click()
            expect(title).to_have_attribute("aria-expanded", str(mine).lower())
    found = page.locator(f'[id="{wanted}"]')
    expect(found).to_be_visible()
    return found


def open_add_dialog(page: Page, section: str, row_name: str) -> Locator:
    """Open Add to dashboard… for a chart (the row's button) or a saved query (the row's
    context menu); returns the dialog."""
    from playwright.sync_api import expect

    show_section(page, section)
    if section == "charts":
        row = chart_row(page, row_name)
        expect(row).to_be_visible(timeout=30_000)
        row.hover()
        row.get_by_test_id(CHART_BUTTON).click()
    elif section == "queries":
        row = query_row(page, row_name)
        expect(row).to_be_visible(timeout=30_000)
        row.click(button="right")
        page.locator(".lm-Menu-item", has_text=MENU_LABEL).click()
    else:
        raise ValueError(f"no Add to dashboard in the {section!r} section")
    dialog = page.locator(".jp-Dialog").filter(has=page.get_by_test_id(DASHBOARD_SELECT))
    expect(dialog).to_be_visible(timeout=30_000)
    expect(dialog.get_by_test_id("add-tile-source")).to_have_text(row_name)
    return dialog


def choose_dashboard(dialog: Locator, dashboard: str, new: bool) -> None:
    """Pick ``dashboard`` in the open dialog, or choose New dashboard… and name it."""
    from playwright.sync_api import expect

    select = dialog.get_by_test_id(DASHBOARD_SELECT)
    if new:
        select.select_option(value="")
        dialog.get_by_test_id(NEW_NAME).fill(dashboard)
    else:
        select.select_option(label=dashboard)
        expect(dialog.get_by_test_id(NEW_NAME)).to_be_hidden()


def confirm_added(page: Page, dialog: Locator, row_name: str, dashboard: str) -> None:
    """Press Add; the dialog closes and the notice names what went where, offering Publish."""
    from playwright.sync_api import expect

    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(dialog).to_have_count(0, timeout=30_000)
    notice = page.locator(".Toastify__toast").filter(
        has_text=f"Added “{row_name}” to “{dashboard}”"
    )
    expect(notice.last).to_be_visible(timeout=15_000)
    expect(notice.last.get_by_role("button", name=re.compile("^Publish"))).to_be_visible()


def add_to_dashboard(page: Page, section: str, row_name: str, dashboard: str, new: bool) -> None:
    """From the ``section`` row named ``row_name`` (charts: a chart; queries: a saved query),
    put it on ``dashboard`` (a new one when ``new``) with its default tile title."""
    dialog = open_add_dialog(page, section, row_name)
    choose_dashboard(dialog, dashboard, new)
    confirm_added(page, dialog, row_name, dashboard)


# -- the test -----------------------------------------------------------------------------------


def test_build_a_dashboard_from_the_chart_and_query_rows(
    walk_server: LiveServer, page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    demo = next(
        item for item in call(walk_server, "GET", "api/datasources")["items"]
        if item["name"] == "demo"
    )  # fmt: skip
    query = call(walk_server, "POST", "api/query", {
        "name": QUERY_NAME, "datasource_id": demo["id"], "sql": CATEGORY_SQL,
    })  # fmt: skip
    chart = call(walk_server, "POST", "api/chart", {
        "name": CHART_NAME, "query_id": query["id"],
        "spec": {"type": "bar", "encodings": {"x": {"field": "category"},
                                              "y": {"field": "revenue"}}},
    })  # fmt: skip
    open_lab(page, walk_server)

    # The chart onto a new dashboard; an empty name is refused in the dialog, nothing is sent.
    dialog = open_add_dialog(page, "charts", CHART_NAME)
    expect(dialog.get_by_test_id(TILE_TITLE)).to_have_value(CHART_NAME)
    expect(dialog.locator("b")).to_have_count(0)  # the name is text
    choose_dashboard(dialog, BOARD, new=True)
    expect(dialog.get_by_test_id(PLACEMENT)).to_have_text(
        "A new dashboard holding just this tile (you own it)."
    )
    page.screenshot(path=screenshots_dir / "add-to-dashboard.png")
    dialog.get_by_test_id(NEW_NAME).fill("   ")
    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(dialog.get_by_test_id(DIALOG_ERROR)).to_have_text("A dashboard needs a name.")
    assert dashboards_titled(walk_server, "   ") == []
    dialog.get_by_test_id(NEW_NAME).fill(BOARD)
    confirm_added(page, dialog, CHART_NAME, BOARD)
    (board,) = dashboards_titled(walk_server, BOARD)
    assert board["version"] == 1
    assert [(tile["type"], tile.get("chart_id"), tile["title"]) for tile in board["tiles"]] == [
        ("chart", chart["id"], CHART_NAME)
    ]
    assert [(item["x"], item["y"], item["w"]) for item in board["layout"]] == [(0, 0, 12)]

    # The query onto the same board, from its context menu. Someone saves the board while
    # the dialog is open: the first Add is refused (409), the dialog reloads the board and
    # says so, and the second Add lands on the current version.
    dialog = open_add_dialog(page, "queries", QUERY_NAME)
    choose_dashboard(dialog, BOARD, new=False)
    expect(dialog.get_by_test_id(PLACEMENT)).to_contain_text("1 tile (version 1)")
    call(walk_server, "PATCH", f"api/dashboards/{board['id']}", {
        "description": "Edited elsewhere", "base_version": 1,
    })  # fmt: skip
    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    error = dialog.get_by_test_id(DIALOG_ERROR)
    expect(error).to_contain_text(f"Someone else saved “{BOARD}”", timeout=30_000)
    expect(error).to_contain_text("version 2, not 1")  # the server's message
    expect(error).to_contain_text("now version 2, 1 tile")
    expect(dialog.get_by_test_id(PLACEMENT)).to_contain_text("1 tile (version 2)")
    assert len(call(walk_server, "GET", f"api/dashboards/{board['id']}")["tiles"]) == 1
    page.screenshot(path=screenshots_dir / "add-to-dashboard-conflict.png")
    confirm_added(page, dialog, QUERY_NAME, BOARD)

    board = call(walk_server, "GET", f"api/dashboards/{board['id']}")
    assert board["version"] == 3
    assert board["description"] == "Edited elsewhere"  # the other save is kept
    kinds = [
        (tile["type"], tile.get("chart_id") or tile.get("query_id")) for tile in board["tiles"]
    ]
    assert kinds == [("chart", chart["id"]), ("query", query["id"])]
    first, second = board["layout"]
    assert cells(first).isdisjoint(cells(second))
    assert second["y"] >= first["y"] + first["h"]  # below the chart

    # The Dashboards section shows the board with two tiles; publish it and open it: the
    # Voila page draws both tiles, the chart's bars and the query's table.
    row = find_dashboard(page, BOARD)
    expect(row.get_by_test_id("dashboard-tiles")).to_have_text("2 tiles")
    publish_dashboard(page, BOARD)
    assert call(walk_server, "GET", f"api/dashboards/{board['id']}")["published_version"] == 3
    frame = open_dashboard_tab(page, BOARD)
    tiles = frame.locator(".ae-dashboard-tile")
    expect(tiles).to_have_count(2, timeout=VOILA_TIMEOUT_MS)
    bars = frame.locator(".ae-dashboard svg.svg-figure rect.bar")
    expect(bars.first).to_be_visible(timeout=VOILA_TIMEOUT_MS)
    assert bars.count() >= 3, "one bar per demo product category"
    table = frame.locator(".ae-dashboard table.ae-tile-grid")
    expect(table.first).to_be_visible(timeout=VOILA_TIMEOUT_MS)
    expect(table.first).to_contain_text("revenue")
    expect(frame.locator(".ae-dashboard")).to_contain_text(CHART_NAME)  # title as text
    assert page.errors == []  # type: ignore[attr-defined]

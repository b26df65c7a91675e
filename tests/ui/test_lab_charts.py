"""The Charts section in a real JupyterLab (`make demo`, Playwright + Debian Chromium).

Charts made through the REST API on the demo datasource appear with server-rendered thumbnails
(a PNG from ``GET api/chart/<id>/thumbnail``, drawn: ``naturalWidth > 0``); a chart named like
markup shows as text; "Open in notebook" runs ``widgets.open_chart`` in a new notebook whose
output draws the chart's bqplot SVG; Export ▸ PNG downloads a PNG with the server's file name;
applying a chart template makes a new chart that appears in the list.

The steps are module-level functions so a walk across panels can reuse them.

Test ids used (``data-testid``):
  charts-search, charts-list, charts-count, charts-load-more, charts-empty, charts-refresh,
  charts-apply-template, chart-row (``data-chart-id``), chart-name, chart-type, chart-query,
  chart-thumbnail, chart-thumbnail-img, chart-thumbnail-spinner, chart-thumbnail-error,
  chart-open, chart-export, chart-share, chart-rename, chart-delete,
  charts-template-select, charts-template-query-search, charts-template-query-select,
  charts-template-name, charts-template-binding-<channel>, charts-dialog-error
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Response

    from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

SIDEBAR_ID = "analytics-ext:sidebar"
CHARTS_SECTION_ID = "analytics-ext:charts"
LAB_LOAD_TIMEOUT_MS = 60_000
THUMBNAIL_TIMEOUT_MS = 60_000
NOTEBOOK_TIMEOUT_MS = 120_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CHANNEL_SQL = "SELECT channel, count(*) AS orders FROM orders GROUP BY channel"
MONTH_SQL = """
SELECT date_trunc('month', order_date) AS month, count(*) AS orders
FROM orders GROUP BY ALL
"""
BAR_SPEC = {
    "type": "bar",
    "encodings": {"x": {"field": "channel"}, "y": {"field": "orders"}},
    "sort": {"by": "y", "order": "descending"},
}
LINE_SPEC = {
    "type": "line",
    "encodings": {"x": {"field": "month"}, "y": {"field": "orders"}},
    "sort": {"by": "x"},
}
BAR_NAME = "Orders by channel"
LINE_NAME = "Orders per month"
MARKUP_NAME = "<img src=x onerror=alert(1)>"


# -- REST helpers ---------------------------------------------------------------------------------


def call(server: LiveServer, method: str, path: str, body: object = None) -> Any:
    response = httpx.request(
        method, f"{server.url}{path}", json=body, headers=server.auth_header, timeout=60
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def charts_by_name(server: LiveServer) -> dict[str, dict[str, Any]]:
    return {chart["name"]: chart for chart in call(server, "GET", "api/chart?limit=200")["items"]}


@dataclass(frozen=True)
class DemoCharts:
    server: LiveServer
    channel_query: dict[str, Any]
    month_query: dict[str, Any]
    bar: dict[str, Any]
    line: dict[str, Any]
    markup: dict[str, Any]


@pytest.fixture(scope="module")
def demo_charts(demo_server: LiveServer) -> DemoCharts:
    """Two saved queries on the demo datasource, a bar and a line chart, and a chart whose name
    is markup; made through the REST API as a notebook user's script would."""
    demo = next(
        d for d in call(demo_server, "GET", "api/datasources")["items"] if d["name"] == "demo"
    )

    def query(name: str, sql: str) -> dict[str, Any]:
        body = {"name": name, "datasource_id": demo["id"], "sql": sql}
        return call(demo_server, "POST", "api/query", body)

    channel, month = (
        query("orders by channel (ui)", CHANNEL_SQL),
        query("orders by month (ui)", MONTH_SQL),
    )

    def chart(name: str, query_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"name": name, "query_id": query_id, "spec": spec}
        return call(demo_server, "POST", "api/chart", body)

    return DemoCharts(
        server=demo_server,
        channel_query=channel,
        month_query=month,
        bar=chart(BAR_NAME, channel["id"], BAR_SPEC),
        line=chart(LINE_NAME, month["id"], LINE_SPEC),
        markup=chart(MARKUP_NAME, channel["id"], BAR_SPEC),
    )


# -- steps (reusable by a walk across panels) ----------------------------------------------------


def open_lab(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}lab?token={server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)


def sidebar(page: Page) -> Locator:
    return page.locator(f'[id="{SIDEBAR_ID}"]')


def open_charts_section(page: Page, only: bool = True) -> Locator:
    """Show the Analytics sidebar with the Charts section expanded (``only``: the others
    collapsed, so the list has room); the section's locator."""
    from playwright.sync_api import expect

    panel = sidebar(page)
    if not panel.is_visible():
        page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]').click()
    expect(panel).to_be_visible()
    titles = panel.locator(".lm-AccordionPanel-title")
    expect(titles.filter(has_text="Charts")).to_have_count(1)
    for index in range(titles.count()):
        title = titles.nth(index)
        is_charts = title.get_attribute("aria-controls") == CHARTS_SECTION_ID
        expanded = title.get_attribute("aria-expanded") == "true"
        if (is_charts and not expanded) or (only and not is_charts and expanded):
            title.locator(".lm-AccordionPanel-titleLabel").click()
    section = page.locator(f'[id="{CHARTS_SECTION_ID}"]')
    expect(section).to_be_visible()
    return section


def chart_row(page: Page, chart_name: str) -> Locator:
    section = page.locator(f'[id="{CHARTS_SECTION_ID}"]')
    name = page.get_by_test_id("chart-name").filter(
        has_text=re.compile(rf"^{re.escape(chart_name)}$")
    )
    return section.get_by_test_id("chart-row").filter(has=name)


def _is_thumbnail_of(chart_id: str):
    def check(response: Response) -> bool:
        return f"/api/chart/{chart_id}/thumbnail?" in response.url

    return check


def wait_for_thumbnail(page: Page, chart_name: str, chart_id: str, trigger=None) -> Locator:
    """The chart's thumbnail ``<img>`` once drawn (``naturalWidth > 0``), asserting that its
    picture came from the thumbnail route as a PNG. ``trigger`` (default: the section's
    Refresh, which asks the server again) is what makes the panel fetch it."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    def refresh() -> None:
        sidebar(page).get_by_test_id("charts-refresh").click()

    with page.expect_response(_is_thumbnail_of(chart_id), timeout=THUMBNAIL_TIMEOUT_MS) as info:
        (trigger or refresh)()
    response = info.value
    assert response.status in (200, 304), (response.status, response.text()[:300])
    if response.status == 200:
        assert response.headers["content-type"] == "image/png"
        assert response.headers["etag"].startswith('W/"')
        assert response.headers["cache-control"] == "private, max-age=60"
    assert re.search(r"[?&]width=\d+&height=\d+", response.url), response.url
    row = chart_row(page, chart_name)
    # The Refresh redraws the list: a row found just before the redraw is detached under the
    # scroll, so the scroll is tried again on the redrawn row.
    for attempt in range(1, 4):
        try:
            row.scroll_into_view_if_needed(timeout=10_000)
            break
        except PlaywrightError:
            if attempt == 3:
                raise
    img = row.get_by_test_id("chart-thumbnail-img")
    expect(img).to_be_visible(timeout=THUMBNAIL_TIMEOUT_MS)
    expect(img).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("img => img.naturalWidth") > 0
    return img


def open_chart_in_notebook(page: Page, chart_name: str) -> Locator:
    """Click the row's Open in notebook; the new cell's output, once it draws the chart's
    bqplot SVG with marks."""
    from playwright.sync_api import expect

    chart_row(page, chart_name).get_by_test_id("chart-open").click()
    cell = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-CodeCell").filter(
        has_text="widgets.open_chart("
    )
    expect(cell).to_have_count(1, timeout=NOTEBOOK_TIMEOUT_MS)
    output = cell.locator(".jp-OutputArea-output")
    figure = output.locator(".bqplot svg").first
    expect(figure).to_be_visible(timeout=NOTEBOOK_TIMEOUT_MS)
    return output


def export_chart(page: Page, chart_name: str, menu_label: str) -> tuple[str, bytes]:
    """Export ▸ ``menu_label`` on the chart's row: the downloaded file's name and bytes."""
    chart_row(page, chart_name).get_by_test_id("chart-export").click()
    item = page.locator(".jp-AnalyticsCharts-exportMenu .lm-Menu-item").filter(has_text=menu_label)
    with page.expect_download(timeout=60_000) as info:
        item.click()
    download = info.value
    path = download.path()
    assert path is not None
    return download.suggested_filename, Path(path).read_bytes()


def apply_chart_template(page: Page, template_name: str, query_name: str, chart_name: str) -> None:
    """The Apply Chart Template dialog: pick the template and the query, name the chart."""
    from playwright.sync_api import expect

    sidebar(page).get_by_test_id("charts-apply-template").click()
    dialog = page.locator(".jp-Dialog")
    template = dialog.get_by_test_id("charts-template-select")
    expect(template.locator("option", has_text=template_name)).to_have_count(1)
    template.select_option(label=template_name)
    dialog.get_by_test_id("charts-template-query-search").fill(query_name)
    query = dialog.get_by_test_id("charts-template-query-select")
    expect(query.locator("option")).to_have_text([query_name])
    query.select_option(label=query_name)
    dialog.get_by_test_id("charts-template-name").fill(chart_name)
    dialog.locator(".jp-Dialog-footer button", has_text="Create chart").click()
    expect(dialog).to_have_count(0, timeout=60_000)


# -- the test -------------------------------------------------------------------------------------


def test_charts_section_thumbnails_notebook_export_and_templates(
    demo_charts: DemoCharts, page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    server = demo_charts.server
    open_lab(page, server)
    bar, line = demo_charts.bar, demo_charts.line

    # -- load a chart thumbnail: the first showing of the section fetches it ----------------
    img = wait_for_thumbnail(page, BAR_NAME, bar["id"], trigger=lambda: open_charts_section(page))
    # The second row's picture may have arrived with the first: Refresh asks for it again.
    wait_for_thumbnail(page, LINE_NAME, line["id"])
    section = page.locator(f'[id="{CHARTS_SECTION_ID}"]')
    # Name, type and query name are shown; the markup name is text, no element.
    row = chart_row(page, BAR_NAME)
    expect(row.get_by_test_id("chart-type")).to_have_text("Bar")
    expect(row.get_by_test_id("chart-query")).to_have_text("orders by channel (ui)")
    markup = chart_row(page, MARKUP_NAME)
    expect(markup).to_have_count(1)
    expect(markup.get_by_test_id("chart-name")).to_have_text(MARKUP_NAME)
    assert markup.get_by_test_id("chart-name").locator("img").count() == 0
    # The picture's size is what the panel asked for (twice its 112 by 70 box, at least).
    natural = img.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural[0] >= 224, natural
    assert natural[1] >= 140, natural
    # Refresh asks the server again (If-None-Match through the browser cache): 200 or 304.
    wait_for_thumbnail(page, BAR_NAME, bar["id"])

    # -- search filters the loaded list ----------------------------------------------------
    search = section.get_by_test_id("charts-search")
    search.fill("month")
    expect(section.get_by_test_id("chart-row")).to_have_count(1)
    expect(section.get_by_test_id("chart-name")).to_have_text([LINE_NAME])
    search.fill("")
    expect(section.get_by_test_id("chart-row")).to_have_count(len(charts_by_name(server)))

    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        arg=f'[id="{CHARTS_SECTION_ID}"] [data-testid="chart-thumbnail-img"]',
    )
    page.screenshot(path=screenshots_dir / "panel-charts.png")

    # -- export PNG: a PNG file named by the server ---------------------------------------------
    filename, content = export_chart(page, BAR_NAME, "PNG image")
    assert filename == "Orders-by-channel.png"  # filename* (UTF-8) keeps the case
    assert content.startswith(PNG_SIGNATURE)
    picture = Image.open(io.BytesIO(content))
    assert picture.format == "PNG"
    assert picture.size[0] > 0

    # -- apply a chart template: the new chart appears in the list --------------------------
    template = call(
        server,
        "POST",
        "api/chart/templates",
        {"name": "Line over time (ui)", "from_chart_id": line["id"]},
    )
    apply_chart_template(page, template["name"], "orders by month (ui)", "Orders trend (template)")
    created = charts_by_name(server)["Orders trend (template)"]
    assert created["query_id"] == demo_charts.month_query["id"]
    assert created["spec"]["type"] == "line"
    expect(chart_row(page, "Orders trend (template)")).to_have_count(1, timeout=30_000)

    # -- open in notebook: the cell runs widgets.open_chart and draws the bars -----------------
    output = open_chart_in_notebook(page, BAR_NAME)
    bars = output.locator(".bqplot svg.svg-figure rect.bar")
    expect(bars.first).to_be_attached(timeout=NOTEBOOK_TIMEOUT_MS)
    channels = call(server, "GET", f"api/chart/{bar['id']}/data")["rows"]
    expect(bars).to_have_count(len(channels))

    assert page.errors == [], f"uncaught errors in the page: {page.errors}"

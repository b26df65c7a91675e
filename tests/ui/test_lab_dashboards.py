"""The Dashboards section in a real JupyterLab, with dashboard viewers on (the Voila process).

The server runs under a base-URL subpath (``/lab-sub/``), so every address the panel builds
(the Lab tab's viewer page, the viewer URL it shows) is checked against a subpath too. A
dashboard with a bqplot chart tile over the demo data is created through REST; in the panel it
is published (the confirm says what publishing does, the result names the version and URL),
opened in a JupyterLab tab whose Voila page draws the chart's SVG, opened again (the same tab
activates), shared by a link whose address is shown once and then revoked, and exported. Each
step checks its effect through the REST API.

The step functions at module level (``show_dashboards_section``, ``publish_dashboard``,
``open_dashboard_tab``, ``create_share_link``, ``revoke_share_link``) are for a walk across
panels; they take a page showing JupyterLab.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from analytics_ext.demo import write_demo_data
from tests.support.live_server import LiveServer, start_live_server
from tests.ui.conftest import run_from_palette

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator, Page

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

# data-testid hooks this test touches (the panel's own, then the share dialog's).
SECTION_ID = "analytics-ext:dashboards"
SIDEBAR_ID = "analytics-ext:sidebar"
ROW = "dashboard-row"
ROW_TITLE = "dashboard-title"
ROW_STATE = "dashboard-state"
ROW_TILES = "dashboard-tiles"
ROW_OPEN = "dashboard-open"
ROW_PUBLISH = "dashboard-publish"
ROW_SHARE = "dashboard-share"
ROW_MORE = "dashboard-more"
ROW_STATUS = "dashboard-row-status"
SEARCH = "dashboards-search"
NEW = "dashboards-new"
NAME_INPUT = "dashboards-name-input"
DIALOG_ERROR = "dashboards-dialog-error"
PUBLISHED_VERSION = "dashboards-published-version"
PUBLISHED_URL = "dashboards-published-url"
VIEWER_FRAME = "dashboard-viewer-frame"
SHARE_DIALOG = "share-dialog"
SHARE_LINK_CREATE = "share-link-create"
SHARE_LINK_URL = "share-link-url"
SHARE_GRANT = "share-grant"
SHARE_REVOKE = "share-revoke"
SHARE_REVOKE_CONFIRM = "share-revoke-confirm"

BASE_URL = "/lab-sub/"
LAB_LOAD_TIMEOUT_MS = 90_000
VOILA_TIMEOUT_MS = 150_000
CATEGORY_SQL = (
    "SELECT p.category, round(sum(l.line_total), 2) AS revenue "
    "FROM order_lines l JOIN products p ON p.id = l.product_id "
    "GROUP BY p.category ORDER BY revenue DESC"
)


# -- server and REST ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def viewer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """JupyterLab under ``/lab-sub/`` with the demo datasource and dashboard viewers on (the
    default; the session's shared ``live_server`` is left alone, since the first publish
    starts a Voila process for the rest of its life)."""
    workdir = tmp_path_factory.mktemp("lab-dashboards")
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


def create_chart_dashboard(server: LiveServer, title: str) -> dict[str, Any]:
    """A saved query and bar chart on the demo data, and a dashboard of that chart and a
    markdown note (not published)."""
    datasources = call(server, "GET", "api/datasources")["items"]
    demo = next(item for item in datasources if item["name"] == "demo")
    query = call(server, "POST", "api/query", {
        "name": f"{title} query", "datasource_id": demo["id"], "sql": CATEGORY_SQL,
    })  # fmt: skip
    chart = call(server, "POST", "api/chart", {
        "name": f"{title} chart", "query_id": query["id"],
        "spec": {"type": "bar", "encodings": {"x": {"field": "category"},
                                              "y": {"field": "revenue"}}},
    })  # fmt: skip
    return call(server, "POST", "api/dashboards", {
        "title": title,
        "tiles": [
            {"id": "chart", "type": "chart", "title": "Revenue", "chart_id": chart["id"]},
            {"id": "note", "type": "markdown", "text": "Demo data"},
        ],
        "layout": [
            {"tile": "chart", "x": 0, "y": 0, "w": 12, "h": 5},
            {"tile": "note", "x": 0, "y": 5, "w": 12, "h": 1},
        ],
    })  # fmt: skip


def link_grants(server: LiveServer, dashboard_id: str) -> list[dict[str, Any]]:
    grants = call(server, "GET", f"api/dashboards/share?object_id={dashboard_id}")["items"]
    return [grant for grant in grants if grant["principal_type"] == "link"]


# -- steps (module level, for a walk across panels) ---------------------------------------------


def open_lab(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}lab?token={server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)


def show_dashboards_section(page: Page) -> Locator:
    """Open the Analytics sidebar and expand the Dashboards section (collapsing the others,
    so it has the room); returns the section."""
    from playwright.sync_api import expect

    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    if not sidebar.is_visible():
        page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]').click()
    expect(sidebar).to_be_visible()
    titles = sidebar.locator(".lm-AccordionPanel-title")
    mine = titles.filter(has_text="Dashboards")
    if mine.get_attribute("aria-expanded") != "true":
        mine.click()
        expect(mine).to_have_attribute("aria-expanded", "true")
    for title in titles.all():
        if title.get_attribute("aria-expanded") == "true" and "Dashboards" not in (
            title.text_content() or ""
        ):
            title.click()
            expect(title).to_have_attribute("aria-expanded", "false")
    section = page.locator(f'[id="{SECTION_ID}"]')
    expect(section).to_be_visible()
    return section


def dashboard_row(page: Page, name: str) -> Locator:
    """The section's row of the dashboard titled exactly ``name``."""
    section = page.locator(f'[id="{SECTION_ID}"]')
    # ``has`` is matched inside each row, so its locator starts from the page.
    title = page.get_by_test_id(ROW_TITLE).filter(has_text=re.compile(f"^{re.escape(name)}$"))
    return section.get_by_test_id(ROW).filter(has=title)


def find_dashboard(page: Page, name: str) -> Locator:
    """Search the list for ``name`` and return its (visible) row."""
    from playwright.sync_api import expect

    section = show_dashboards_section(page)
    section.get_by_test_id(SEARCH).fill(name)
    row = dashboard_row(page, name)
    expect(row).to_be_visible(timeout=30_000)
    return row


def publish_dashboard(page: Page, name: str) -> str:
    """Publish from the row (confirm, then the result dialog); returns the viewer URL shown."""
    from playwright.sync_api import expect

    row = find_dashboard(page, name)
    row.get_by_test_id(ROW_PUBLISH).click()
    confirm = page.locator(".jp-Dialog").filter(has_text="Viewers open it at its viewer page")
    expect(confirm).to_be_visible()
    confirm.locator(".jp-Dialog-footer .jp-mod-accept").click()
    result = page.locator(".jp-Dialog").filter(has=page.get_by_test_id(PUBLISHED_URL))
    expect(result).to_be_visible(timeout=60_000)
    url = result.get_by_test_id(PUBLISHED_URL).input_value()
    version = result.get_by_test_id(PUBLISHED_VERSION).inner_text()
    assert re.fullmatch(r"version \d+", version), version
    result.get_by_role("button", name="Close").click()
    expect(result).to_have_count(0)
    expect(row.get_by_test_id(ROW_STATE)).to_have_text(re.compile(r"^Published v\d+$"))
    return url


def open_dashboard_tab(page: Page, name: str) -> FrameLocator:
    """Open the published dashboard in a JupyterLab tab; returns its iframe."""
    from playwright.sync_api import expect

    row = find_dashboard(page, name)
    row.get_by_test_id(ROW_OPEN).click()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    expect(tab).to_have_text(name)
    frame = page.locator(f'#jp-main-dock-panel [data-testid="{VIEWER_FRAME}"]:visible')
    expect(frame).to_have_count(1)
    return frame.content_frame


def create_share_link(page: Page, name: str) -> str:
    """Create a share link from the row's share dialog; returns the address shown (once)."""
    from playwright.sync_api import expect

    row = find_dashboard(page, name)
    row.get_by_test_id(ROW_SHARE).click()
    dialog = page.get_by_test_id(SHARE_DIALOG)
    expect(dialog).to_be_visible()
    links_before = dialog.locator(f'[data-testid="{SHARE_GRANT}"][data-kind="link"]').count()
    dialog.get_by_test_id(SHARE_LINK_CREATE).click()
    url_box = dialog.get_by_test_id(SHARE_LINK_URL)
    expect(url_box).to_be_visible(timeout=30_000)
    expect(url_box).to_have_value(re.compile(r"share_token="))
    expect(dialog.locator(f'[data-testid="{SHARE_GRANT}"][data-kind="link"]')).to_have_count(
        links_before + 1
    )
    return url_box.input_value()


def revoke_share_link(page: Page) -> None:
    """In the open share dialog, revoke the newest link (with its inline confirmation)."""
    from playwright.sync_api import expect

    dialog = page.get_by_test_id(SHARE_DIALOG)
    links = dialog.locator(f'[data-testid="{SHARE_GRANT}"][data-kind="link"]')
    count = links.count()
    links.last.get_by_test_id(SHARE_REVOKE).click()
    dialog.get_by_test_id(SHARE_REVOKE_CONFIRM).click()
    expect(links).to_have_count(count - 1, timeout=30_000)


def close_dialog(page: Page) -> None:
    from playwright.sync_api import expect

    page.locator(".jp-Dialog .jp-Dialog-footer .jp-mod-accept").last.click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


# -- the test -----------------------------------------------------------------------------------


def test_publish_open_share_and_export_a_dashboard_from_the_panel(
    viewer_server: LiveServer, page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    name = "Revenue <b>board</b>"
    board = create_chart_dashboard(viewer_server, name)
    other = call(viewer_server, "POST", "api/dashboards", {"title": "Ops latency"})
    open_lab(page, viewer_server)
    section = show_dashboards_section(page)

    # The list: both dashboards, names as text, tile counts, draft state; search narrows it.
    row = dashboard_row(page, name)
    expect(row).to_be_visible(timeout=30_000)
    expect(row.get_by_test_id(ROW_TITLE)).to_have_text(name)
    expect(row.locator("b")).to_have_count(0)
    expect(row.get_by_test_id(ROW_TILES)).to_have_text("2 tiles")
    expect(row.get_by_test_id(ROW_STATE)).to_have_text("Draft v1 · not published")
    expect(row.get_by_test_id(ROW_OPEN)).to_be_disabled()
    expect(dashboard_row(page, "Ops latency").get_by_test_id(ROW_TILES)).to_have_text("No tiles")
    section.get_by_test_id(SEARCH).fill("ops")
    expect(section.get_by_test_id(ROW)).to_have_count(1)
    expect(dashboard_row(page, "Ops latency")).to_be_visible()
    section.get_by_test_id(SEARCH).fill("")

    # Publish: the dialog's URL is the server's viewer URL, under the base-URL subpath.
    url = publish_dashboard(page, name)
    assert urlsplit(url).path == f"{BASE_URL}analytics/dashboards/{board['id']}"
    published = call(viewer_server, "GET", f"api/dashboards/{board['id']}")
    assert published["published_version"] == published["version"] == 1
    assert published["viewer_url"] == url

    # Open it in a Lab tab: Voila runs in the iframe and draws the chart's bars.
    frame = open_dashboard_tab(page, name)
    chart = frame.locator(".ae-dashboard svg.svg-figure").first
    expect(chart).to_be_visible(timeout=VOILA_TIMEOUT_MS)
    bars = frame.locator(".ae-dashboard svg.svg-figure rect.bar")
    expect(bars.first).to_be_visible(timeout=60_000)
    assert bars.count() >= 3, "one bar per demo product category"
    expect(frame.locator(".ae-dashboard")).to_contain_text(name)  # the title, as text
    iframe = page.locator(f'#jp-main-dock-panel [data-testid="{VIEWER_FRAME}"]:visible')
    src = urlsplit(iframe.get_attribute("src") or "")
    assert src.path == f"{BASE_URL}analytics/dashboards/{board['id']}"
    assert src.netloc == urlsplit(viewer_server.url).netloc  # the Lab's own origin
    sandbox = (iframe.get_attribute("sandbox") or "").split()
    assert {"allow-scripts", "allow-same-origin"} <= set(sandbox)
    assert "allow-top-navigation" not in sandbox
    show_dashboards_section(page).get_by_test_id(SEARCH).fill("")
    expect(page.get_by_test_id(ROW)).to_have_count(2)
    page.screenshot(path=screenshots_dir / "panel-dashboards.png")

    # Opening it again activates the same tab instead of adding one.
    open_dashboard_tab(page, name)
    tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name)
    expect(tabs).to_have_count(1)

    # "Open in new browser tab": a new page on the same viewer URL, no opener.
    with page.context.expect_page() as popup_info:
        dashboard_row(page, name).get_by_test_id("dashboard-open-external").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert urlsplit(popup.url).path == f"{BASE_URL}analytics/dashboards/{board['id']}"
    assert popup.evaluate("window.opener") is None
    popup.close()

    # Share by link: the address is shown once; the server lists the link; revoke it.
    assert link_grants(viewer_server, board["id"]) == []
    link = create_share_link(page, name)
    assert urlsplit(link).path == f"{BASE_URL}analytics/dashboards/{board['id']}"
    grants = link_grants(viewer_server, board["id"])
    assert len(grants) == 1
    assert grants[0]["level"] == "view"
    revoke_share_link(page)
    assert link_grants(viewer_server, board["id"]) == []
    close_dialog(page)

    # Export HTML from the row's menu: a download named by the server.
    row = find_dashboard(page, name)
    with page.expect_download(timeout=120_000) as download_info:
        row.get_by_test_id(ROW_MORE).click()
        page.locator(".lm-Menu-item", has_text="Export as HTML").click()
    download = download_info.value
    # The server's name (RFC 6266 filename*, which keeps case), not one the panel made up.
    assert download.suggested_filename == "Revenue-b-board-b.html"
    html = Path(download.path()).read_text(encoding="utf-8")
    assert "<svg" in html
    assert "Revenue &lt;b&gt;board&lt;/b&gt;" in html
    expect(row.get_by_test_id(ROW_STATUS)).to_have_count(0)

    # Rename with the dialog; the other section rows follow the server.
    row = find_dashboard(page, "Ops latency")
    row.get_by_test_id(ROW_MORE).click()
    page.locator(".lm-Menu-item", has_text="Rename…").click()
    name_input = page.get_by_test_id(NAME_INPUT)
    name_input.fill("   ")
    page.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(page.get_by_test_id(DIALOG_ERROR)).to_have_text("A dashboard needs a name.")
    name_input.fill("Ops latency (p99)")
    page.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    expect(dashboard_row(page, "Ops latency (p99)")).to_be_visible()
    assert call(viewer_server, "GET", f"api/dashboards/{other['id']}")["title"] == (
        "Ops latency (p99)"
    )

    # New dashboard from the section's + (an empty board), then the palette's Open Dashboard….
    show_dashboards_section(page)
    page.get_by_test_id(NEW).click()
    page.get_by_test_id(NAME_INPUT).fill("Empty <i>board</i>")
    page.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    new_row = dashboard_row(page, "Empty <i>board</i>")
    expect(new_row.get_by_test_id(ROW_TILES)).to_have_text("No tiles")
    titles = [item["title"] for item in call(viewer_server, "GET", "api/dashboards")["items"]]
    assert "Empty <i>board</i>" in titles

    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Launcher").click()
    picker = page.get_by_test_id("dashboards-pick-select")
    run_from_palette(page, "Open Dashboard…", shows=picker)
    expect(picker.locator("option")).to_have_count(1)  # published dashboards only
    picker.select_option(label=name)
    page.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_have_text(name)
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name)).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]

"""A published dashboard in Chromium, opened by an anonymous viewer through its share link.

Runs against ``make demo`` (the product on its defaults: the demo datasource, dashboard viewers
on), so it also proves the supervised Voila process starts from a fresh checkout. The viewer's
browser context has no cookie and no token: the link alone opens the page, which must draw the
chart's bars (bqplot's SVG) and the table's demo rows, and must not open JupyterLab.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.live_server import LiveServer

pytestmark = pytest.mark.timeout(600)

CATEGORY_SQL = (
    "SELECT p.category, round(sum(l.line_total), 2) AS revenue "
    "FROM order_lines l JOIN products p ON p.id = l.product_id "
    "GROUP BY p.category ORDER BY revenue DESC"
)


def call(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method, f"{server.url}{path.lstrip('/')}", json=body, headers=server.auth_header,
        timeout=120,
    )  # fmt: skip
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def publish_demo_dashboard(server: LiveServer) -> tuple[str, str]:
    """A chart, a table and a markdown tile on the demo data, published; (id, share-link URL)."""
    demo = next(d for d in call(server, "GET", "/api/datasources")["items"] if d["name"] == "demo")
    query = call(server, "POST", "/api/query", {
        "name": "Revenue by category", "datasource_id": demo["id"], "sql": CATEGORY_SQL,
    })  # fmt: skip
    chart = call(server, "POST", "/api/chart", {
        "name": "Revenue by category", "query_id": query["id"],
        "spec": {"type": "bar", "encodings": {"x": {"field": "category"},
                                              "y": {"field": "revenue"}}},
    })  # fmt: skip
    board = call(server, "POST", "/api/dashboards", {
        "title": "Retail <b>overview</b>",
        "tiles": [
            {"id": "chart", "type": "chart", "title": "Revenue", "chart_id": chart["id"]},
            {"id": "table", "type": "query", "title": "By category", "query_id": query["id"]},
            {"id": "note", "type": "markdown", "text": "Demo data <script>alert(1)</script>"},
        ],
        "layout": [
            {"tile": "chart", "x": 0, "y": 0, "w": 8, "h": 5},
            {"tile": "table", "x": 8, "y": 0, "w": 4, "h": 5},
            {"tile": "note", "x": 0, "y": 5, "w": 12, "h": 1},
        ],
    })  # fmt: skip
    call(server, "POST", f"/api/dashboards/{board['id']}/publish")
    link = call(server, "POST", "/api/dashboards/share", {
        "object_id": board["id"], "principal_type": "link",
    })  # fmt: skip
    return board["id"], link["url"]


def test_an_anonymous_viewer_opens_a_share_link_and_sees_the_chart(
    demo_server: LiveServer, browser: Browser, screenshots_dir
) -> None:
    _, url = publish_demo_dashboard(demo_server)
    assert "share_token=" in url
    assert url.startswith(demo_server.url)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url, timeout=120_000)
        # The token leaves the address bar: the link set a session cookie and redirected.
        assert "share_token" not in page.url

        chart = page.locator(".ae-dashboard svg.svg-figure").first
        expect(chart).to_be_visible(timeout=120_000)
        bars = page.locator(".ae-dashboard svg.svg-figure rect.bar")
        expect(bars.first).to_be_visible(timeout=60_000)
        assert bars.count() >= 3, "one bar per demo product category"
        table = page.locator(".ae-dashboard-tile", has_text="By category")
        expect(table).to_contain_text("revenue", timeout=60_000)
        # Markup in the title is text, and markdown cannot run script.
        expect(page.locator(".ae-dashboard")).to_contain_text("Retail <b>overview</b>")
        assert dialogs == []
        page.screenshot(path=str(screenshots_dir / "dashboard-viewer.png"), full_page=True)

        # The link opens this dashboard and nothing else of the server.
        lab = page.goto(f"{demo_server.url}lab")
        assert lab is not None
        assert lab.status in (403, 404)
    finally:
        context.close()

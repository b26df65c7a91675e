"""Static dashboard exports: one self-contained HTML file, and a PDF printed from it.

The HTML draws every chart as inline SVG (the right number of bars for a known query), query
tiles as escaped tables, markdown and titles inert; it holds no script and no external URL,
and a real browser shows every chart with the network off. The PDF is printed by Chromium on
as many A4 pages as the layout needs; no Chromium is a 503 naming the setting. Share links
export their one dashboard only.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

from analytics_ext.engine.dashboard_html import (
    EXPORT_TABLE_ROWS,
    HEADER_ROWS,
    PAGE_ROWS,
    PRINT_ROW_MM,
    print_pages,
)
from analytics_ext.schemas.dashboards import LayoutItem
from tests.support.api import ApiClient
from tests.support.services import in_ci
from tests.test_dashboard_tiles import BAR, SQL, Team, sales_url, setup_team  # noqa: F401

pytestmark = pytest.mark.timeout(180)

CHROMIUM = Path("/usr/bin/chromium")
TITLE = '<script>alert("title")</script> Sales & <b>Co</b>'
DESCRIPTION = "<img src=x onerror=alert(1)> weekly\nsecond line"
MARKDOWN = (
    "**Note** <script>alert(1)</script> <img src=x onerror=alert(2)>\n\n"
    "[site](https://example.com/docs) [bad](javascript:alert(3)) "
    "![logo](https://cdn.example/logo.png)"
)
BIG_SQL = "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 250) AS g ORDER BY g"
EXPECTED_PAGES = 3
"""Page 1: the filter and both charts (the header takes 2 of its 10 rows); page 2: the table
and the markdown; page 3: the 20-row tall table, shrunk onto a page of its own."""


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def chromium_setting() -> str:
    """``AnalyticsExtension.chromium_path`` of the test server (empty: found on PATH)."""
    return ""


@pytest.fixture
def jp_server_config(jp_server_config, chromium_setting: str):
    jp_server_config.AnalyticsExtension.chromium_path = chromium_setting
    return jp_server_config


def require_chromium() -> str:
    if CHROMIUM.is_file():
        return str(CHROMIUM)
    message = (
        f"{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium`"
    )
    if in_ci():
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def export_board(query_id: str, chart_id: str, big_query_id: str) -> dict[str, Any]:
    tiles = [
        {
            "id": "f1",
            "type": "filter",
            "title": "Threshold <u>filter</u>",
            "parameter": {"name": "threshold", "type": "number", "default": 0, "label": "Min"},
            "targets": [{"tile": "c1", "parameter": "min_amount"}],
        },
        {"id": "c1", "type": "chart", "title": "<i>By region</i>", "chart_id": chart_id},
        {
            "id": "c2",
            "type": "chart",
            "title": "Big ones",
            "chart_id": chart_id,
            "parameters": {"min_amount": 10},
        },
        {"id": "t1", "type": "query", "title": "Sales <table>", "query_id": query_id},
        {"id": "m1", "type": "markdown", "title": "Notes", "text": MARKDOWN},
        {"id": "big", "type": "query", "title": "Many rows", "query_id": big_query_id},
    ]
    layout = [
        {"tile": "f1", "x": 0, "y": 0, "w": 12, "h": 1},
        {"tile": "c1", "x": 0, "y": 1, "w": 6, "h": 5},
        {"tile": "c2", "x": 6, "y": 1, "w": 6, "h": 5},
        {"tile": "t1", "x": 0, "y": 6, "w": 6, "h": 6},
        {"tile": "m1", "x": 6, "y": 6, "w": 6, "h": 6},
        {"tile": "big", "x": 0, "y": 12, "w": 12, "h": 20},
    ]
    return {"title": TITLE, "description": DESCRIPTION, "tiles": tiles, "layout": layout}


@pytest.fixture
def make_export(api, create_account, login, server_services, sales_url):  # noqa: F811
    """``await make_export()``: the team of ``test_dashboard_tiles`` and Alice's export board."""

    async def make() -> tuple[Team, str]:
        team = await setup_team(api, create_account, login, server_services, sales_url)
        big = await team.alice.post(
            "/api/query", {"name": "big", "datasource_id": team.source_id, "sql": BIG_SQL},
            expect=201,
        )  # fmt: skip
        board = export_board(team.query_id, team.chart_id, big["id"])
        return team, await team.dashboard(team.alice, board)

    return make


async def download(
    jp_fetch, client: ApiClient | None, path: str, token: str | None = None
) -> HTTPResponse:
    """The raw response (bytes: a PDF is not text) as ``client``, or as a bearer ``token``."""
    if client is not None:
        token = client.tokens.access_token  # type: ignore[attr-defined]
    path, _, query = path.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&")) if query else {}
    headers = {"Authorization": f"Bearer {token}"}
    return await jp_fetch(
        *path.strip("/").split("/"), params=params, headers=headers, raise_error=False
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def chart_articles(html: str) -> list[str]:
    return re.findall(r'<article class="tile tile-chart".*?</article>', html, re.DOTALL)


def bars(article: str) -> int:
    groups = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', article, re.DOTALL)
    return sum(group.count("<path") for group in groups)


def pdf_pages(content: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", content))


# -- HTML ---------------------------------------------------------------------------------------


async def test_html_export_draws_every_tile_safely(make_export, jp_fetch) -> None:
    team, dashboard = await make_export()
    team.grant("dashboard", dashboard, team.bob_id, "view")
    reply = await download(jp_fetch, team.bob, f"/api/dashboards/{dashboard}/export?format=html")
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in reply.headers["Content-Security-Policy"]
    disposition = reply.headers["Content-Disposition"]
    assert disposition.startswith(
        'attachment; filename="script-alert-title-script-sales-b-co-b.html"'
    )
    html = reply.body.decode()

    # Charts: inline SVG, three bars for three regions, one where the fixed value leaves one.
    charts = chart_articles(html)
    assert len(charts) == 2
    assert [article.count("<svg") for article in charts] == [1, 1]
    assert [bars(article) for article in charts] == [3, 1]
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # each chart's clip paths are its own

    # Query tiles: escaped tables, the first 200 rows and a count of the rest.
    assert "<td>north</td>" in html
    assert '<td class="num">30</td>' in html
    assert html.count('<td class="num">') >= EXPORT_TABLE_ROWS
    assert "<td>row 200</td>" in html
    assert "<td>row 201</td>" not in html
    assert '<p class="note screen-only">50 more rows not shown.</p>' in html
    assert (
        '<p class="note print-only">250 rows in all; the printout shows those that fit.</p>' in html
    )

    # Filters show their value; every piece of user text is text.
    assert '<span class="label">Min</span><span class="value">0</span>' in html
    assert (
        '<h1>&lt;script&gt;alert("title")&lt;/script&gt; Sales &amp; &lt;b&gt;Co&lt;/b&gt;</h1>'
        in html
    )
    assert "&lt;img src=x onerror=alert(1)&gt; weekly" in html
    assert "<h2>&lt;i&gt;By region&lt;/i&gt;</h2>" in html
    assert "<h2>Sales &lt;table&gt;</h2>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # markdown's raw HTML
    assert "<strong>Note</strong>" in html

    # Nothing runs, nothing loads.
    elements = parse(html)
    tags = [tag for tag, _ in elements.tags]
    for forbidden in ("script", "img", "iframe", "object", "embed", "link", "base", "form"):
        assert forbidden not in tags, forbidden
    for tag, attrs in elements.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("src", "href", "xlink:href", "action", "poster", "data", "srcset"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), (tag, attrs)
            if value.startswith(("http:", "https:", "//")):
                # Only the links the markdown's author wrote, opened without an opener.
                assert tag == "a", (tag, attrs)
                assert "noopener" in (attrs.get("rel") or ""), (tag, attrs)
    hrefs = [attrs["href"] for tag, attrs in elements.tags if tag == "a"]
    assert hrefs == ["https://example.com/docs", "https://cdn.example/logo.png"]
    styles = "".join(elements.styles)
    assert "@import" not in styles
    assert re.search(r"url\((?!#)", styles) is None
    assert re.search(r"url\((?!#)", html) is None
    csp = [attrs for tag, attrs in elements.tags if attrs.get("http-equiv")]
    assert csp == [
        {
            "http-equiv": "Content-Security-Policy",
            "content": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
        }
    ]
    assert "SELECT" not in html  # a viewer's export holds no SQL


async def test_export_needs_view_on_the_dashboard(make_export, jp_fetch) -> None:
    team, dashboard = await make_export()
    path = f"/api/dashboards/{dashboard}/export"
    assert (await download(jp_fetch, team.bob, path)).code == 404
    bad = await team.alice.request("GET", f"{path}?format=docx", expect=422)
    assert bad.body["message"].startswith("format: ")
    unknown = await team.alice.request("GET", f"{path}?fmt=pdf", expect=422)
    assert unknown.body["message"].startswith("fmt: ")


async def test_a_share_link_exports_its_dashboard_only(make_export, jp_fetch) -> None:
    team, dashboard = await make_export()
    other = await team.dashboard(
        team.alice, export_board(team.query_id, team.chart_id, team.query_id)
    )
    made = await team.alice.post(
        "/api/dashboards/share", {"object_id": dashboard, "principal_type": "link"}, expect=201
    )
    token = made["token"]
    mine = await download(jp_fetch, None, f"/api/dashboards/{dashboard}/export", token)
    assert mine.code == 200
    assert len(chart_articles(mine.body.decode())) == 2
    # A download link carries the token in the URL (no Authorization header).
    as_url = ApiClient(jp_fetch, headers={"Authorization": ""})
    by_url = await as_url.request(
        "GET", f"/api/dashboards/{dashboard}/export?share_token={token}", expect=200
    )
    assert "<svg" in by_url.body
    theirs = await download(jp_fetch, None, f"/api/dashboards/{other}/export", token)
    assert theirs.code == 404


async def test_a_tile_that_cannot_run_says_so_and_the_rest_exports(make_export, jp_fetch) -> None:
    team, dashboard = await make_export()
    await team.alice.delete(f"/api/chart/{team.chart_id}")
    reply = await download(jp_fetch, team.alice, f"/api/dashboards/{dashboard}/export")
    assert reply.code == 200
    html = reply.body.decode()
    assert html.count("This tile could not be drawn: tile 'c") == 2
    assert "<td>north</td>" in html


# -- PDF ----------------------------------------------------------------------------------------


def test_pages_follow_the_layout() -> None:
    def place(tile: str, y: int, h: int, x: int = 0, w: int = 6) -> LayoutItem:
        return LayoutItem(tile=tile, x=x, y=y, w=w, h=h)

    first = PAGE_ROWS - HEADER_ROWS  # rows left on page 1 under the title
    assert (PAGE_ROWS, HEADER_ROWS) == (10, 2)
    assert len(print_pages([])) == 1
    assert len(print_pages([place("a", 0, first)])) == 1
    alone = print_pages([place("a", 0, first + 1)])  # too tall: shrunk onto page 1
    assert len(alone) == 1
    assert alone[0].row_mm == pytest.approx(PRINT_ROW_MM * first / (first + 1))
    assert len(print_pages([place("a", 0, 5), place("b", 5, 5)])) == 2
    # a and b side by side overlap rows 4..5, so rows 0..9 are one band: never cut.
    pages = print_pages([place("a", 0, 6), place("b", 4, 6, x=6), place("c", 10, 3)])
    assert [[(band.start, band.end) for band in page.bands] for page in pages] == [
        [(0, 10)],
        [(10, 13)],
    ]
    tall = print_pages([place("a", 0, 2), place("b", 2, 26)])
    assert [page.rows for page in tall] == [2, 26]
    assert tall[1].row_mm == pytest.approx(PRINT_ROW_MM * PAGE_ROWS / 26)
    # Empty rows between tiles are kept, as on screen.
    gap = print_pages([place("a", 0, 2), place("b", 4, 2)])
    assert [[(band.start, band.end) for band in page.bands] for page in gap] == [
        [(0, 2), (2, 4), (4, 6)]
    ]


async def test_pdf_export_prints_the_expected_pages(make_export, jp_fetch, tmp_path: Path) -> None:
    require_chromium()
    team, dashboard = await make_export()
    reply = await download(jp_fetch, team.alice, f"/api/dashboards/{dashboard}/export?format=pdf")
    assert reply.code == 200, reply.body[:500]
    assert reply.headers["Content-Type"] == "application/pdf"
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="')
    assert reply.headers["Content-Disposition"].split(";")[1].strip().endswith('.pdf"')
    assert reply.body.startswith(b"%PDF")
    (tmp_path / "dashboard.pdf").write_bytes(reply.body)  # to look at when this fails
    assert pdf_pages(reply.body) == EXPECTED_PAGES
    assert b"/MediaBox [0 0 841.9" in reply.body  # A4 landscape, in points


@pytest.mark.parametrize("chromium_setting", ["/nonexistent/chromium"], ids=["missing"])
async def test_pdf_without_chromium_is_503_naming_the_setting(make_export, jp_fetch) -> None:
    team, dashboard = await make_export()
    path = f"/api/dashboards/{dashboard}/export?format=pdf"
    refused = await team.alice.request("GET", path, expect=503)
    assert "AnalyticsExtension.chromium_path" in refused.body["message"]
    assert "/nonexistent/chromium" in refused.body["message"]
    # The HTML export needs no browser.
    assert (await download(jp_fetch, team.alice, path.replace("pdf", "html"))).code == 200


# -- big dashboards ----------------------------------------------------------------------------


async def test_a_fifty_tile_dashboard_exports_promptly(make_export, jp_fetch) -> None:
    team, _ = await make_export()
    tiles, layout = [], []
    for index in range(50):
        tile_id = f"t{index}"
        if index % 2:
            tile = {"id": tile_id, "type": "chart", "chart_id": team.chart_id}
        else:
            tile = {"id": tile_id, "type": "query", "query_id": team.query_id}
        tile["parameters"] = {"min_amount": index}  # fifty different runs, no cache
        tiles.append(tile)
        layout.append(
            {"tile": tile_id, "x": (index % 4) * 3, "y": (index // 4) * 2, "w": 3, "h": 2}
        )
    dashboard = await team.dashboard(
        team.alice, {"title": "Fifty", "tiles": tiles, "layout": layout}
    )
    started = time.monotonic()
    reply = await download(jp_fetch, team.alice, f"/api/dashboards/{dashboard}/export")
    elapsed = time.monotonic() - started
    assert reply.code == 200
    html = reply.body.decode()
    assert len(chart_articles(html)) == 25
    assert html.count('<article class="tile tile-query"') == 25
    assert "could not be drawn" not in html
    assert elapsed < 60, f"a 50-tile export took {elapsed:.1f} s"


# -- in a browser, offline ---------------------------------------------------------------------


async def test_the_html_export_shows_every_chart_offline_in_chromium(
    make_export, jp_fetch, tmp_path: Path
) -> None:
    chromium = require_chromium()
    pytest.importorskip("playwright", reason="the playwright package is missing")
    from playwright.async_api import Route, async_playwright

    team, dashboard = await make_export()
    reply = await download(jp_fetch, team.alice, f"/api/dashboards/{dashboard}/export")
    page_file = tmp_path / "dashboard.html"
    page_file.write_bytes(reply.body)

    attempted: list[str] = []
    problems: list[str] = []

    async def only_the_file(route: Route) -> None:
        if route.request.url.startswith("file:"):
            await route.continue_()
        else:
            attempted.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.set_offline(True)
            await context.route("**/*", only_the_file)
            page = await context.new_page()
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(page_file.as_uri())
            charts = page.locator(".tile-chart .chart > svg")
            assert await charts.count() == 2
            for index in range(2):
                chart = charts.nth(index)
                await chart.scroll_into_view_if_needed()
                assert await chart.is_visible()
                box = await chart.bounding_box()
                assert box is not None
                assert box["width"] > 100
                assert box["height"] > 100
                bars_drawn = chart.locator("g.mark-rect path")
                assert await bars_drawn.count() == [3, 1][index]
                bar = await bars_drawn.first.bounding_box()
                assert bar is not None
                assert bar["width"] > 0
                assert bar["height"] > 0
            assert await page.locator("script").count() == 0
            await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
    assert attempted == []
    assert problems == []  # no CSP violation, no error

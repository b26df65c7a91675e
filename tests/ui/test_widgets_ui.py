"""The notebook widgets in a real JupyterLab (Playwright + Debian Chromium): a notebook whose
kernel the server started runs a QueryEditor on the demo datasource; clicking Run fills the grid,
whose first row's cells hold what the database itself answers; a ChartBuilder cell draws chart
marks with real SVG paths. The kernel connects with no arguments (the server gave it its URL and
token)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.support.demo_server import DemoServer, start_demo_server

pytestmark = [pytest.mark.ui, pytest.mark.timeout(300)]

LAB_LOAD_TIMEOUT_MS = 60_000
WIDGET_TIMEOUT_MS = 90_000
NOTEBOOK = "widgets.ipynb"
FIRST_ROWS_SQL = "SELECT id, name, city, country, opened_on FROM stores ORDER BY id DESC LIMIT 5"
CHART_SQL = """
SELECT date_trunc('month', order_date) AS month, count(*) AS orders
FROM orders GROUP BY ALL
"""
LINE_SPEC = {
    "type": "line",
    "encodings": {"x": {"field": "month"}, "y": {"field": "orders"}},
    "sort": {"by": "x"},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with start_demo_server(tmp_path_factory.mktemp("widgets-ui")) as server:
        yield server


def api(demo: DemoServer, method: str, path: str, body: object = None) -> dict:
    response = httpx.request(
        method, f"{demo.url}{path}", json=body, headers=demo.server.auth_header, timeout=30
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def first_row(demo: DemoServer) -> list[str]:
    """The first row as the database answers it, written as the grid writes values."""
    connection = duckdb.connect(str(demo.duckdb_path), read_only=True)
    try:
        row = connection.execute(FIRST_ROWS_SQL).fetchone()
    finally:
        connection.close()
    return [value.isoformat() if isinstance(value, dt.date) else str(value) for value in row]


def months(demo: DemoServer) -> int:
    connection = duckdb.connect(str(demo.duckdb_path), read_only=True)
    try:
        sql = f"SELECT count(*) FROM ({CHART_SQL})"
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


@pytest.fixture(scope="module")
def notebook(demo: DemoServer) -> str:
    """A notebook in the server's root: a QueryEditor cell and a ChartBuilder cell on a saved
    query, written through the contents API as a user's file would be."""
    datasource = next(
        d for d in api(demo, "GET", "api/datasources")["items"] if d["name"] == "demo"
    )
    query = api(
        demo, "POST", "api/query",
        {"name": "orders by month (ui)", "datasource_id": datasource["id"], "sql": CHART_SQL},
    )  # fmt: skip
    cells = [
        new_code_cell(
            "from analytics_ext import widgets\n"
            f"editor = widgets.QueryEditor(sql={FIRST_ROWS_SQL!r}, datasource='demo')\n"
            "editor"
        ),
        new_code_cell(
            f"builder = widgets.ChartBuilder(query={query['id']!r}, spec={LINE_SPEC!r})\nbuilder"
        ),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    document = new_notebook(cells=cells, metadata={"kernelspec": kernelspec})
    body = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(document))}
    api(demo, "PUT", f"api/contents/{NOTEBOOK}", body)
    return NOTEBOOK


def run_cell(page, index: int) -> None:
    """Select cell ``index`` and run it as a user does (Shift+Enter), again if the keystroke
    came before the kernel's session was ready (the prompt then stays empty)."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    for _attempt in range(3):
        prompt.click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=15_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"cell {index} did not start running")


def test_query_editor_grid_and_chart_in_jupyterlab(
    demo: DemoServer, notebook: str, page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 1500})  # both outputs in one picture
    page.goto(f"{demo.url}lab/tree/{notebook}?token={demo.server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(2, timeout=LAB_LOAD_TIMEOUT_MS)
    # The kernel is up when the toolbar's status (a screen-reader text) says so.
    idle = page.locator(".jp-NotebookPanel-toolbar").get_by_text("Kernel status: Idle")
    expect(idle).to_be_attached(timeout=LAB_LOAD_TIMEOUT_MS)

    # -- QueryEditor: pick up the demo datasource, Run, read the first row from the grid --------
    run_cell(page, 0)
    editor = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-OutputArea-output")
    datasource = editor.locator(".widget-dropdown select").first
    expect(datasource.locator("option:checked")).to_have_text("demo", timeout=WIDGET_TIMEOUT_MS)
    editor.locator("button.widget-button", has_text=re.compile(r"^\s*Run\s*$")).click()
    rows = editor.locator("table.ae-grid tbody tr")
    expect(rows).to_have_count(5, timeout=WIDGET_TIMEOUT_MS)
    expect(editor.get_by_text(re.compile(r"^succeeded · 5 rows"))).to_be_visible()
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == "1"  # the row number column
    assert cells[1:] == first_row(demo)
    # Each sort button stands over its column (the row-number column has a spacer above it).
    header = editor.locator("table.ae-grid thead th")
    sort_buttons = editor.locator(".widget-hbox button.widget-button", has_text="opened_on")
    for name, column in (("id", 1), ("opened_on", 5)):
        button = editor.locator("button.widget-button", has_text=re.compile(rf"^\s*{name}\s*$"))
        left, right = button.bounding_box(), header.nth(column).bounding_box()
        assert left is not None
        assert right is not None
        assert abs(left["x"] - right["x"]) <= 2, (name, left, right)
        assert abs(left["width"] - right["width"]) <= 2, (name, left, right)
    assert sort_buttons.count() == 1
    # The pager's first/last are Font Awesome icons (drawn: they have a width), not glyphs.
    for icon in ("fa-step-backward", "fa-chevron-left", "fa-chevron-right", "fa-step-forward"):
        box = editor.locator(f"button.widget-button i.fa.{icon}").bounding_box()
        assert box is not None, icon
        assert box["width"] > 4, icon

    # -- ChartBuilder: the line mark (bqplot Lines: g.curve > path.line) with points in its path
    run_cell(page, 1)
    chart = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    figure = chart.locator(".bqplot svg").first
    expect(figure).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    line = chart.locator(".bqplot svg.svg-figure g.curve path.line").first
    expect(line).to_have_attribute("d", re.compile(r"^M[-\d.e]+,[-\d.e]+(L[-\d.e]+,[-\d.e]+)+$"),
                                   timeout=WIDGET_TIMEOUT_MS)  # fmt: skip
    points = len(re.findall(r"[ML]", line.get_attribute("d") or ""))
    assert points == months(demo), "one point per month of orders"
    # The month axis has calendar ticks whose labels do not overlap (dates, not categories).
    ticks = chart.locator(".bqplot g.tick text")
    labels = ticks.filter(has_text=re.compile(r"^\d{4}-\d{2}-\d{2}$"))  # the user's format
    texts = labels.all_text_contents()
    assert 2 <= len(texts) <= 12, ticks.all_text_contents()
    boxes = [labels.nth(i).bounding_box() for i in range(len(texts))]
    for before, after in itertools.pairwise(boxes):
        assert before is not None
        assert after is not None
        assert before["x"] + before["width"] < after["x"], texts

    page.locator(".jp-Notebook .jp-Cell").nth(0).scroll_into_view_if_needed()
    page.screenshot(path=screenshots_dir / "widgets.png")
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"

"""ResultGrid against a real server and a real PostgreSQL result: a 1M-row result's first page
costs the browser at most 2% of the result's Arrow size (measured on the comms), paging and
sorting happen on the server, and failures are one readable line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest
import requests

from analytics_ext import client as analytics
from analytics_ext.widgets import ResultGrid
from analytics_ext.widgets.results import INDEX_WIDTH
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer
from tests.support.widgets import display_bytes, recording_comms

pytestmark = pytest.mark.timeout(300)

MILLION = 1_000_000
WIDE_RESULT = (
    "SELECT g AS id, (g % 1000)::int4 AS qty, g * 0.25::float8 AS amount, "
    "'customer-' || (g % 50000) AS name, timestamp '2024-01-01' + g * interval '17 seconds' "
    "AS created, CASE WHEN g % 5 = 0 THEN NULL ELSE md5(g::text) END AS note "
    "FROM generate_series(1, {rows}) AS g"
)


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer) -> Iterator[str]:
    """A datasource on an empty PostgreSQL database that may return a million rows."""
    with postgres_database([]) as url:
        body = {
            "name": f"grid-{time.monotonic_ns()}",
            "url": url,
            "options": {"row_limit": MILLION},
        }
        response = requests.post(
            f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
        )
        assert response.status_code == 201, response.text
        yield response.json()["id"]


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


def arrow_ipc_bytes(table: pa.Table) -> int:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().size


def body_rows(grid: ResultGrid) -> int:
    return len(re.findall(r"<tr><td", grid._table.value))


def test_a_million_rows_first_page_costs_under_two_percent(client, datasource: str) -> None:
    run = client.run(WIDE_RESULT.format(rows=MILLION), datasource, row_limit=MILLION)
    run.wait(timeout=180)
    arrow_size = arrow_ipc_bytes(run.arrow())
    assert run.rows == MILLION
    assert arrow_size > 50_000_000

    with recording_comms() as recorder:
        grid = ResultGrid(client, page_size=50)
        grid.show(run)
        assert grid.wait(60)
        sent = recorder.total_bytes + display_bytes(grid)
        assert not grid.error
        assert grid.total_rows == MILLION
        assert body_rows(grid) == 50
        assert [row["id"] for row in grid.rows] == list(range(1, 51))
        assert sent <= 0.02 * arrow_size, (sent, arrow_size)
        # The page is the one big message: nothing else of the result went out.
        largest = max(size for _, _, size in recorder.messages)
        assert largest < 20_000

        recorder.reset()
        grid.last()
        assert grid.wait(60)
        assert [row["id"] for row in grid.rows][-1] == MILLION
        assert recorder.total_bytes <= 0.001 * arrow_size

        recorder.reset()
        grid.sort_by("amount", descending=True)  # the server sorts the million rows
        assert grid.wait(60)
        assert grid.offset == 0
        assert [row["id"] for row in grid.rows[:3]] == [MILLION, MILLION - 1, MILLION - 2]
        assert recorder.total_bytes <= 0.001 * arrow_size


def test_pages_page_size_sort_and_types(client, datasource: str) -> None:
    sql = (
        "SELECT g AS n, CASE WHEN g % 10 = 0 THEN NULL ELSE g % 7 END AS k, "
        "'<b>' || g || '</b>' AS label, DATE '2024-01-01' + g AS day "
        "FROM generate_series(1, 123) AS g"
    )
    run = client.run(sql, datasource, row_limit=1000).wait(timeout=60)
    grid = ResultGrid(client, run, page_size=50)
    assert grid.wait(30)
    assert grid._position.value == "Rows 1 to 50 of 123"
    assert grid._first.disabled
    assert grid._previous.disabled
    assert not grid._next.disabled
    types = dict((c["name"], c["type"]) for c in grid.columns)
    assert types == {"n": "int32", "k": "int32", "label": "string", "day": "date32[day]"}
    assert "<th>date32[day]</th>" in grid._table.value
    assert "&lt;b&gt;1&lt;/b&gt;" in grid._table.value  # text, never markup
    assert "<b>1</b>" not in grid._table.value
    assert '<td class="n">null</td>' in grid._table.value
    # The sort buttons stand over their columns: a spacer as wide as the row-number column,
    # then one fixed-width, unshrinkable button per column, as wide as the table's <col>s.
    spacer, *buttons = grid._header.children
    assert (spacer.layout.width, spacer.layout.flex) == (f"{INDEX_WIDTH}px", "0 0 auto")
    assert [b.description for b in buttons] == ["n", "k", "label", "day"]
    assert {(b.layout.width, b.layout.flex) for b in buttons} == {("160px", "0 0 auto")}
    assert f'<col style="width:{INDEX_WIDTH}px"><col style="width:160px">' in grid._table.value
    table_width = INDEX_WIDTH + 4 * 160
    assert f'style="width:{table_width}px"' in grid._table.value
    assert grid._header.layout.width == f"{table_width}px"
    # Pager icons are Font Awesome names, not glyphs a browser's fonts may lack.
    pager = [grid._first, grid._previous, grid._next, grid._last]
    assert [b.icon for b in pager] == [
        "step-backward", "chevron-left", "chevron-right", "step-forward"
    ]  # fmt: skip
    assert all(b.description == "" and b.tooltip for b in pager)

    grid._next.click()
    assert grid.wait(30)
    assert grid.offset == 50
    assert grid.rows[0]["n"] == 51
    grid._last.click()
    assert grid.wait(30)
    assert (grid.offset, len(grid.rows)) == (100, 23)
    assert grid._next.disabled
    assert grid._last.disabled
    assert grid.next() is None  # past the end: nothing asked
    grid._previous.click()
    assert grid.wait(30)
    assert grid.rows[0]["n"] == 51

    grid._size.value = 25  # keeps the page that holds the first visible row
    assert grid.wait(30)
    assert (grid.offset, len(grid.rows), body_rows(grid)) == (50, 25, 25)

    header = {button.description: button for button in grid.sort_buttons}
    header["k"].click()  # ascending, whole result, nulls last
    assert grid.wait(30)
    assert grid.sort_column == "k"
    assert not grid.sort_descending
    assert [row["k"] for row in grid.rows[:3]] == [0, 0, 0]
    assert grid.sort_buttons[1].description == "k ↑"
    grid._last.click()
    assert grid.wait(30)
    assert all(row["k"] is None for row in grid.rows[-12:])
    grid.sort_buttons[1].click()  # again: descending, back to the first page
    assert grid.wait(30)
    assert (grid.offset, grid.sort_descending) == (0, True)
    assert [row["k"] for row in grid.rows[:2]] == [6, 6]
    assert grid.sort_buttons[1].description == "k ↓"
    assert grid._position.value == "Rows 1 to 25 of 123, by k ↓"


def test_failures_are_readable(client, datasource: str) -> None:
    grid = ResultGrid(client)
    assert grid._first.disabled
    assert grid._next.disabled
    with pytest.raises(ValueError, match="show"):
        grid.load()
    grid.show("A" * 22)  # a run nobody started
    assert grid.wait(30)
    assert grid.error.startswith("Not found (or not shared with you)")
    assert "Not found" in grid._message.value

    failed = client.run("SELECT 1 / 0 AS boom", datasource)
    with pytest.raises(analytics.QueryFailed):
        failed.wait(timeout=30)
    grid.show(failed)
    assert grid.wait(30)
    assert "has no result" in grid.error
    assert "division by zero" in grid.error

    cancelled = client.run("SELECT pg_sleep(30)", datasource)
    grid.show(cancelled)  # shown while it runs: the grid waits for it
    time.sleep(0.3)
    cancelled.cancel()
    assert grid.wait(30)
    assert grid.error == "Cancelled."

    ok = client.run("SELECT 1 AS one", datasource)
    grid.show(ok)  # still queued or running: the first page waits for it
    assert grid.wait(30)
    assert grid.rows == [{"one": 1}]
    assert grid.wait(30)
    grid.sort_by("missing")
    assert grid.wait(30)
    assert "'missing' is not a column of this result" in grid.error
    assert grid.error

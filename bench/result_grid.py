"""ResultGrid on a 1M-row result: what crosses to the browser against the result's Arrow size.

    .venv/bin/python bench/result_grid.py [--rows 1000000] [--page-size 50]

Starts JupyterLab with the extension in a subprocess (temporary ``JUPYTER_*`` folders), a fresh
PostgreSQL database as a datasource (row limit raised to ``--rows``), and runs a query of
``--rows`` rows x 7 mixed columns (integers, floats, text, timestamps, NULLs) through the REST
API. Then, in this process, it builds a ``ResultGrid`` on that run with every comm replaced by a
recording one (``tests/support/widgets.py``): the bytes a kernel would send to the browser are
the JSON of each comm_open and state update plus their binary buffers, and the display message.

Printed, each against the Arrow IPC stream of the whole result (what ``QueryRun.arrow()``
downloads, re-serialized here to count its bytes; the baseline):

- first page on display: every comm message from creating the grid until its first page shows
- next page: the updates one click on "next" sends
- sort: the updates a click on a column header sends (the server sorts the 1M rows), and the
  time until the sorted page shows, against the time of an unsorted page

Target (Notebook toolkit issue): first page on display <= 2% of the Arrow size.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics_ext.client import connect
from analytics_ext.widgets import ResultGrid
from tests.support.datasources import postgres_database
from tests.support.live_server import start_live_server
from tests.support.widgets import display_bytes, recording_comms

TARGET = 0.02


def result_sql(rows: int) -> str:
    """The benchmark's result: ``rows`` rows x 7 columns, computed by PostgreSQL."""
    return (
        "SELECT g AS id, (g % 1000)::int4 AS qty, g * 0.25::float8 AS amount, "
        "'customer-' || (g % 50000) AS name, "
        "(ARRAY['north', 'south', 'east', 'west'])[1 + g % 4] AS region, "
        "timestamp '2024-01-01' + g * interval '17 seconds' AS created, "
        "CASE WHEN g % 5 = 0 THEN NULL ELSE md5(g::text) END AS note "
        f"FROM generate_series(1, {rows}) AS g"
    )


def arrow_ipc_bytes(table: pa.Table) -> int:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"{now}; {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with (
        tempfile.TemporaryDirectory() as workdir,
        start_live_server(Path(workdir)) as server,
        postgres_database([]) as database_url,
    ):
        body = {"name": "bench", "url": database_url, "options": {"row_limit": args.rows}}
        response = requests.post(
            f"{server.url}api/datasources", json=body, headers=server.auth_header, timeout=30
        )
        response.raise_for_status()
        client = connect(server.url, server.token, timeout=120)
        started = time.perf_counter()
        run = client.run(result_sql(args.rows), "bench", row_limit=args.rows).wait(timeout=600)
        ran = time.perf_counter() - started
        started = time.perf_counter()
        table = run.arrow()
        fetched = time.perf_counter() - started
        arrow_size = arrow_ipc_bytes(table)
        print(
            f"result: {run.rows:,} rows x {table.num_columns} columns; query {ran:.1f} s; "
            f"whole result as Arrow: {arrow_size:,} bytes, fetched in {fetched:.1f} s"
        )
        del table

        with recording_comms() as recorder:
            started = time.perf_counter()
            grid = ResultGrid(client, page_size=args.page_size)
            grid.show(run)
            assert grid.wait(120), "the first page did not arrive"
            first_page_s = time.perf_counter() - started
            assert not grid.error, grid.error
            first = recorder.total_bytes + display_bytes(grid)
            opens = sum(1 for kind, _, _ in recorder.messages if kind == "open")
            updates = len(recorder.messages) - opens

            recorder.reset()
            started = time.perf_counter()
            grid.next()
            assert grid.wait(120)
            next_s = time.perf_counter() - started
            next_bytes = recorder.total_bytes

            recorder.reset()
            started = time.perf_counter()
            grid.sort_by("name", descending=True)
            assert grid.wait(120)
            sort_s = time.perf_counter() - started
            sort_bytes = recorder.total_bytes
            assert not grid.error, grid.error

            recorder.reset()
            started = time.perf_counter()
            grid.last()
            assert grid.wait(120)
            sorted_page_s = time.perf_counter() - started
            sorted_page_bytes = recorder.total_bytes

        ratio = first / arrow_size
        print(f"\nResultGrid, {args.page_size} rows a page, bytes to the browser:")
        print(f"{'step':<40}{'bytes':>12}{'of Arrow':>11}{'seconds':>10}")
        rows = [
            (f"first page on display ({opens} opens, {updates} updates)", first, first_page_s),
            ("next page", next_bytes, next_s),
            ("sort by name desc (server sorts all rows)", sort_bytes, sort_s),
            ("last page, sorted (order kept)", sorted_page_bytes, sorted_page_s),
        ]
        for label, size, seconds in rows:
            print(f"{label:<40}{size:>12,}{size / arrow_size:>10.4%}{seconds:>10.2f}")
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(f"\nfirst page / Arrow size = {ratio:.4%} (target <= {TARGET:.0%}: {verdict})")
        print(f"sorted first page / unsorted next page time = {sort_s / next_s:.1f}x")
        client.close()


if __name__ == "__main__":
    main()

"""ChartBuilder on 1M-point results: points in the marks, and build time against fetch time.

    .venv/bin/python bench/chart_builder.py [--rows 1000000] [--repeat 3]

Starts JupyterLab with the extension in a subprocess (temporary ``JUPYTER_*`` folders) and a
fresh PostgreSQL database as a datasource (row limit raised to ``--rows``), and runs two queries
of ``--rows`` rows through the REST API: a time series (timestamp, float) and a cloud of points
(two floats). For each, in this process:

- fetch: ``QueryRun.arrow()``, the whole result over Arrow IPC (the baseline);
- build: ``ChartBuilder(data=table, spec=...)`` until drawn (the spec's SQL path, downsampling,
  bqplot marks and the widgets), with every comm recorded (``tests/support/widgets.py``) to count
  what a kernel would send to the browser and how many points the marks hold.

Contenders, side by side on the same table (reduction + the bqplot mark, no widget frame):
lines by MinMaxLTTB (ours), LTTB, MinMax and every n-th point (all from tsdownsample) and
no reduction at all; scatters by 2D binning (ours), a stratified sample and no reduction.

Targets (Notebook toolkit issue): at most 4,000 points in the marks; build <= 1.2x fetch.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bqplot as bq
import numpy as np
import pyarrow as pa
import requests
from tsdownsample import EveryNthDownsampler, LTTBDownsampler, MinMaxDownsampler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics_ext.client import connect
from analytics_ext.widgets import ChartBuilder
from analytics_ext.widgets.downsample import MAX_POINTS, bin_scatter, downsample_lines, sample_rows
from tests.support.datasources import postgres_database
from tests.support.live_server import start_live_server
from tests.support.widgets import recording_comms

TARGET_RATIO = 1.2
CASES = {
    "line": (
        "SELECT timestamp '2024-01-01' + g * interval '1 second' AS at, "
        "sin(g / 20000.0) * 10 + (g % 997) / 100.0 AS wave FROM generate_series(1, {rows}) AS g",
        {"type": "line", "encodings": {"x": {"field": "at"}, "y": {"field": "wave"}}},
    ),
    "scatter": (
        "SELECT sin(g * 0.7) * sqrt(g % 1000) AS x, cos(g * 1.3) * ((g % 31) + 1) AS y "
        "FROM generate_series(1, {rows}) AS g",
        {"type": "scatter", "encodings": {"x": {"field": "x"}, "y": {"field": "y"}}},
    ),
}


def median_seconds(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def line_contenders(table: pa.Table) -> dict[str, Callable[[], int]]:
    x = table.column("at").to_numpy().astype("datetime64[ms]")
    y = table.column("wave").to_numpy()
    ticks = x.view(np.int64)

    def with_indices(pick: Callable[[], np.ndarray]) -> Callable[[], int]:
        def build() -> int:
            index = pick()
            mark = bq.Lines(x=x[index], y=y[index], scales=_scales("date"))
            return int(np.size(mark.x))

        return build

    def ours() -> int:
        reduced, _ = downsample_lines(table, "at", "wave", None, MAX_POINTS)
        xs = reduced.column("at").to_numpy().astype("datetime64[ms]")
        mark = bq.Lines(x=xs, y=reduced.column("wave").to_numpy(), scales=_scales("date"))
        return int(np.size(mark.x))

    def whole() -> int:
        return int(np.size(bq.Lines(x=x, y=y, scales=_scales("date")).x))

    return {
        "MinMaxLTTB + ends/extremes (ours)": ours,
        "LTTB": with_indices(lambda: LTTBDownsampler().downsample(ticks, y, n_out=MAX_POINTS)),
        "MinMax": with_indices(lambda: MinMaxDownsampler().downsample(y, n_out=MAX_POINTS)),
        "every n-th": with_indices(lambda: EveryNthDownsampler().downsample(y, n_out=MAX_POINTS)),
        "none (all points)": whole,
    }


def scatter_contenders(table: pa.Table) -> dict[str, Callable[[], int]]:
    def mark_of(reduced: pa.Table, sizes: bool) -> int:
        options = {"size": reduced.column("count").to_numpy()} if sizes else {}
        scales = {**_scales("linear"), **({"size": bq.LinearScale()} if sizes else {})}
        mark = bq.Scatter(
            x=reduced.column("x").to_numpy(), y=reduced.column("y").to_numpy(), scales=scales,
            **options,
        )  # fmt: skip
        return int(np.size(mark.x))

    return {
        "2D bins sized by count (ours)": lambda: mark_of(
            bin_scatter(table, "x", "y", None, (), MAX_POINTS)[0], sizes=True
        ),
        "stratified sample": lambda: mark_of(sample_rows(table, None, ["x", "y"])[0], False),
        "none (all points)": lambda: mark_of(table, sizes=False),
    }


def _scales(x: str) -> dict[str, bq.Scale]:
    return {"x": bq.DateScale() if x == "date" else bq.LinearScale(), "y": bq.LinearScale()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}, {os.cpu_count()} cores ({platform.node()}), load {os.getloadavg()[0]:.1f}")
    with (
        tempfile.TemporaryDirectory() as work,
        postgres_database([]) as url,
        start_live_server(Path(work)) as server,
    ):
        body = {"name": "bench", "url": url, "options": {"row_limit": args.rows}}
        created = requests.post(
            f"{server.url}api/datasources", json=body, headers=server.auth_header, timeout=60
        )
        created.raise_for_status()
        client = connect(server.url, server.token)
        misses = []
        for name, (sql, spec) in CASES.items():
            run = client.run(sql.format(rows=args.rows), created.json()["id"], row_limit=args.rows)
            run.wait(timeout=600)
            fetch, table = median_seconds(run.arrow, args.repeat)
            assert isinstance(table, pa.Table)
            assert table.num_rows == args.rows

            def build(table: pa.Table = table, spec: dict = spec) -> tuple[ChartBuilder, int]:
                with recording_comms() as recorder:
                    builder = ChartBuilder(data=table, spec=spec).wait(600)
                return builder, recorder.total_bytes

            seconds, (builder, sent) = median_seconds(build, args.repeat)
            ratio = seconds / fetch
            arrow_bytes = table.get_total_buffer_size()
            print(f"\n{name}: {args.rows:,} rows; fetch over Arrow {fetch:.3f} s "
                  f"({arrow_bytes:,} bytes of buffers)")  # fmt: skip
            print(f"ChartBuilder: {builder.points:,} points in the marks, {sent:,} bytes to "
                  f"the browser, built in {seconds:.3f} s = {ratio:.2f}x fetch")  # fmt: skip
            print(f"  note: {builder.note}")
            contenders = line_contenders(table) if name == "line" else scatter_contenders(table)
            header = f"  {'contender (reduction + mark)':36} {'points':>9} {'bytes':>12}"
            print(f"{header} {'seconds':>8} {'x fetch':>8}")
            for label, action in contenders.items():

                def sent_by(action: Callable[[], int] = action) -> tuple[int, int]:
                    with recording_comms() as recorder:
                        return action(), recorder.total_bytes

                took, (points, size) = median_seconds(sent_by, args.repeat)
                print(f"  {label:36} {points:>9,} {size:>12,} {took:>8.3f} {took / fetch:>8.2f}")
            if builder.points > MAX_POINTS:
                misses.append(f"{name}: {builder.points:,} points > {MAX_POINTS:,}")
            if ratio > TARGET_RATIO:
                misses.append(f"{name}: build {ratio:.2f}x fetch > {TARGET_RATIO}x")
        print("\ntargets: <= 4,000 points in the marks; build <= 1.2x fetch: "
              + ("met" if not misses else "MISSED: " + "; ".join(misses)))  # fmt: skip


if __name__ == "__main__":
    main()

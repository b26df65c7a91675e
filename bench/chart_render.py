"""Chart export rendering against fetching the chart's rows: is the picture the slow part?

    .venv/bin/python bench/chart_render.py [--rows 10 1000 10000 50000] [--repeat 5]

For each row count, a fresh subprocess (so *cold* is a process's first chart: vl-convert
starting its JavaScript runtime and compiling Vega-Lite) times:

- ``fetch``: the rows read from local PostgreSQL into Arrow with ADBC (the baseline: what a
  chart's data costs before anything is drawn)
- ``spec``: ``to_vega_lite`` (Arrow → a Vega-Lite dict with the rows inline)
- ``svg``, ``png``, ``pdf``: ``chart_render.render`` at 800 by 500 (PNG at scale 1)

as cold (first call in the process) and warm (median of ``--repeat`` further calls). The chart is
a scatter plot (one mark per row: the worst case); ratios are contender / warm fetch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONTENDERS = ("fetch", "spec", "svg", "png", "pdf")
SQL = (
    "SELECT i AS x, (i * 7919) % 1000 AS y, 'group ' || (i % 5) AS g"
    " FROM generate_series(1, {rows}) AS i"
)


def measure(url: str, rows: int, repeat: int) -> dict[str, dict[str, float]]:
    """Runs in the subprocess: every contender cold once, then ``repeat`` times warm."""
    import adbc_driver_postgresql.dbapi as adbc

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from analytics_ext.engine.chart_render import render
    from analytics_ext.engine.vega_lite import to_vega_lite
    from analytics_ext.schemas.charts import ChartSpec, Customization

    spec = ChartSpec.model_validate(
        {
            "type": "scatter",
            "encodings": {"x": {"field": "x"}, "y": {"field": "y"}, "color": {"field": "g"}},
        }
    )
    look = Customization(title="Benchmark", legend="bottom")

    def fetch() -> object:
        with adbc.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(SQL.format(rows=rows))
            return cursor.fetch_arrow_table()

    table = fetch()
    vl = to_vega_lite(spec, look, table, width=800, height=500)
    steps = {
        "fetch": fetch,
        "spec": lambda: to_vega_lite(spec, look, table, width=800, height=500),
        "svg": lambda: render(vl, "svg", 800, 500),
        "png": lambda: render(vl, "png", 800, 500),
        "pdf": lambda: render(vl, "pdf", 800, 500),
    }
    results: dict[str, dict[str, float]] = {}
    for name, step in steps.items():
        started = time.perf_counter()
        step()
        cold = time.perf_counter() - started
        warm = []
        for _ in range(repeat):
            started = time.perf_counter()
            step()
            warm.append(time.perf_counter() - started)
        results[name] = {"cold": cold, "warm": statistics.median(warm)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10, 1_000, 10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("URL", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.repeat)))
        return

    import psycopg

    name = f"bench_chart_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        print(f"{'rows':>8}  {'contender':<10} {'cold s':>8} {'warm s':>8} {'warm vs fetch':>14}")
        for rows in args.rows:
            child = [sys.executable, __file__, "--child", url, str(rows), "--repeat"]
            done = subprocess.run([*child, str(args.repeat)], capture_output=True, check=True)
            results = json.loads(done.stdout)
            base = results["fetch"]["warm"]
            for contender in CONTENDERS:
                cold, warm = results[contender]["cold"], results[contender]["warm"]
                print(f"{rows:>8}  {contender:<10} {cold:>8.3f} {warm:>8.3f} {warm / base:>13.1f}x")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

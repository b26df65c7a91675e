"""Benchmark: writing the retail demo data vs pandas ``DataFrame.to_sql`` into SQLite.

The baseline is what one would write by hand: pandas writes the same ``order_lines`` rows into
a fresh SQLite file with ``to_sql`` (no keys, no indexes). The contenders are the real thing --
``write_demo_data`` generating every table and writing both databases with all keys and
indexes -- and, for a like-for-like row, the DuckDB -> SQLite copy ``write_demo_data`` uses,
applied to ``order_lines`` alone.

    .venv/bin/python bench/demo_data.py --scale 1.0 --repeat 3

Ratios are ``baseline median / contender median``: above 1.00x is faster than pandas.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from analytics_ext.demo import retail
from analytics_ext.demo.schema import ORDER_LINES, create_table_sql


def _median_seconds(run: Callable[[Path], object], repeat: int) -> float:
    """Median wall time of ``run`` over ``repeat`` runs, each in a fresh empty directory."""
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
            started = time.perf_counter()
            run(Path(scratch))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def pandas_to_sql(order_lines: pd.DataFrame) -> Callable[[Path], object]:
    def run(scratch: Path) -> None:
        con = sqlite3.connect(scratch / "baseline.sqlite")
        try:
            order_lines.to_sql("order_lines", con, index=False)
            con.commit()
        finally:
            con.close()

    return run


def write_all(scale: float, formats: tuple[str, ...]) -> Callable[[Path], object]:
    def run(scratch: Path) -> None:
        retail.write_demo_data(scratch, scale=scale, formats=formats, force=True)

    return run


def copy_order_lines(source: Path) -> Callable[[Path], object]:
    """The SQLite half of write_demo_data for order_lines only: same DDL, pragmas and copy."""

    def run(scratch: Path) -> None:
        duck = duckdb.connect(str(source), read_only=True)
        lite = sqlite3.connect(scratch / "copy.sqlite", isolation_level=None)
        try:
            lite.execute("PRAGMA journal_mode=OFF")
            lite.execute("PRAGMA synchronous=OFF")
            lite.execute("BEGIN")
            lite.execute(create_table_sql(ORDER_LINES, "sqlite"))
            retail._copy_table(duck, lite, ORDER_LINES)
            lite.execute("COMMIT")
        finally:
            lite.close()
            duck.close()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-demo-source-") as source_dir:
        files = retail.write_demo_data(source_dir, scale=args.scale, formats=("duckdb",))
        with duckdb.connect(str(files.duckdb), read_only=True) as con:
            # Floats, as pandas users would have them (DECIMAL arrives as float64 anyway).
            order_lines = con.sql("SELECT * FROM order_lines ORDER BY order_id, line_number").df()
        print(
            f"scale {args.scale:g}: {files.row_counts['order_lines']:,} order lines, "
            f"{sum(files.row_counts.values()):,} rows in all tables; "
            f"{os.cpu_count()} CPUs; median of {args.repeat}"
        )
        contenders = [
            ("pandas.to_sql (sqlite, order_lines)", pandas_to_sql(order_lines)),
            ("analytics_ext write_demo_data", write_all(args.scale, retail.FORMATS)),
            ("  ... sqlite only", write_all(args.scale, ("sqlite",))),
            ("  ... duckdb only", write_all(args.scale, ("duckdb",))),
            ("  ... duckdb->sqlite, order_lines", copy_order_lines(files.duckdb)),
        ]
        medians = [(name, _median_seconds(run, args.repeat)) for name, run in contenders]

    baseline = medians[0][1]
    print(f"{'contender':<38}{'median s':>10}   vs pandas.to_sql")
    for name, seconds in medians:
        print(f"{name:<38}{seconds:>10.2f}   {baseline / seconds:>8.2f}x")
    print("write_demo_data rows: every table, keys, checks and indexes (pandas: order_lines only)")


if __name__ == "__main__":
    main()

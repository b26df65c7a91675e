"""``python -m analytics_ext.demo``: write the retail demo database from the command line.

Example: ``python -m analytics_ext.demo --out ./demo --scale 0.1 --force``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from analytics_ext.demo.retail import (
    DEFAULT_SEED,
    FORMATS,
    DemoDataFiles,
    default_demo_dir,
    write_demo_data,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics_ext.demo",
        description="Write the deterministic retail demo database (DuckDB and SQLite).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: $ANALYTICS_DEMO_DIR, else <jupyter data dir>/"
        "analytics_ext/demo)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = about 1,000,000 order lines"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        help="format to write; repeat for several (default: all)",
    )
    parser.add_argument(
        "--force", action="store_true", help="regenerate even if matching files exist"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def summary_table(files: DemoDataFiles, elapsed: float) -> str:
    """Rows per table, then each file with its size and whether it was reused."""
    width = max(len(name) for name in files.row_counts) + 2
    lines = [f"{'table':<{width}}{'rows':>12}", "-" * (width + 12)]
    lines += [f"{name:<{width}}{count:>12,}" for name, count in files.row_counts.items()]
    lines.append("")
    for fmt, path in (("duckdb", files.duckdb), ("sqlite", files.sqlite)):
        if path is not None:
            state = "reused" if fmt in files.reused else "written"
            size = path.stat().st_size / 1e6
            lines.append(f"{fmt:<8}{state:<9}{size:>9,.1f} MB  {path}")
    lines.append(f"seed={files.seed} scale={files.scale:g} in {elapsed:.1f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = args.out if args.out is not None else default_demo_dir()
    started = time.perf_counter()

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    try:
        files = write_demo_data(
            out,
            scale=args.scale,
            seed=args.seed,
            formats=args.formats or FORMATS,
            progress=progress,
            force=args.force,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary_table(files, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

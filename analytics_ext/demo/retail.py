"""Write the retail demo database (DuckDB and/or SQLite) deterministically, offline and atomically.

The data is a small retail star schema -- ``currencies``, ``dates``, ``customers``, ``products``,
``stores`` dimensions and ``orders`` / ``order_lines`` facts, about a million order lines over
2022-2025 at ``scale=1.0`` -- generated with numpy from a seed (see ``generate.py``), loaded into
DuckDB from Arrow with every primary key, foreign key and check declared, then copied from DuckDB
into SQLite. Files are built in a staging directory and renamed into place only when complete,
so readers never see a half-written database; a complete file whose ``demo_metadata`` matches the
requested seed, scale and generator version is reused as is.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics_ext.demo.generate import build_tables
from analytics_ext.demo.schema import (
    METADATA,
    TABLES,
    TableSpec,
    create_table_sql,
    duckdb_comment_sql,
    sqlite_index_sql,
)

# Bump whenever the generated data changes for a given (seed, scale): existing files are then
# regenerated instead of reused.
GENERATOR_VERSION = "1"
DEFAULT_SEED = 20261127
FORMATS: tuple[str, ...] = ("duckdb", "sqlite")
FILE_NAMES: Mapping[str, str] = {"duckdb": "retail.duckdb", "sqlite": "retail.sqlite"}
DEMO_DIR_ENV = "ANALYTICS_DEMO_DIR"
_SQLITE_BATCH_ROWS = 50_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoDataFiles:
    """What ``write_demo_data`` produced: file paths (None for formats not requested), the row
    count of every table, and which formats were reused rather than written."""

    duckdb: Path | None
    sqlite: Path | None
    row_counts: Mapping[str, int] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    scale: float = 1.0
    reused: tuple[str, ...] = ()


def default_demo_dir() -> Path:
    """``$ANALYTICS_DEMO_DIR``, else ``<jupyter data dir>/analytics_ext/demo`` -- where the
    example notebooks look, and the default of ``AnalyticsExtension.demo_data_dir``."""
    configured = os.environ.get(DEMO_DIR_ENV)
    if configured:
        return Path(configured)
    from analytics_ext.paths import data_dir

    return data_dir() / "demo"


def write_demo_data(
    out_dir: Path | str,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    formats: Sequence[str] = FORMATS,
    progress: Progress | None = None,
    force: bool = False,
) -> DemoDataFiles:
    """Write ``retail.duckdb`` / ``retail.sqlite`` into ``out_dir`` (created if missing).

    The same ``seed`` and ``scale`` always give identical table contents. Existing files made by
    this generator version with the same seed and scale are kept unless ``force`` is true; only
    missing or stale formats are (re)written. ``progress`` receives human-readable step messages.
    """
    fmts = _normalize_formats(formats)
    scale = _normalize_scale(scale)
    seed = _normalize_seed(seed)
    report: Progress = progress or (lambda _message: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = {fmt: out / FILE_NAMES[fmt] for fmt in fmts}

    reusable = {} if force else _reusable_counts(targets, seed, scale, report)
    stale = [fmt for fmt in fmts if fmt not in reusable]
    counts = next(iter(reusable.values()), {})
    if stale:
        counts = _generate(out, {fmt: targets[fmt] for fmt in stale}, seed, scale, report)
    return DemoDataFiles(
        duckdb=targets.get("duckdb"),
        sqlite=targets.get("sqlite"),
        row_counts=dict(counts),
        seed=seed,
        scale=scale,
        reused=tuple(fmt for fmt in fmts if fmt in reusable),
    )


# --- argument checks --------------------------------------------------------------------------


def _normalize_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    chosen = list(dict.fromkeys(fmt.lower() for fmt in formats))
    unknown = [fmt for fmt in chosen if fmt not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {list(formats)}")
    return chosen


def _normalize_scale(scale: float) -> float:
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return value


def _normalize_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


# --- reuse ------------------------------------------------------------------------------------


def _metadata_rows(seed: int, scale: float, counts: Mapping[str, int]) -> list[tuple[str, str]]:
    rows = [("generator_version", GENERATOR_VERSION), ("seed", str(seed)), ("scale", repr(scale))]
    return rows + [(f"rows.{table}", str(count)) for table, count in counts.items()]


def _matching_counts(
    metadata: Mapping[str, str], seed: int, scale: float, count: Callable[[str], int]
) -> dict[str, int] | None:
    """Row counts recorded in a file's metadata if it was made for this request and its tables
    still hold that many rows, else None."""
    wanted = dict(_metadata_rows(seed, scale, {}))
    if any(metadata.get(key) != value for key, value in wanted.items()):
        return None
    counts = {spec.name: int(metadata.get(f"rows.{spec.name}", -1)) for spec in TABLES}
    if any(count(name) != expected for name, expected in counts.items()):
        return None
    return counts


def _existing_counts(fmt: str, path: Path, seed: int, scale: float) -> dict[str, int] | None:
    """Inspect an existing file read-only; anything unreadable counts as "regenerate"."""
    if not path.is_file():
        return None
    try:
        if fmt == "duckdb":
            con = duckdb.connect(str(path), read_only=True)
        else:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            # Table names in SQL here and below come from schema.py constants, never from input.
            metadata = dict(con.execute(f"SELECT key, value FROM {METADATA.name}").fetchall())  # noqa: S608

            def count(table: str) -> int:
                return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608

            return _matching_counts(metadata, seed, scale, count)
        finally:
            con.close()
    except (duckdb.Error, sqlite3.Error, OSError, ValueError):
        return None


def _reusable_counts(
    targets: Mapping[str, Path], seed: int, scale: float, report: Progress
) -> dict[str, dict[str, int]]:
    reusable = {}
    for fmt, path in targets.items():
        counts = _existing_counts(fmt, path, seed, scale)
        if counts is not None:
            report(f"{fmt}: reusing {path} (seed={seed}, scale={scale:g})")
            reusable[fmt] = counts
    return reusable


# --- generation -------------------------------------------------------------------------------


@contextmanager
def _staging_dir(out_dir: Path) -> Iterator[Path]:
    """A private directory next to the targets (same file system, so renames are atomic),
    removed afterwards whatever happens."""
    staging = Path(tempfile.mkdtemp(prefix=".retail-staging-", dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _generate(
    out_dir: Path, targets: Mapping[str, Path], seed: int, scale: float, report: Progress
) -> dict[str, int]:
    report(f"generating retail demo data (seed={seed}, scale={scale:g})")
    started = time.perf_counter()
    tables = build_tables(seed, scale, report)
    report(f"generated in {time.perf_counter() - started:.1f} s")
    with _staging_dir(out_dir) as staging:
        staged = {fmt: staging / target.name for fmt, target in targets.items()}
        duck_path = str(staged["duckdb"]) if "duckdb" in staged else ":memory:"
        con = duckdb.connect(duck_path)
        con.execute("SET enable_progress_bar = false")  # it would draw on our caller's terminal
        try:
            counts = _load_duckdb(con, tables, seed, scale, report)
            del tables  # DuckDB holds the data now; free the Arrow copies
            if "sqlite" in staged:
                _export_sqlite(con, staged["sqlite"], report)
        finally:
            con.close()
        _publish(staged, targets, report)
    return counts


def _load_duckdb(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, pa.Table],
    seed: int,
    scale: float,
    report: Progress,
) -> dict[str, int]:
    """Create every table with its constraints, then insert from Arrow (DuckDB checks the keys)."""
    started = time.perf_counter()
    for spec in (*TABLES, METADATA):
        con.execute(create_table_sql(spec, "duckdb"))
        for statement in duckdb_comment_sql(spec):
            con.execute(statement)
    for spec in TABLES:
        _insert_arrow(con, spec, tables[spec.name])
    counts = {spec.name: tables[spec.name].num_rows for spec in TABLES}
    insert = f"INSERT INTO {METADATA.name} VALUES (?, ?)"  # noqa: S608
    con.executemany(insert, _metadata_rows(seed, scale, counts))
    con.execute("CHECKPOINT")
    report(f"duckdb: loaded {len(TABLES)} tables in {time.perf_counter() - started:.1f} s")
    return counts


def _insert_arrow(con: duckdb.DuckDBPyConnection, spec: TableSpec, table: pa.Table) -> None:
    columns = ", ".join(spec.column_names)
    con.register("_demo_source", table)
    try:
        con.execute(f"INSERT INTO {spec.name} ({columns}) SELECT {columns} FROM _demo_source")  # noqa: S608
    finally:
        con.unregister("_demo_source")


def _export_sqlite(con: duckdb.DuckDBPyConnection, path: Path, report: Progress) -> None:
    """Copy every table from DuckDB into a new SQLite file in one transaction.

    Journal and fsync are off during the load: the file is private to the staging directory
    and discarded on failure, so the atomic rename, not the journal, is what keeps it safe.
    """
    started = time.perf_counter()
    lite = sqlite3.connect(path, isolation_level=None)
    try:
        lite.execute("PRAGMA journal_mode=OFF")
        lite.execute("PRAGMA synchronous=OFF")
        lite.execute("PRAGMA cache_size=-262144")  # 256 MiB while building indexes
        lite.execute("BEGIN")
        for spec in (*TABLES, METADATA):
            lite.execute(create_table_sql(spec, "sqlite"))
            rows = _copy_table(con, lite, spec)
            report(f"sqlite: {spec.name} {rows:,} rows")
        for spec in TABLES:
            for statement in sqlite_index_sql(spec):
                lite.execute(statement)
        lite.execute("COMMIT")
        # Planner statistics from a sample: a full ANALYZE scans every index (seconds at scale 1).
        lite.execute("PRAGMA analysis_limit=1000")
        lite.execute("ANALYZE")
        lite.execute("PRAGMA journal_mode=DELETE")
    finally:
        lite.close()
    report(f"sqlite: written in {time.perf_counter() - started:.1f} s")


def _copy_table(con: duckdb.DuckDBPyConnection, lite: sqlite3.Connection, spec: TableSpec) -> int:
    """Stream one table ordered by its key, in batches, converted to SQLite's storage types."""
    select = ", ".join(column.sqlite_select() for column in spec.columns)
    order = ", ".join(spec.primary_key)
    insert = f"INSERT INTO {spec.name} VALUES ({', '.join('?' * len(spec.columns))})"  # noqa: S608
    cursor = con.execute(f"SELECT {select} FROM {spec.name} ORDER BY {order}")  # noqa: S608
    copied = 0
    while batch := cursor.fetchmany(_SQLITE_BATCH_ROWS):
        lite.executemany(insert, batch)
        copied += len(batch)
    return copied


def _publish(staged: Mapping[str, Path], targets: Mapping[str, Path], report: Progress) -> None:
    """Rename finished files over the targets; each rename is atomic."""
    for fmt, source in staged.items():
        target = targets[fmt]
        if fmt == "duckdb":
            # A stray WAL next to the target would be replayed into the new file on open.
            target.with_name(target.name + ".wal").unlink(missing_ok=True)
        os.replace(source, target)
        size_mb = target.stat().st_size / 1e6
        report(f"{fmt}: wrote {target} ({size_mb:,.1f} MB)")

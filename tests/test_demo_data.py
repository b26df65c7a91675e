"""The retail demo data: deterministic, identical in DuckDB and SQLite, keyed, atomic, reusable.

Everything runs against real DuckDB and SQLite files at scale 0.01 (about 10,000 order lines).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from analytics_ext.demo import __main__ as demo_cli
from analytics_ext.demo import retail
from analytics_ext.demo.retail import DemoDataFiles, write_demo_data
from analytics_ext.demo.schema import TABLES

REPO_ROOT = Path(__file__).resolve().parents[1]
SCALE = 0.01
TABLE_NAMES = [spec.name for spec in TABLES]
PRIMARY_KEYS = {spec.name: spec.primary_key for spec in TABLES}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDataFiles:
    return write_demo_data(tmp_path_factory.mktemp("demo"), scale=SCALE)


# --- helpers ----------------------------------------------------------------------------------


def _normalize(value: object) -> object:
    """One representation for both engines: DuckDB gives Decimal/date/datetime/bool, SQLite
    gives float/ISO text/int for the same stored values."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(con: duckdb.DuckDBPyConnection | sqlite3.Connection, table: str) -> list[tuple]:
    order = ", ".join(PRIMARY_KEYS[table])
    rows = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return [tuple(_normalize(value) for value in row) for row in rows]


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _duckdb_digests(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {table: _digest(_rows(con, table)) for table in TABLE_NAMES}


def _sqlite_digests(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return {table: _digest(_rows(con, table)) for table in TABLE_NAMES}
    finally:
        con.close()


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _identity(path: Path) -> tuple[int, int]:
    """Inode and mtime: a rename of a newly written file changes them, reuse does not."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


# --- determinism and cross-engine equality ----------------------------------------------------


def test_same_seed_gives_identical_tables_in_another_process(demo, tmp_path):
    """A second run in a fresh interpreter with a different hash seed writes the same rows."""
    script = textwrap.dedent(
        """
        import sys
        from analytics_ext.demo import write_demo_data
        write_demo_data(sys.argv[1], scale=float(sys.argv[2]))
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path), str(SCALE)], check=True, env=env)
    assert _duckdb_digests(tmp_path / "retail.duckdb") == _duckdb_digests(demo.duckdb)
    assert _sqlite_digests(tmp_path / "retail.sqlite") == _sqlite_digests(demo.sqlite)


def test_another_seed_gives_other_data(demo, tmp_path):
    other = write_demo_data(tmp_path, scale=SCALE, seed=demo.seed + 1, formats=["duckdb"])
    mine, theirs = _duckdb_digests(demo.duckdb), _duckdb_digests(other.duckdb)
    for table in ("customers", "products", "orders", "order_lines"):
        assert mine[table] != theirs[table], table
    assert mine["currencies"] == theirs["currencies"]  # reference data does not depend on seed


def test_duckdb_and_sqlite_hold_the_same_rows(demo):
    duck = duckdb.connect(str(demo.duckdb), read_only=True)
    lite = sqlite3.connect(demo.sqlite)
    try:
        for table in TABLE_NAMES:
            duck_rows, lite_rows = _rows(duck, table), _rows(lite, table)
            assert len(duck_rows) == demo.row_counts[table] > 0, table
            assert duck_rows == lite_rows, table
    finally:
        duck.close()
        lite.close()


# --- keys, constraints, indexes ---------------------------------------------------------------


def test_primary_and_foreign_keys_are_declared_in_duckdb(demo):
    constraints = _query(
        demo.duckdb,
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints()",
    )
    primary = {table for table, kind, _ in constraints if kind == "PRIMARY KEY"}
    foreign = {(table, tuple(cols)) for table, kind, cols in constraints if kind == "FOREIGN KEY"}
    assert set(TABLE_NAMES) <= primary
    assert {
        ("orders", ("customer_id",)),
        ("orders", ("store_id",)),
        ("orders", ("currency",)),
        ("orders", ("order_date",)),
        ("order_lines", ("order_id",)),
        ("order_lines", ("product_id",)),
    } <= foreign


def test_no_orphans_in_either_engine(demo):
    orphans = """
        SELECT (SELECT count(*) FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id
                WHERE o.id IS NULL)
             + (SELECT count(*) FROM order_lines l LEFT JOIN products p ON p.id = l.product_id
                WHERE p.id IS NULL)
             + (SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
                WHERE c.id IS NULL)
             + (SELECT count(*) FROM orders o LEFT JOIN stores s ON s.id = o.store_id
                WHERE s.id IS NULL)
             + (SELECT count(*) FROM orders WHERE id NOT IN (SELECT order_id FROM order_lines))
    """
    assert _query(demo.duckdb, orphans) == [(0,)]
    lite = sqlite3.connect(demo.sqlite)
    try:
        assert lite.execute(orphans).fetchall() == [(0,)]
        assert lite.execute("PRAGMA foreign_key_check").fetchall() == []
        declared = lite.execute("PRAGMA foreign_key_list(order_lines)").fetchall()
        assert {(row[2], row[3]) for row in declared} == {
            ("orders", "order_id"),
            ("products", "product_id"),
        }
    finally:
        lite.close()


def test_foreign_keys_reject_orphans(demo, tmp_path):
    """The declared keys are enforced: an order line for a missing order is refused."""
    orphan = "INSERT INTO order_lines VALUES (999999999, 1, 1, 1, 1.00, 0.00, 1.00)"
    duck_copy = tmp_path / "copy.duckdb"
    shutil.copy(demo.duckdb, duck_copy)
    with duckdb.connect(str(duck_copy)) as con, pytest.raises(duckdb.ConstraintException):
        con.execute(orphan)

    lite_copy = tmp_path / "copy.sqlite"
    shutil.copy(demo.sqlite, lite_copy)
    con = sqlite3.connect(lite_copy)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(orphan)
    finally:
        con.close()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM order_lines WHERE order_id = 42",
        "SELECT * FROM orders WHERE customer_id = 42",
        "SELECT * FROM orders WHERE ordered_at >= '2024-12-01' AND ordered_at < '2024-12-02'",
        "SELECT * FROM order_lines WHERE product_id = 42",
    ],
)
def test_sqlite_lookups_use_an_index(demo, query):
    con = sqlite3.connect(demo.sqlite)
    try:
        plan = " ".join(row[-1] for row in con.execute(f"EXPLAIN QUERY PLAN {query}"))
    finally:
        con.close()
    assert "SEARCH" in plan, plan  # not SCAN
    assert "INDEX" in plan or "PRIMARY KEY" in plan, plan


# --- sizes ------------------------------------------------------------------------------------


def test_counts_match_the_files_and_scale_linearly(demo, tmp_path):
    actual = dict(
        _query(
            demo.duckdb,
            " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLE_NAMES),
        )
    )
    assert actual == dict(demo.row_counts)
    # scale 1.0 means about a million order lines
    assert 9_000 <= demo.row_counts["order_lines"] <= 11_000

    double = write_demo_data(tmp_path, scale=2 * SCALE, formats=["duckdb"]).row_counts
    for table in ("customers", "orders", "order_lines"):
        assert 1.8 <= double[table] / demo.row_counts[table] <= 2.2, table
    assert double["stores"] == demo.row_counts["stores"]
    assert double["dates"] == demo.row_counts["dates"] == 1461


# --- reuse, force, atomicity ------------------------------------------------------------------


def test_matching_files_are_reused_unless_forced(tmp_path):
    first = write_demo_data(tmp_path, scale=SCALE)
    assert first.reused == ()
    before = {fmt: _identity(path) for fmt, path in (("d", first.duckdb), ("s", first.sqlite))}

    messages: list[str] = []
    again = write_demo_data(tmp_path, scale=SCALE, progress=messages.append)
    assert again.reused == ("duckdb", "sqlite")
    assert again.row_counts == first.row_counts
    assert {"d": _identity(again.duckdb), "s": _identity(again.sqlite)} == before
    assert any("reusing" in message for message in messages)

    forced = write_demo_data(tmp_path, scale=SCALE, force=True)
    assert forced.reused == ()
    assert _identity(forced.duckdb) != before["d"]
    assert _identity(forced.sqlite) != before["s"]


def test_stale_or_missing_formats_are_regenerated(tmp_path):
    first = write_demo_data(tmp_path, scale=SCALE)
    duck_before = _identity(first.duckdb)

    first.sqlite.unlink()
    partial = write_demo_data(tmp_path, scale=SCALE)
    assert partial.reused == ("duckdb",)
    assert partial.sqlite.is_file()
    assert _identity(partial.duckdb) == duck_before

    other_scale = write_demo_data(tmp_path, scale=2 * SCALE, formats=["duckdb"])
    assert other_scale.reused == ()
    assert _query(other_scale.duckdb, "SELECT value FROM demo_metadata WHERE key = 'scale'") == [
        (repr(2 * SCALE),)
    ]

    con = sqlite3.connect(first.sqlite)  # tamper: metadata no longer matches the request
    con.execute("UPDATE demo_metadata SET value = '1' WHERE key = 'seed'")
    con.commit()
    con.close()
    assert write_demo_data(tmp_path, scale=SCALE, formats=["sqlite"]).reused == ()
    assert write_demo_data(tmp_path, scale=SCALE, formats=["sqlite"]).reused == ("sqlite",)


def test_a_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    real_copy = retail._copy_table

    def copy_then_fail(con, lite, spec):
        real_copy(con, lite, spec)
        if spec.name == "order_lines":
            raise RuntimeError("disk full (simulated)")
        return 0

    monkeypatch.setattr(retail, "_copy_table", copy_then_fail)
    with pytest.raises(RuntimeError, match="simulated"):
        write_demo_data(tmp_path, scale=SCALE)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_failure_keeps_the_previous_complete_files(tmp_path, monkeypatch):
    old = write_demo_data(tmp_path, scale=SCALE, seed=1)
    identities = (_identity(old.duckdb), _identity(old.sqlite))

    def fail(*_args, **_kwargs):
        raise RuntimeError("crash while exporting (simulated)")

    monkeypatch.setattr(retail, "_export_sqlite", fail)
    with pytest.raises(RuntimeError, match="simulated"):
        write_demo_data(tmp_path, scale=SCALE, seed=2)
    assert sorted(os.listdir(tmp_path)) == ["retail.duckdb", "retail.sqlite"]
    assert (_identity(old.duckdb), _identity(old.sqlite)) == identities
    assert _query(old.duckdb, "SELECT value FROM demo_metadata WHERE key = 'seed'") == [("1",)]


# --- readers ----------------------------------------------------------------------------------


def test_duckdb_file_is_shared_by_read_only_readers(demo):
    """The server and a kernel (two processes) and two connections in one process at once."""
    reader = textwrap.dedent(
        """
        import sys, duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        print(con.execute("SELECT count(*) FROM orders").fetchone()[0], flush=True)
        sys.stdin.read()  # keep the file open until the test is done
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", reader, str(demo.duckdb)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        try:
            assert int(other.stdout.readline()) == demo.row_counts["orders"]
            first = duckdb.connect(str(demo.duckdb), read_only=True)
            second = duckdb.connect(str(demo.duckdb), read_only=True)
            try:
                count = "SELECT count(*) FROM order_lines"
                assert first.execute(count).fetchone() == second.execute(count).fetchone()
            finally:
                first.close()
                second.close()
        finally:
            other.stdin.close()
    assert other.returncode == 0


# --- realism ----------------------------------------------------------------------------------


REVENUE_USD = """
    SELECT o.*, l.*, l.line_total * c.usd_rate AS usd
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    JOIN currencies c ON c.code = o.currency
    WHERE o.status <> 'cancelled'
"""


def test_december_is_the_peak_and_weekends_are_busy(demo):
    monthly = f"SELECT month(order_date), sum(usd)::DOUBLE FROM ({REVENUE_USD}) GROUP BY 1"
    by_month = dict(_query(demo.duckdb, monthly))
    assert max(by_month, key=by_month.get) == 12
    assert by_month[12] > 1.5 * by_month[2]
    by_weekday = dict(
        _query(demo.duckdb, "SELECT isodow(order_date), count(*) FROM orders GROUP BY 1")
    )
    assert by_weekday[6] > 1.3 * by_weekday[2]  # Saturday vs Tuesday


def test_revenue_grows_year_on_year(demo):
    by_year = _query(
        demo.duckdb, f"SELECT year(order_date), sum(usd) FROM ({REVENUE_USD}) GROUP BY 1 ORDER BY 1"
    )
    assert [year for year, _ in by_year] == [2022, 2023, 2024, 2025]
    assert all(later > earlier for (_, earlier), (_, later) in itertools.pairwise(by_year))


def test_customers_follow_a_pareto_like_distribution(demo):
    (share,) = _query(
        demo.duckdb,
        f"""
        WITH per_customer AS (SELECT customer_id, sum(usd) AS usd FROM ({REVENUE_USD}) GROUP BY 1),
        ranked AS (SELECT usd, row_number() OVER (ORDER BY usd DESC) AS rank,
                          count(*) OVER () AS customers FROM per_customer)
        SELECT sum(usd) FILTER (WHERE rank <= customers * 0.2) / sum(usd) FROM ranked
        """,
    )[0]
    assert share > 0.5


def test_amounts_statuses_and_dates_are_consistent(demo):
    facts = _query(
        demo.duckdb,
        """
        SELECT
          count(*) FILTER (WHERE line_total <> round(quantity * unit_price * (1 - discount), 2)),
          count(*) FILTER (WHERE discount > 0),
          (SELECT list(DISTINCT status ORDER BY status) FROM orders),
          (SELECT list(DISTINCT currency ORDER BY currency) FROM orders),
          (SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
             WHERE c.signup_date > o.order_date),
          (SELECT count(*) FROM orders o JOIN stores s ON s.id = o.store_id
             WHERE s.opened_on > o.order_date),
          (SELECT count(*) FROM orders WHERE CAST(ordered_at AS DATE) <> order_date),
          (SELECT min(order_date) >= DATE '2022-01-01' AND max(order_date) <= DATE '2025-12-31'
             FROM orders)
        FROM order_lines
        """,
    )[0]
    wrong_totals, discounted, statuses, currencies, early_customers, closed_stores = facts[:6]
    wrong_dates, in_period = facts[6:]
    assert wrong_totals == 0
    assert discounted > 0.05 * demo.row_counts["order_lines"]
    assert {"cancelled", "completed", "returned"} <= set(statuses)
    assert currencies == ["CAD", "EUR", "GBP", "USD"]
    assert (early_customers, closed_stores, wrong_dates) == (0, 0, 0)
    assert in_period


# --- arguments and CLI ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"formats": ["parquet"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_demo_data(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_only_the_requested_format_is_written(tmp_path):
    files = write_demo_data(tmp_path, scale=SCALE, formats=("sqlite",))
    assert files.duckdb is None
    assert sorted(os.listdir(tmp_path)) == ["retail.sqlite"]


def test_cli_writes_and_summarises(tmp_path, capsys):
    out = tmp_path / "cli"
    assert demo_cli.main(["--out", str(out), "--scale", str(SCALE), "--format", "duckdb"]) == 0
    printed = capsys.readouterr().out
    assert "order_lines:" in printed  # progress
    assert "duckdb  written" in printed  # summary
    assert sorted(os.listdir(out)) == ["retail.duckdb"]
    assert demo_cli.main(["--out", str(out), "--scale", "0"]) == 2

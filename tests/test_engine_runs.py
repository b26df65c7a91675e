"""Runs: cancellation stops the query in each real database within a second; timeouts, row caps
and the per-user limit hold."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from analytics_ext.engine.errors import RunNotFound, StatementRefused, TooManyRuns
from analytics_ext.engine.runs import QueryEngine, Run, RunState
from analytics_ext.engine.spec import SourceSpec
from tests.support.engine import (
    finished,
    mariadb_admin,
    mariadb_database,
    query_engine,
    spec_for,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def engine() -> Iterator[QueryEngine]:
    with query_engine(workers=4, per_user_limit=3) as running:
        yield running


def pg_active(postgresql_url: str, needle: str) -> list[int]:
    """Backends of this database running a statement containing ``needle`` (not ours)."""
    with psycopg.connect(postgresql_url.replace("postgresql+psycopg", "postgresql")) as watcher:
        rows = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'active' AND query ILIKE %s AND pid <> pg_backend_pid()",
            (f"%{needle}%",),
        ).fetchall()
    return [row[0] for row in rows]


def cancel_and_time(engine: QueryEngine, run: Run, gone: object) -> float:
    """Cancel ``run``; seconds until ``gone()`` is true and the worker has returned."""
    flight = run.flight
    assert flight is not None
    started = time.monotonic()
    engine.cancel(run.id, run.owner)
    wait_until(lambda: gone() and flight.done, timeout=5)
    return time.monotonic() - started


def test_postgresql_cancel_stops_the_backend(engine: QueryEngine, postgresql_url: str) -> None:
    run = engine.submit("alice", spec_for(postgresql_url), "SELECT pg_sleep(60)")
    wait_until(lambda: pg_active(postgresql_url, "pg_sleep(60)"), timeout=10)
    elapsed = cancel_and_time(engine, run, lambda: not pg_active(postgresql_url, "pg_sleep(60)"))
    assert elapsed < 1.0
    assert finished(run).state is RunState.CANCELLED
    assert engine.get(run.id, "alice").describe()["state"] == "cancelled"


def test_mariadb_cancel_kills_the_query(engine: QueryEngine) -> None:
    with mariadb_database() as url:
        watcher = mariadb_admin()

        def sleeping() -> bool:
            with watcher.cursor() as cursor:
                cursor.execute(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                    " WHERE INFO LIKE 'SELECT SLEEP(60)%%' AND COMMAND = 'Query'"
                )
                return cursor.fetchone()[0] > 0

        try:
            run = engine.submit("alice", spec_for(url), "SELECT SLEEP(60)")
            wait_until(sleeping, timeout=10)
            elapsed = cancel_and_time(engine, run, lambda: not sleeping())
            assert elapsed < 1.0
            assert finished(run).state is RunState.CANCELLED
        finally:
            watcher.close()


ENDLESS_RECURSION = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
)


def test_sqlite_cancel_interrupts(engine: QueryEngine, tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    run = engine.submit("alice", spec_for(f"sqlite:///{path}"), ENDLESS_RECURSION)
    wait_until(lambda: run.flight is not None and run.flight.executions == 1, timeout=5)
    time.sleep(0.3)  # well inside the query
    assert cancel_and_time(engine, run, lambda: True) < 1.0
    assert finished(run).state is RunState.CANCELLED


def test_duckdb_cancel_interrupts(engine: QueryEngine, tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    huge = "SELECT count(*) FROM range(100000000) a, range(100000000) b WHERE a.range <> b.range"
    run = engine.submit("alice", spec_for(f"duckdb:///{path}"), huge)
    wait_until(lambda: run.flight is not None and run.flight.executions == 1, timeout=5)
    time.sleep(0.3)
    assert cancel_and_time(engine, run, lambda: True) < 1.0
    assert finished(run).state is RunState.CANCELLED


def test_timeout_fails_the_run_and_stops_the_query(
    engine: QueryEngine, postgresql_url: str
) -> None:
    spec = spec_for(postgresql_url, timeout_seconds=1.0)
    started = time.monotonic()
    run = finished(engine.submit("alice", spec, "SELECT pg_sleep(60)"), timeout=10)
    assert run.state is RunState.FAILED
    assert "time" in (run.error or "")
    assert time.monotonic() - started < 3
    assert not pg_active(postgresql_url, "pg_sleep(60)")


def test_duckdb_timeout_interrupts(engine: QueryEngine, tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    duckdb.connect(str(path)).close()
    spec = spec_for(f"duckdb:///{path}", timeout_seconds=0.5)
    run = finished(engine.submit("alice", spec, ENDLESS_RECURSION.replace("count(*)", "max(i)")))
    assert run.state is RunState.FAILED
    assert run.error == "timed out after 0.5 s"


def test_row_cap_truncates(engine: QueryEngine, postgresql_url: str) -> None:
    spec = spec_for(postgresql_url, row_limit=1000)
    run = finished(engine.submit("alice", spec, "SELECT i FROM generate_series(1, 5000000) i"))
    assert run.state is RunState.SUCCEEDED
    assert run.rows == 1000
    assert run.truncated
    assert run.result is not None
    assert run.result.page(995, 10).column("i").to_pylist() == [996, 997, 998, 999, 1000]
    smaller = finished(engine.submit("alice", spec, "SELECT 1 AS one", row_limit=5))
    assert smaller.rows == 1
    assert not smaller.truncated


def test_per_user_limit(engine: QueryEngine, postgresql_url: str) -> None:
    spec = spec_for(postgresql_url)
    runs = [
        engine.submit("alice", spec, f"SELECT pg_sleep(60), {index} AS n") for index in range(3)
    ]
    with pytest.raises(TooManyRuns):
        engine.submit("alice", spec, "SELECT 1")
    other = finished(engine.submit("bob", spec, "SELECT 1 AS one"))
    assert other.state is RunState.SUCCEEDED
    engine.cancel(runs[0].id, "alice")
    assert finished(engine.submit("alice", spec, "SELECT 2 AS two")).rows == 1
    for run in runs[1:]:
        engine.cancel(run.id, "alice")


def test_runs_belong_to_their_owner(engine: QueryEngine, postgresql_url: str) -> None:
    run = finished(engine.submit("alice", spec_for(postgresql_url), "SELECT 1 AS one"))
    with pytest.raises(RunNotFound):
        engine.get(run.id, "mallory")
    with pytest.raises(RunNotFound):
        engine.cancel(run.id, "mallory")
    assert engine.get(run.id, "alice") is run


def test_read_only_postgresql_refuses_nextval(engine: QueryEngine, postgresql_url: str) -> None:
    with psycopg.connect(
        postgresql_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
    ) as admin:
        admin.execute("CREATE SEQUENCE s")
        admin.execute("SELECT nextval('s')")
        spec = spec_for(postgresql_url)
        for sql in ("SELECT nextval('s')", "select  NEXTVAL ( 's' ) as n", "SELECT setval('s', 9)"):
            with pytest.raises(StatementRefused, match="read-only"):
                engine.submit("alice", spec, sql)
        # The second lock: the session itself is read-only, whatever the classifier let through.
        from analytics_ext.engine.fetch import open_execution

        execution = open_execution(spec, "SELECT nextval('s')", {})
        with pytest.raises(Exception, match="read-only transaction"):
            list(execution.batches())
        execution.close()
        assert admin.execute("SELECT last_value FROM s").fetchone()[0] == 1


def test_writable_datasource_runs_writes(engine: QueryEngine, postgresql_url: str) -> None:
    spec: SourceSpec = spec_for(postgresql_url, read_only=False)
    run = finished(engine.submit("alice", spec, "CREATE TABLE made_here (a int)"))
    assert run.state is RunState.SUCCEEDED, run.error
    run = finished(engine.submit("alice", spec, "SELECT count(*) AS n FROM made_here"))
    assert run.result is not None
    assert run.result.page().column("n").to_pylist() == [0]


def test_partitioned_read_cancels_every_connection(
    engine: QueryEngine, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analytics_ext.engine import fetch as fetch_module

    with psycopg.connect(
        postgresql_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
    ) as admin:
        admin.execute("CREATE TABLE slow AS SELECT i AS id FROM generate_series(1, 20000) AS i")
        admin.execute("VACUUM ANALYZE slow")
    monkeypatch.setattr(fetch_module, "PARTITION_MIN_PAGES", 1)
    monkeypatch.setattr(fetch_module, "usable_cores", lambda: 8)  # split even on a 1-core box
    sql = "SELECT id, pg_sleep(0.01) AS nap FROM slow"
    run = engine.submit("alice", spec_for(postgresql_url), sql)
    wait_until(lambda: len(pg_active(postgresql_url, "pg_sleep(0.01)")) == 2, timeout=10)
    elapsed = cancel_and_time(engine, run, lambda: not pg_active(postgresql_url, "pg_sleep(0.01)"))
    assert elapsed < 1.0
    assert finished(run).state is RunState.CANCELLED

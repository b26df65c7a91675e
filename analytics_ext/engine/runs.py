"""The run registry: submit a query, watch it, cancel it, read its result.

Blocking work (connecting, running, reading rows) happens in a bounded thread pool, never on the
event loop; callers get a ``Run`` at once and poll it (REST) or await it (``wait``).

Identical runs share one *flight*: while a query with the same cache key is queued or running,
a new run joins it instead of asking the database again, and with a shared cache (Redis) the
same holds across server processes. Cancelling a run detaches it from its flight; the query is
stopped in the database when its last run is cancelled (or its timeout passes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from analytics_ext.engine.cache import MemoryCache, QueryCache, cache_key
from analytics_ext.engine.errors import RunNotFound, StatementRefused, TooManyRuns
from analytics_ext.engine.fetch import DEFAULT_BATCH_ROWS, Cancelled, Execution, open_execution
from analytics_ext.engine.parameters import bind, check_values
from analytics_ext.engine.results import MemoryBudget, ResultSet, ResultWriter
from analytics_ext.engine.spec import SourceSpec
from analytics_ext.engine.statements import Statement, classify
from analytics_ext.engine.urls import forbidden_statement_features
from analytics_ext.errors import AnalyticsError, Invalid

log = logging.getLogger(__name__)

PEER_POLL_SECONDS = 0.05


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})


@dataclass(eq=False)
class Run:
    """One caller's request to run one statement (several runs may share one flight)."""

    id: str
    owner: str
    source_id: str
    sql: str
    parameters: dict[str, Any]
    submitted_at: float = field(default_factory=time.time)
    state: RunState = RunState.QUEUED
    error: str | None = None
    cached: bool = False
    result: ResultSet | None = None
    flight: _Flight | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    future: concurrent.futures.Future[Run] = field(
        default_factory=concurrent.futures.Future, repr=False
    )

    @property
    def rows(self) -> int:
        """Rows read so far (all of them once finished)."""
        if self.result is not None:
            return self.result.num_rows
        return self.flight.rows if self.flight is not None else 0

    @property
    def elapsed_seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def truncated(self) -> bool:
        return self.result is not None and self.result.truncated

    def describe(self) -> dict[str, Any]:
        """The run's state as the REST API shows it."""
        return {
            "id": self.id,
            "datasource_id": self.source_id,
            "state": self.state.value,
            "rows": self.rows,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "cached": self.cached,
            "truncated": self.truncated,
            "error": self.error,
            "columns": (
                [{"name": f.name, "type": str(f.type)} for f in self.result.schema]
                if self.result is not None
                else None
            ),
        }


@dataclass(eq=False)
class _Flight:
    """One execution in the database, shared by the runs waiting for it."""

    key: str
    spec: SourceSpec
    statement: Statement
    values: dict[str, Any]
    cap: int
    bypass: bool
    runs: set[Run] = field(default_factory=set)
    execution: Execution | None = None
    rows: int = 0
    running: bool = False
    cancelled: bool = False
    timed_out: bool = False
    done: bool = False
    executions: int = 0
    """How many times this flight asked the database (0 when a peer process answered)."""


class QueryEngine:
    """Runs queries for many callers within fixed limits (threads, rows, memory, per user)."""

    def __init__(
        self,
        *,
        workers: int = 4,
        per_user_limit: int = 4,
        max_rows: int = 1_000_000,
        memory_budget_bytes: int = 512 * 1024 * 1024,
        spill_dir: Path | None = None,
        cache: QueryCache | None = None,
        keep_seconds: float = 3600.0,
        max_kept_runs: int = 10_000,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        partitions: int = 2,
    ) -> None:
        if workers < 1 or per_user_limit < 1 or max_rows < 1:
            raise ValueError("workers, per_user_limit and max_rows must be at least 1")
        self.per_user_limit = per_user_limit
        self.max_rows = max_rows
        self.budget = MemoryBudget(memory_budget_bytes)
        self._own_spill_dir = spill_dir is None
        self.spill_dir = spill_dir or Path(tempfile.mkdtemp(prefix="analytics-results-"))
        self.cache = cache if cache is not None else MemoryCache()
        self.keep_seconds = keep_seconds
        self.max_kept_runs = max_kept_runs
        self.batch_rows = batch_rows
        self.partitions = partitions
        """Connections one large PostgreSQL table read may use at most (``fetch.partition_plan``);
        fewer on a small table or with fewer usable cores (``fetch.partition_count``)."""
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="analytics-query"
        )
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._flights: dict[str, _Flight] = {}
        self.executions = 0
        """Statements this engine sent to a database (for tests and the bench)."""

    # -- submitting --------------------------------------------------------------------------

    def submit(
        self,
        owner: str,
        spec: SourceSpec,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        bypass_cache: bool = False,
        row_limit: int | None = None,
    ) -> Run:
        """Check the statement and start (or join, or answer from cache) a run of it.

        Raises ``StatementRefused``/``ParameterError`` (422) before anything runs, and
        ``TooManyRuns`` (429) when ``owner`` has ``per_user_limit`` runs in flight.
        """
        statement = classify(sql, spec.dialect, read_only=spec.read_only)
        reaching_out = forbidden_statement_features(sql, spec.dialect)
        if reaching_out:  # files, extensions, server settings: refused even when writable
            raise StatementRefused("; ".join(reaching_out))
        values = check_values(parameters or {})
        bind(sql, values, spec.dialect, "named")  # missing or unused names: 422 now, not later
        cap = self._row_cap(spec, row_limit)
        key = cache_key(spec.id, spec.revision, statement.normalized, values, cap)
        run = Run(
            id=secrets.token_urlsafe(16), owner=owner, source_id=spec.id, sql=sql, parameters=values
        )
        with self._lock:
            self._expire_locked()
            active = sum(
                1 for other in self._runs.values() if other.owner == owner and not _final(other)
            )
            if active >= self.per_user_limit:
                raise TooManyRuns(
                    f"you already have {active} queries running; wait for one to finish "
                    "or cancel one"
                )
            self._runs[run.id] = run
        if not bypass_cache and spec.cache_ttl_seconds > 0:
            hit = self.cache.get(key)
            if hit is not None:
                run.cached = True
                self._finish(run, RunState.SUCCEEDED, result=hit)
                return run
        with self._lock:
            flight = None if bypass_cache else self._flights.get(key)
            if flight is not None and not (flight.done or flight.cancelled):
                flight.runs.add(run)
                run.flight = flight
                if flight.running:
                    run.state = RunState.RUNNING
                return run
            flight = _Flight(key, spec, statement, values, cap, bypass_cache)
            flight.runs.add(run)
            run.flight = flight
            if not bypass_cache:
                self._flights[key] = flight
        self._pool.submit(self._fly, flight)
        return run

    def _row_cap(self, spec: SourceSpec, row_limit: int | None) -> int:
        cap = self.max_rows
        if spec.row_limit is not None:
            cap = min(cap, spec.row_limit)
        if row_limit is not None:
            if row_limit < 1:
                raise Invalid("row_limit", "must be at least 1")
            cap = min(cap, row_limit)
        return cap

    # -- reading -----------------------------------------------------------------------------

    def get(self, run_id: str, owner: str | None = None) -> Run:
        """The run, if ``owner`` (None: anyone, for admins) submitted it; else ``RunNotFound``."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or (owner is not None and run.owner != owner):
            raise RunNotFound("no such query run")
        return run

    async def wait(self, run: Run) -> Run:
        """Await a run's end without blocking the event loop."""
        return await asyncio.wrap_future(run.future)

    # -- cancelling --------------------------------------------------------------------------

    def cancel(self, run_id: str, owner: str | None = None) -> Run:
        """Cancel a run; its query stops in the database if no other run shares it.

        Blocking (it may open a second connection to cancel): call it from a worker thread.
        """
        run = self.get(run_id, owner)
        execution: Execution | None = None
        with self._lock:
            if _final(run):
                return run
            flight = run.flight
            if flight is not None:
                flight.runs.discard(run)
                if not flight.runs:
                    flight.cancelled = True
                    execution = flight.execution
                    if self._flights.get(flight.key) is flight:
                        del self._flights[flight.key]
        self._finish(run, RunState.CANCELLED, error="cancelled")
        if execution is not None:
            execution.cancel()
        return run

    # -- the worker side ---------------------------------------------------------------------

    def _fly(self, flight: _Flight) -> None:
        token: str | None = None
        result: ResultSet | None = None
        try:
            with self._lock:
                if flight.cancelled:
                    raise Cancelled
                flight.running = True
                for run in flight.runs:
                    run.state = RunState.RUNNING
            shares = self.cache.shared and flight.spec.cache_ttl_seconds > 0 and not flight.bypass
            if shares:
                token, result = self._await_peer(flight)
            if result is None:
                result = self._execute(flight)
                if flight.spec.cache_ttl_seconds > 0:
                    self.cache.put(flight.key, result, flight.spec.cache_ttl_seconds)
            self._deliver(flight, RunState.SUCCEEDED, result=result)
        except Cancelled:
            if flight.timed_out:
                message = f"timed out after {flight.spec.timeout_seconds:g} s"
                self._deliver(flight, RunState.FAILED, error=message)
            else:
                self._deliver(flight, RunState.CANCELLED, error="cancelled")
        except AnalyticsError as error:
            self._deliver(flight, RunState.FAILED, error=error.message)
        except Exception:
            log.exception("query run failed unexpectedly")
            self._deliver(flight, RunState.FAILED, error="the query failed (internal error)")
        finally:
            if token is not None:
                with contextlib.suppress(Exception):
                    self.cache.release_lock(flight.key, token)
            if result is not None:
                result.release()  # the flight's own hold; runs and the cache hold their own

    def _await_peer(self, flight: _Flight) -> tuple[str | None, ResultSet | None]:
        """Take the cross-process lock, or wait for the process holding it to publish."""
        lease = flight.spec.timeout_seconds + 60
        while True:
            token = self.cache.acquire(flight.key, lease)
            if token is not None:
                hit = self.cache.get(flight.key)  # a peer may have finished just before
                return token, hit
            while self.cache.locked(flight.key):
                if flight.cancelled:
                    raise Cancelled
                hit = self.cache.get(flight.key)
                if hit is not None:
                    return None, hit
                time.sleep(PEER_POLL_SECONDS)
            hit = self.cache.get(flight.key)
            if hit is not None:
                return None, hit

    def _execute(self, flight: _Flight) -> ResultSet:
        execution = open_execution(
            flight.spec,
            flight.statement.sql,
            flight.values,
            batch_rows=self.batch_rows,
            partitions=self.partitions,
            row_cap=flight.cap,
        )
        with self._lock:
            if flight.cancelled:
                raise Cancelled
            flight.execution = execution
            flight.executions += 1
            self.executions += 1
        timer = threading.Timer(flight.spec.timeout_seconds, self._time_out, (flight,))
        timer.daemon = True
        timer.start()
        writer = ResultWriter(self.budget, self.spill_dir)
        truncated = False
        try:
            batches = execution.batches()
            try:
                for batch in batches:
                    room = flight.cap - writer.num_rows
                    # ">" not ">=": a result that exactly fills the cap is complete, and is only
                    # called truncated once a further row arrives (room 0).
                    if batch.num_rows > room:
                        writer.write(batch.slice(0, room))
                        flight.rows = writer.num_rows
                        truncated = True
                        execution.cancel()  # the cap is reached: stop the rest in the database
                        break
                    writer.write(batch)
                    flight.rows = writer.num_rows
            finally:
                batches.close()
            return writer.finish(execution.schema, truncated=truncated)
        except BaseException:
            writer.abort()
            raise
        finally:
            timer.cancel()
            execution.close()

    def _time_out(self, flight: _Flight) -> None:
        with self._lock:
            if flight.done:
                return
            flight.timed_out = True
            execution = flight.execution
        if execution is not None:
            execution.cancel()

    def _deliver(
        self,
        flight: _Flight,
        state: RunState,
        *,
        result: ResultSet | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            flight.done = True
            flight.running = False
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            runs = list(flight.runs)
            flight.runs.clear()
        for run in runs:
            held = result.retain() if result is not None else None
            self._finish(run, state, result=held, error=error)

    def _finish(
        self,
        run: Run,
        state: RunState,
        *,
        result: ResultSet | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            if _final(run):
                if result is not None:
                    result.release()
                return
            run.result = result
            run.state = state
            run.error = error
            run.finished = time.monotonic()
            run.flight = None
        if not run.future.done():
            run.future.set_result(run)

    # -- housekeeping ------------------------------------------------------------------------

    def _expire_locked(self) -> None:
        now = time.monotonic()
        finished = sorted(
            (run for run in self._runs.values() if _final(run) and run.finished is not None),
            key=lambda run: run.finished or 0.0,
        )
        excess = max(0, len(self._runs) - self.max_kept_runs)
        for index, run in enumerate(finished):
            if index >= excess and now - (run.finished or now) < self.keep_seconds:
                break
            del self._runs[run.id]
            if run.result is not None:
                run.result.release()
                run.result = None

    def invalidate(self, source_id: str) -> None:
        """The datasource changed or was deleted: forget its cached results."""
        self.cache.invalidate(source_id)

    def close(self) -> None:
        """Cancel what is running, stop the workers and free every result."""
        with self._lock:
            active = [run.id for run in self._runs.values() if not _final(run)]
        for run_id in active:
            with contextlib.suppress(Exception):
                self.cancel(run_id)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            runs = list(self._runs.values())
            self._runs.clear()
        for run in runs:
            if run.result is not None:
                run.result.release()
                run.result = None
        self.cache.close()
        if self._own_spill_dir:
            import shutil

            shutil.rmtree(self.spill_dir, ignore_errors=True)


def _final(run: Run) -> bool:
    return run.state in FINAL_STATES

"""A query run on the server, seen from the client: state, wait, cancel, and its result.

Results stay on the server until asked for: ``page`` reads one JSON page (what a grid shows),
``arrow`` streams Arrow IPC in pages of at most ``ARROW_PAGE_ROWS`` rows, so a large result
never has to be one response.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .errors import AnalyticsError, QueryCancelled, QueryFailed

if TYPE_CHECKING:
    import pandas as pd

    from .http import Transport

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ARROW_PAGE_ROWS = 100_000
"""The most rows the server sends in one Arrow page."""
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


class QueryRun:
    """One run (``POST /api/query/run`` or ``/api/query/{id}/run``) and what the server knows
    of it; ``refresh`` asks again."""

    def __init__(self, transport: Transport, state: dict[str, Any]) -> None:
        self._transport = transport
        self._state = state

    def __repr__(self) -> str:
        return f"<QueryRun {self.id} {self.state} rows={self.rows}>"

    @property
    def id(self) -> str:
        return self._state["id"]

    @property
    def state(self) -> str:
        """queued, running, succeeded, failed or cancelled."""
        return self._state["state"]

    @property
    def rows(self) -> int:
        return self._state.get("rows", 0)

    @property
    def elapsed_seconds(self) -> float:
        return self._state.get("elapsed_seconds", 0.0)

    @property
    def error(self) -> str | None:
        return self._state.get("error")

    @property
    def truncated(self) -> bool:
        return bool(self._state.get("truncated"))

    @property
    def cached(self) -> bool:
        return bool(self._state.get("cached"))

    @property
    def columns(self) -> list[dict[str, str]]:
        return self._state.get("columns") or []

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    def refresh(self) -> QueryRun:
        self._state = self._transport.json("GET", f"api/query/runs/{self.id}")
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> QueryRun:
        """Until the run ends; raises ``QueryFailed``/``QueryCancelled`` if it did not succeed,
        ``TimeoutError`` after ``timeout`` seconds (the run goes on: ``cancel`` stops it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll
        while not self.done:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"query run {self.id} still {self.state} after {timeout} s")
            time.sleep(interval)
            interval = min(interval * 1.5, 0.5)
            self.refresh()
        if self.state == "failed":
            raise QueryFailed(self.error or "the query failed")
        if self.state == "cancelled":
            raise QueryCancelled(self.error or "the query was cancelled")
        return self

    def cancel(self) -> QueryRun:
        """Stop the run in the database (a finished run is left as it is)."""
        self._state = self._transport.json("DELETE", f"api/query/runs/{self.id}")
        return self

    def page(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of the result as the server's JSON: ``columns``, ``rows``, ``total_rows``."""
        params = {"offset": offset, "limit": limit, "format": "json"}
        return self._transport.json("GET", f"api/query/runs/{self.id}/result", params=params)

    def arrow(self, offset: int = 0, limit: int | None = None) -> pa.Table:
        """Rows ``offset`` to ``offset + limit`` (default: to the end) as an Arrow table."""
        self.wait()
        if self.truncated and offset == 0 and limit is None:
            warnings.warn(
                f"the result was cut at {self.rows} rows (the row_limit asked, else your "
                "default_row_limit setting, and the datasource's own limit); pass row_limit=... "
                "for more",
                UserWarning,
                stacklevel=2,
            )
        end = self.rows if limit is None else min(self.rows, offset + limit)
        tables = []
        start = offset
        while True:
            count = max(0, min(ARROW_PAGE_ROWS, end - start))
            tables.append(self._arrow_page(start, max(count, 1)))
            start += count
            if start >= end:
                break
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return table.slice(0, max(0, end - offset))

    def _arrow_page(self, offset: int, limit: int) -> pa.Table:
        params = {"offset": offset, "limit": limit, "format": "arrow"}
        response = self._transport.request(
            "GET", f"api/query/runs/{self.id}/result", params=params, stream=True
        )
        try:
            if not response.headers.get("Content-Type", "").startswith(ARROW_STREAM):
                raise AnalyticsError("the server did not answer with an Arrow stream")
            with pa.ipc.open_stream(response.raw) as reader:
                return reader.read_all()
        finally:
            response.close()

    def to_pandas(self) -> pd.DataFrame:
        """The whole result as a DataFrame (waits for the run to finish)."""
        return self.arrow().to_pandas()

"""Exporting query results as files: a saved query run now, or a finished run, as CSV, XLSX,
Parquet or JSON, streamed in chunks with a file name the server chooses.

Permission comes first: a saved query is read with ``view`` (``NotFound`` if the caller cannot
see it) and run through ``SavedQueryService.run_as_viewer`` before any row is read; a run is
exported only by whoever started it. The file is produced from the run's record batches one
batch at a time (``engine.export.export_chunks``), so memory stays bounded however many rows
there are; the result is held (``ResultSet.retain``) until the stream ends, so expiring runs
cannot pull it from under a download.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote

from ..engine.export import MEDIA_TYPES, XLSX_MAX_ROWS, export_chunks
from ..engine.results import ResultSet
from ..engine.runs import FINAL_STATES, QueryEngine, Run, RunState
from ..errors import Conflict, Invalid
from ..schemas.query_export import QueryExportCreate

RUN_EXPORT_NAME: Final = "query-result"
"""The file name stem of an exported run (a run has no name of its own)."""
MAX_STEM_CHARS: Final = 80


class SavedQueryRunner(Protocol):
    """What exporting needs of the saved-query service."""

    def get(self, actor_id: str, query_id: str) -> Any: ...

    def run_as_viewer(
        self,
        actor_id: str,
        query_id: str,
        values: dict[str, Any],
        row_limit: int | None = None,
        bypass_cache: bool = False,
    ) -> Run: ...


@dataclass
class ExportStream:
    """An export ready to send: its headers, and chunks to pull off the event loop."""

    filename: str
    """The ASCII file name (``Content-Disposition``'s ``filename``)."""
    content_disposition: str
    media_type: str
    rows: int
    truncated: bool
    """The row limit stopped the query: the file holds the first ``rows`` rows only."""
    chunks: _ResultChunks = field(repr=False)

    def close(self) -> None:
        """Done, or stopped early (the client went away): release the result, delete
        temporary files. Idempotent."""
        self.chunks.close()


class QueryExportService:
    """``POST /api/query/export``: ``open`` is a coroutine (it waits for the run on the loop
    and does its blocking parts through ``run``); pull the chunks off the loop."""

    def __init__(
        self,
        engine: QueryEngine,
        saved_queries: SavedQueryRunner,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self._engine = engine
        self._saved_queries = saved_queries
        self._run = run

    async def open(self, actor_id: str, body: QueryExportCreate) -> ExportStream:
        if body.query_id is not None:
            query = await self._run(self._saved_queries.get, actor_id, body.query_id)
            run = await self._run(
                self._saved_queries.run_as_viewer,
                actor_id,
                body.query_id,
                dict(body.parameters),
                # No limit asked: every row the datasource allows, not the grid's page size.
                row_limit=body.row_limit or self._engine.max_rows,
                bypass_cache=body.bypass_cache,
            )
            run = await self._engine.wait(run)
            stem = query.name
        else:
            assert body.run_id is not None  # the model insists on one of the two
            run = self._engine.get(body.run_id, actor_id)
            if run.state not in FINAL_STATES:
                raise Conflict("the query is still running; export it once it has succeeded")
            stem = RUN_EXPORT_NAME
        result = _held_result(run)
        try:
            if body.format == "xlsx" and result.num_rows > XLSX_MAX_ROWS:
                raise Invalid("format", f"XLSX holds at most {XLSX_MAX_ROWS} rows; use CSV")
            filename = export_filename(stem, body.format)
            return ExportStream(
                filename=filename,
                content_disposition=content_disposition(stem, body.format),
                media_type=MEDIA_TYPES[body.format],
                rows=result.num_rows,
                truncated=result.truncated,
                chunks=_ResultChunks(result, body.format, str(self._engine.spill_dir)),
            )
        except BaseException:
            result.release()
            raise


class _ResultChunks(Iterator[bytes]):
    """The export's chunks; the result is released once, at the end or on ``close`` (even if
    no chunk was ever pulled, which a bare generator's ``finally`` would miss)."""

    def __init__(self, result: ResultSet, fmt: Any, tmp_dir: str) -> None:
        self._result: ResultSet | None = result
        self._chunks = export_chunks(
            result.batches(), result.schema, fmt, num_rows=result.num_rows, tmp_dir=tmp_dir
        )

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._chunks.close()  # deletes an XLSX temporary file
        if self._result is not None:
            self._result, result = None, self._result
            result.release()


def _held_result(run: Run) -> ResultSet:
    """The run's result, held for the export; ``Conflict`` if the run has none."""
    result = run.result
    if run.state is not RunState.SUCCEEDED or result is None:
        raise Conflict(f"the query {run.state.value} and has no result: {run.error}")
    return result.retain()


# -- file names --------------------------------------------------------------------------------


def _stem(name: str, today: dt.date | None) -> tuple[str, str]:
    """(ASCII slug, Unicode-safe name), each ending in the date."""
    date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")[:MAX_STEM_CHARS]
    wide = re.sub(r"[^\w-]+", "-", unicodedata.normalize("NFC", name)).strip("-_")
    wide = wide[:MAX_STEM_CHARS].strip("-_")
    return f"{slug.strip('-') or 'export'}-{date}", f"{wide or 'export'}-{date}"


def export_filename(name: str, fmt: str, today: dt.date | None = None) -> str:
    """``<ascii slug of name>-<YYYY-MM-DD>.<ext>``: no quotes, slashes or control characters."""
    return f"{_stem(name, today)[0]}.{fmt}"


def content_disposition(name: str, fmt: str, today: dt.date | None = None) -> str:
    """``attachment`` with the ASCII ``filename`` and the RFC 5987 ``filename*`` (UTF-8),
    which keeps letters such as ``ä`` for clients that read it."""
    slug, wide = _stem(name, today)
    encoded = quote(f"{wide}.{fmt}", safe="")
    return f"attachment; filename=\"{slug}.{fmt}\"; filename*=UTF-8''{encoded}"

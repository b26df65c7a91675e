"""Query results as Arrow: in memory within a byte budget, spilled to Parquet beyond it.

A result is written once (batch by batch, while the query runs) and then read many times: pages
for the grid, an Arrow IPC stream for notebooks, batches for exports. Reads give the same rows
whether the result stayed in memory or went to disk, so callers never need to know which.

The budget is shared by every result of the server (``MemoryBudget``): one huge result spills
rather than pushing the process into swap, and many small ones stay fast.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics_ext.engine.errors import QueryFailed

MAX_PAGE_ROWS = 100_000


class MemoryBudget:
    """Bytes of result data the server may hold in memory, across all results (thread-safe)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.used_bytes = 0
        self._lock = threading.Lock()

    def reserve(self, nbytes: int) -> bool:
        with self._lock:
            if self.used_bytes + nbytes > self.limit_bytes:
                return False
            self.used_bytes += nbytes
            return True

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.used_bytes = max(0, self.used_bytes - nbytes)


class ResultSet:
    """A finished, immutable result: paged and streamed the same way in memory or on disk."""

    def __init__(
        self,
        schema: pa.Schema,
        batches: list[pa.RecordBatch] | None,
        path: Path | None,
        num_rows: int,
        nbytes: int,
        budget: MemoryBudget | None,
        truncated: bool,
    ) -> None:
        self.schema = schema
        self._batches = batches or []
        self.path = path
        self.num_rows = num_rows
        self.nbytes = nbytes
        """In-memory bytes held (0 once spilled); the Parquet file's size is on disk."""
        self.truncated = truncated
        """The row cap stopped the query: there were more rows than these."""
        self._budget = budget
        self._closed = False
        self._holders = 1
        """Runs and cache entries sharing this result; the last ``release`` frees it."""
        self._starts = _starts(batch.num_rows for batch in self._batches)
        self._parquet: pq.ParquetFile | None = None
        self._group_starts: list[int] = []
        self._lock = threading.Lock()
        self._order: tuple[tuple[str, bool], pa.Array] | None = None
        """The last sort asked for and its row order: paging through a sorted result sorts
        once (8 bytes a row, one order kept per result)."""
        if path is not None:
            self._parquet = pq.ParquetFile(path, memory_map=False)
            metadata = self._parquet.metadata
            self._group_starts = _starts(
                metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)
            )

    @property
    def spilled(self) -> bool:
        return self.path is not None

    def page(self, offset: int = 0, limit: int = 1000) -> pa.Table:
        """Rows ``offset .. offset+limit`` as a table (empty past the end)."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        self._check_open()
        limit = min(limit, MAX_PAGE_ROWS)
        end = min(self.num_rows, offset + limit)
        if offset >= end:
            return self.schema.empty_table()
        if self._parquet is None:
            return pa.Table.from_batches(
                list(_slice(self._batches, self._starts, offset, end)), schema=self.schema
            )
        first = bisect.bisect_right(self._group_starts, offset) - 1
        last = bisect.bisect_right(self._group_starts, end - 1) - 1
        with self._lock:  # ParquetFile is not safe for concurrent reads
            table = self._parquet.read_row_groups(list(range(first, last + 1)))
        table = table.slice(offset - self._group_starts[first], end - offset)
        return table.cast(self.schema) if table.schema != self.schema else table

    def ordered_page(
        self, offset: int, limit: int, column: str, descending: bool = False
    ) -> pa.Table:
        """Rows ``offset .. offset+limit`` of the whole result ordered by ``column`` (a stable
        sort: ties keep the result's order; nulls last either way). ``KeyError`` for a column
        that is missing or named twice, ``ValueError`` for one whose type cannot be sorted."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        self._check_open()
        end = min(self.num_rows, offset + min(limit, MAX_PAGE_ROWS))
        if offset >= end:
            return self.schema.empty_table()
        indices = self.sorted_indices(column, descending).slice(offset, end - offset)
        return self._take(indices)

    def sorted_indices(self, column: str, descending: bool = False) -> pa.Array:
        """The row order of the result sorted by ``column`` (computed once, then kept)."""
        self._check_open()
        key = (column, descending)
        with self._lock:
            if self._order is not None and self._order[0] == key:
                return self._order[1]
        index = self.schema.get_field_index(column)  # -1 when absent or duplicated
        if index < 0:
            raise KeyError(column)
        if self._parquet is None:
            values = pa.chunked_array(
                [batch.column(index) for batch in self._batches], self.schema.field(index).type
            )
        else:
            with self._lock:
                values = self._parquet.read(columns=[column]).column(0)
        direction = "descending" if descending else "ascending"
        try:
            order = pc.sort_indices(
                pa.table({"key": values}), sort_keys=[("key", direction, "at_end")]
            )
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise ValueError(
                f"cannot sort by {column!r}: its type {self.schema.field(index).type} has no order"
            ) from None
        with self._lock:
            self._order = (key, order)
        return order

    def _take(self, indices: pa.Array) -> pa.Table:
        """The rows at ``indices`` (any order), reading only the row groups they fall in."""
        if self._parquet is None:
            return pa.Table.from_batches(self._batches, schema=self.schema).take(indices)
        wanted = indices.to_numpy()
        starts = np.asarray(self._group_starts)
        groups = np.searchsorted(starts, wanted, side="right") - 1
        needed = sorted(set(groups.tolist()))
        with self._lock:
            table = self._parquet.read_row_groups(needed)
        base = {group: 0 for group in needed}
        total = 0
        for group in needed:
            base[group] = total
            total += self._parquet_rows(group)
        positions = [base[g] + int(i) - int(starts[g]) for g, i in zip(groups, wanted, strict=True)]
        table = table.take(pa.array(positions, pa.int64()))
        return table.cast(self.schema) if table.schema != self.schema else table

    def _parquet_rows(self, group: int) -> int:
        end = (
            self._group_starts[group + 1] if group + 1 < len(self._group_starts) else self.num_rows
        )
        return end - self._group_starts[group]

    def batches(self, max_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Every row in order, at most ``max_rows`` per batch, holding one batch at a time."""
        self._check_open()
        if self._parquet is None:
            for batch in self._batches:
                for start in range(0, batch.num_rows, max_rows):
                    yield batch.slice(start, max_rows)
            return
        reader = pq.ParquetFile(self.path, memory_map=False)
        try:
            for batch in reader.iter_batches(batch_size=max_rows):
                yield batch.cast(self.schema) if batch.schema != self.schema else batch
        finally:
            reader.close()

    def to_table(self) -> pa.Table:
        """The whole result (for callers that asked for all of it, such as the cache)."""
        self._check_open()
        if self._parquet is None:
            return pa.Table.from_batches(self._batches, schema=self.schema)
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def ipc_stream(
        self,
        offset: int = 0,
        limit: int | None = None,
        sort: tuple[str, bool] | None = None,
    ) -> Iterator[bytes]:
        """An Arrow IPC stream of the rows, one chunk per batch, for writing to a response;
        ``sort`` (column, descending) orders the whole result first, as ``ordered_page`` (call
        ``sorted_indices`` first to fail before the stream has started)."""
        end = self.num_rows if limit is None else min(self.num_rows, offset + limit)
        sink = _Chunks()
        with pa.ipc.new_stream(sink, self.schema) as writer:
            yield sink.take()
            position = offset
            while position < end:
                step = min(MAX_PAGE_ROWS, end - position)
                rows = (
                    self.page(position, step)
                    if sort is None
                    else self.ordered_page(position, step, *sort)
                )
                for batch in rows.to_batches():
                    writer.write_batch(batch)
                    yield sink.take()
                position += step
        yield sink.take()

    def retain(self) -> ResultSet:
        """One more holder (a coalesced run, a cache entry); pair with ``release``."""
        with self._lock:
            self._holders += 1
        return self

    def release(self) -> None:
        """One holder fewer; the last one closes the result."""
        with self._lock:
            self._holders -= 1
            last = self._holders <= 0
        if last:
            self.close()

    @property
    def footprint(self) -> int:
        """Bytes the result costs: memory held, or the spill file's size."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                return self.path.stat().st_size
        return self.nbytes

    def close(self) -> None:
        """Free the memory reservation and delete the spill file."""
        if self._closed:
            return
        self._closed = True
        self._order = None
        if self._budget is not None and self.nbytes:
            self._budget.release(self.nbytes)
        self._batches = []
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def _check_open(self) -> None:
        if self._closed:
            raise QueryFailed("this result has expired; run the query again")


class ResultWriter:
    """Collects a running query's batches: memory while the budget allows, Parquet after."""

    def __init__(self, budget: MemoryBudget, spill_dir: Path) -> None:
        self._budget = budget
        self._spill_dir = spill_dir
        self._batches: list[pa.RecordBatch] = []
        self._reserved = 0
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self.schema: pa.Schema | None = None
        self.num_rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        batch = self._conform(batch)
        if batch.num_rows == 0:
            return
        self.num_rows += batch.num_rows
        if self._writer is None:
            size = batch.get_total_buffer_size()
            if self._budget.reserve(size):
                self._reserved += size
                self._batches.append(batch)
                return
            self._spill()
        assert self._writer is not None
        self._writer.write_batch(batch)

    def finish(self, schema: pa.Schema | None = None, *, truncated: bool = False) -> ResultSet:
        """The result; ``schema`` names the columns when the query returned no rows at all."""
        final = self.schema or schema or pa.schema([])
        if self._writer is not None:
            self._writer.close()
        return ResultSet(
            final,
            self._batches,
            self._path,
            self.num_rows,
            self._reserved,
            self._budget,
            truncated,
        )

    def abort(self) -> None:
        """Drop everything written so far (the query failed or was cancelled)."""
        self._budget.release(self._reserved)
        self._reserved = 0
        self._batches = []
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

    def _spill(self) -> None:
        assert self.schema is not None
        self._spill_dir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f"result-{uuid.uuid4().hex}-", suffix=".parquet", dir=self._spill_dir
        )
        os.close(handle)
        self._path = Path(name)
        self._writer = pq.ParquetWriter(
            self._path, self.schema, compression="lz4", use_dictionary=False, store_schema=True
        )
        for batch in self._batches:
            self._writer.write_batch(batch)
        self._batches = []
        self._budget.release(self._reserved)
        self._reserved = 0

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Keep one schema: a column typed null so far takes the first real type it meets."""
        if self.schema is None:
            self.schema = batch.schema
            return batch
        if batch.schema == self.schema:
            return batch
        if batch.schema.names != self.schema.names:
            raise QueryFailed("the driver changed the result's columns mid-stream")
        upgraded = list(self.schema)
        for index, (have, got) in enumerate(zip(self.schema, batch.schema, strict=True)):
            if pa.types.is_null(have.type) and not pa.types.is_null(got.type):
                if self._writer is not None:
                    raise QueryFailed(
                        f"column {have.name!r} was empty for the first {self.num_rows} rows; "
                        "CAST it in the query to give it a type"
                    )
                upgraded[index] = got
        schema = pa.schema(upgraded)
        if schema != self.schema:
            self._batches = [stored.cast(schema) for stored in self._batches]
            self.schema = schema
        try:
            return batch.cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise QueryFailed(
                "a column changed type mid-stream; CAST it in the query to give it one type"
            ) from None


class _Chunks:
    """A write-only file object that hands back what was written since the last ``take``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts = []
        return data


def _starts(counts: Iterable[int]) -> list[int]:
    starts: list[int] = []
    total = 0
    for count in counts:
        starts.append(total)
        total += count
    return starts


def _slice(
    batches: list[pa.RecordBatch], starts: list[int], offset: int, end: int
) -> Iterator[pa.RecordBatch]:
    index = bisect.bisect_right(starts, offset) - 1
    while index < len(batches) and starts[index] < end:
        batch = batches[index]
        lo = max(0, offset - starts[index])
        hi = min(batch.num_rows, end - starts[index])
        if hi > lo:
            yield batch.slice(lo, hi - lo)
        index += 1

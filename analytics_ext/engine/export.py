"""Exports from Arrow record batches: CSV, Parquet, XLSX and JSON, one batch in memory at a time.

CSV and XLSX are opened by spreadsheets, which run a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (CSV injection). Following OWASP's advice, such
text cells (and header names) get a leading single quote, which spreadsheets show as text; XLSX
cells are written as strings explicitly, never as formulas. Numbers are numbers (``-5`` in an
integer column is not text and is left alone).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from analytics_ext.errors import Invalid

Format = Literal["csv", "parquet", "xlsx", "json"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "xlsx", "json")
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
XLSX_MAX_ROWS = 1_048_576 - 1
"""Excel's sheet limit, less the header row."""

FORMULA_START = r"^[=+\-@\t\r]"


def export(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fmt: Format,
    sink: BinaryIO,
    *,
    num_rows: int | None = None,
) -> None:
    """Write every batch to ``sink`` in ``fmt``."""
    if fmt == "csv":
        write_csv(batches, schema, sink)
    elif fmt == "parquet":
        write_parquet(batches, schema, sink)
    elif fmt == "xlsx":
        write_xlsx(batches, schema, sink, num_rows=num_rows)
    elif fmt == "json":
        for chunk in json_chunks(batches):
            sink.write(chunk)
    else:
        raise Invalid("format", f"must be one of {', '.join(FORMATS)}")


STREAM_CHUNK_BYTES = 1 << 20
"""Bytes per chunk when a finished file (XLSX) is read back to a response."""


def export_chunks(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fmt: Format,
    *,
    num_rows: int | None = None,
    tmp_dir: str | None = None,
) -> Iterator[bytes]:
    """The export of ``batches`` as a stream of byte chunks, for writing to a response.

    CSV, Parquet and JSON are produced batch by batch, so one batch's output is in memory at a
    time. XLSX is a zip whose directory comes last, so it is written to a temporary file in
    ``tmp_dir`` (xlsxwriter's constant_memory mode keeps one row in memory) and read back in
    chunks; the file is deleted when the stream ends or is closed.
    """
    if fmt == "json":
        yield from json_chunks(batches)
        return
    if fmt == "xlsx":
        yield from _xlsx_chunks(batches, schema, num_rows, tmp_dir)
        return
    if fmt not in ("csv", "parquet"):
        raise Invalid("format", f"must be one of {', '.join(FORMATS)}")
    sink = _ChunkSink()
    if fmt == "parquet":
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)
                yield sink.take()
        yield sink.take()
        return
    names = [neutralize(name) for name in schema.names]
    csv_writer: pa_csv.CSVWriter | None = None
    for batch in batches:
        safe = _csv_batch(batch, names)
        if csv_writer is None:
            csv_writer = pa_csv.CSVWriter(sink, safe.schema)
        csv_writer.write_batch(safe)
        yield sink.take()
    if csv_writer is None:
        yield (",".join(json.dumps(name) for name in names) + "\n").encode()
        return
    csv_writer.close()
    yield sink.take()


def _xlsx_chunks(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, num_rows: int | None, tmp_dir: str | None
) -> Iterator[bytes]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="analytics-export-", dir=tmp_dir) as folder:
        path = f"{folder}/export.xlsx"
        write_xlsx(batches, schema, path, num_rows=num_rows, tmp_dir=folder)
        with open(path, "rb") as file:
            while chunk := file.read(STREAM_CHUNK_BYTES):
                yield chunk


class _ChunkSink:
    """A write-only file object handing back what was written since the last ``take``."""

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


# -- CSV ---------------------------------------------------------------------------------------


def neutralize(text: str) -> str:
    """One cell or header made safe for spreadsheets."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_column(array: pa.Array) -> pa.Array:
    kind = array.type
    if isinstance(kind, pa.BaseExtensionType):
        array, kind = array.storage, array.storage.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_large_string(kind):
        array = array.cast(pa.string())
        kind = pa.string()
    if pa.types.is_nested(kind) or pa.types.is_interval(kind):
        array = pa.array(
            [None if v is None else json.dumps(jsonable(v)) for v in array.to_pylist()],
            pa.string(),
        )
        kind = pa.string()
    if pa.types.is_string(kind):
        risky = pc.match_substring_regex(array, FORMULA_START)
        quoted = pc.binary_join_element_wise(pa.scalar("'"), array, pa.scalar(""))
        return pc.if_else(risky, quoted, array)
    return array


def _csv_batch(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([_csv_column(column) for column in batch.columns], names)


def write_csv(batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink: BinaryIO) -> None:
    names = [neutralize(name) for name in schema.names]
    writer: pa_csv.CSVWriter | None = None
    for batch in batches:
        safe = _csv_batch(batch, names)
        if writer is None:
            writer = pa_csv.CSVWriter(sink, safe.schema)
        writer.write_batch(safe)
    if writer is None:
        sink.write((",".join(json.dumps(name) for name in names) + "\n").encode())
        return
    writer.close()


# -- Parquet -----------------------------------------------------------------------------------


def write_parquet(batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink: BinaryIO) -> None:
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)


# -- XLSX --------------------------------------------------------------------------------------


def write_xlsx(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    sink: BinaryIO | str,
    *,
    num_rows: int | None = None,
    tmp_dir: str | None = None,
) -> None:
    """One sheet, written row by row (xlsxwriter's constant_memory mode); ``tmp_dir`` holds
    xlsxwriter's own temporary files (default: the system's)."""
    import xlsxwriter

    if num_rows is not None and num_rows > XLSX_MAX_ROWS:
        raise Invalid("format", f"XLSX holds at most {XLSX_MAX_ROWS} rows; use CSV or Parquet")
    workbook = xlsxwriter.Workbook(
        sink,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            **({"tmpdir": tmp_dir} if tmp_dir else {}),
        },
    )
    try:
        sheet = workbook.add_worksheet("result")
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
        for column, name in enumerate(schema.names):
            sheet.write_string(0, column, name)
        row = 0
        for batch in batches:
            for record in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                row += 1
                if row > XLSX_MAX_ROWS:
                    raise Invalid("format", f"XLSX holds at most {XLSX_MAX_ROWS} rows")
                for column, value in enumerate(record):
                    _xlsx_cell(sheet, row, column, value, date_format, time_format)
    finally:
        workbook.close()


def _xlsx_cell(sheet: Any, row: int, column: int, value: Any, date_fmt: Any, time_fmt: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        if math.isfinite(number):
            sheet.write_number(row, column, number)
        else:
            sheet.write_string(row, column, str(value))
    elif isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        sheet.write_datetime(row, column, value, time_fmt)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, value, date_fmt)
    elif isinstance(value, str):
        sheet.write_string(row, column, value[:32767])
    else:
        sheet.write_string(row, column, json.dumps(jsonable(value))[:32767])


# -- JSON --------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A Python value from Arrow as something ``json.dumps`` writes without loss of meaning."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def json_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """A batch as JSON-ready row objects."""
    return [{k: jsonable(v) for k, v in row.items()} for row in batch.to_pylist()]


def json_chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """A JSON array of row objects, one chunk per batch."""
    yield b"["
    first = True
    for batch in batches:
        rows = json_rows(batch)
        if not rows:
            continue
        text = ",".join(json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows)
        yield (text if first else "," + text).encode()
        first = False
    yield b"]"

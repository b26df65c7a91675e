"""Results: a 1M-row result over a 10 MB budget spills to Parquet and pages exactly like one held
in memory; Arrow IPC streams; exports (CSV safe against formulas, Parquet, XLSX, JSON)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Iterator

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics_ext.engine.export import export, neutralize
from analytics_ext.engine.results import MemoryBudget, ResultWriter
from analytics_ext.engine.runs import QueryEngine, RunState
from tests.support.engine import finished, query_engine, spec_for

pytestmark = pytest.mark.timeout(60)

MILLION = (
    "SELECT i, 'row ' || i AS label, i * 0.5::float8 AS half,"
    " timestamp '2024-01-01' + i * interval '1 second' AS at,"
    " CASE WHEN i % 7 = 0 THEN NULL ELSE i END AS maybe"
    " FROM generate_series(1, 1000000) AS i"
)


@pytest.fixture
def small() -> Iterator[QueryEngine]:
    with query_engine(memory_budget_bytes=10 * 1024 * 1024) as engine:
        yield engine


@pytest.fixture
def large() -> Iterator[QueryEngine]:
    with query_engine(memory_budget_bytes=1024 * 1024 * 1024) as engine:
        yield engine


def test_spilled_result_pages_identically(
    small: QueryEngine, large: QueryEngine, postgresql_url: str
) -> None:
    spec = spec_for(postgresql_url)
    spilled = finished(small.submit("alice", spec, MILLION), timeout=60)
    held = finished(large.submit("alice", spec, MILLION), timeout=60)
    assert spilled.state is RunState.SUCCEEDED, spilled.error
    assert spilled.result is not None
    assert held.result is not None
    assert spilled.result.spilled
    assert spilled.result.path is not None
    assert spilled.result.path.exists()
    assert not held.result.spilled
    assert small.budget.used_bytes <= small.budget.limit_bytes
    assert spilled.rows == held.rows == 1_000_000
    assert spilled.result.schema == held.result.schema
    for offset, limit in [(0, 10), (65_530, 20), (123_456, 1000), (999_990, 50), (2_000_000, 5)]:
        assert spilled.result.page(offset, limit).equals(held.result.page(offset, limit))
    page = spilled.result.page(999_990, 50)
    assert page.num_rows == 10
    assert page.column("maybe").to_pylist()[1] is None  # 999992 = 7 * 142856
    streamed = pa.ipc.open_stream(b"".join(spilled.result.ipc_stream(500, 300))).read_all()
    assert streamed.equals(held.result.page(500, 300))
    path = spilled.result.path
    small.close()
    assert not path.exists()
    assert small.budget.used_bytes == 0


def test_writer_gives_an_all_null_column_its_later_type(tmp_path) -> None:
    writer = ResultWriter(MemoryBudget(1 << 20), tmp_path)
    writer.write(pa.record_batch([pa.nulls(2)], names=["a"]))
    writer.write(pa.record_batch([pa.array([1, 2])], names=["a"]))
    result = writer.finish()
    assert result.schema.field("a").type == pa.int64()
    assert result.page().column("a").to_pylist() == [None, None, 1, 2]
    result.close()


@pytest.mark.parametrize("budget", [1 << 30, 1], ids=["in-memory", "spilled"])
def test_ordered_pages_sort_the_whole_result(tmp_path, budget: int) -> None:
    """The grid's server-side sort: pages of the whole result in order, nulls last, ties in
    the result's order, the same whether the result stayed in memory or spilled."""
    writer = ResultWriter(MemoryBudget(budget), tmp_path)
    values = [(i * 7919) % 1000 if i % 10 else None for i in range(3000)]
    for start in range(0, 3000, 250):  # many batches, so many row groups once spilled
        chunk = values[start : start + 250]
        ids = list(range(start, start + len(chunk)))
        writer.write(pa.record_batch([pa.array(ids), pa.array(chunk, pa.int64())], ["id", "v"]))
    result = writer.finish()
    assert result.spilled is (budget == 1)
    expected = sorted(
        (row for row in zip(range(3000), values, strict=True) if row[1] is not None),
        key=lambda row: row[1],
    )
    page = result.ordered_page(100, 5, "v")
    assert (
        list(zip(page["id"].to_pylist(), page["v"].to_pylist(), strict=True)) == expected[100:105]
    )
    down = result.ordered_page(0, 40, "v", descending=True)
    descending = sorted(expected, key=lambda row: -row[1])  # stable: ties keep their order
    assert list(zip(down["id"].to_pylist(), down["v"].to_pylist(), strict=True)) == descending[:40]
    tail = result.ordered_page(2995, 10, "v")
    assert tail["v"].to_pylist() == [None] * 5  # nulls last
    assert result.ordered_page(3000, 10, "v").num_rows == 0
    with pytest.raises(KeyError):
        result.ordered_page(0, 1, "missing")
    result.close()


# -- exports -----------------------------------------------------------------------------------

HOSTILE_CELLS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rx", "plain"]


def sample() -> pa.Table:
    return pa.table(
        {
            "text": pa.array([*HOSTILE_CELLS, None]),
            "n": pa.array([-5, 0, 1, 2, 3, 4, 5, None], pa.int64()),
            "price": pa.array([decimal.Decimal("1.25")] * 7 + [None], pa.decimal128(10, 2)),
            "at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)] * 8, pa.timestamp("us")),
        }
    )


def exported(fmt: str, table: pa.Table) -> bytes:
    sink = io.BytesIO()
    export(table.to_batches(max_chunksize=3), table.schema, fmt, sink, num_rows=table.num_rows)  # type: ignore[arg-type]
    return sink.getvalue()


def test_csv_neutralizes_formulas() -> None:
    table = sample().append_column("=cmd|' /C calc'!A0", pa.array(["x"] * 8))
    rows = list(csv.reader(io.StringIO(exported("csv", table).decode(), newline="")))
    assert rows[0][-1] == "'=cmd|' /C calc'!A0"
    cells = [row[0] for row in rows[1:]]
    assert cells[:7] == [neutralize(cell) for cell in HOSTILE_CELLS]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert cells[-1] == ""
    assert [row[1] for row in rows[1:3]] == ["-5", "0"]  # numbers stay numbers


def test_parquet_round_trip() -> None:
    table = sample()
    assert pq.read_table(io.BytesIO(exported("parquet", table))).equals(table)


def test_xlsx_round_trip_and_no_formulas() -> None:
    table = sample()
    book = openpyxl.load_workbook(io.BytesIO(exported("xlsx", table)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("text", "n", "price", "at")
    # OOXML stores a carriage return as _x000D_, which openpyxl does not decode back.
    assert [row[0] for row in rows[1:8]] == [c.replace("\r", "_x000D_") for c in HOSTILE_CELLS]
    assert all(cell.data_type == "s" for cell in sheet["A"][1:8])  # strings, never formulas
    assert rows[1][1] == -5
    assert rows[1][2] == 1.25
    assert rows[1][3] == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert rows[8][:3] == (None, None, None)


def test_json_round_trip() -> None:
    table = sample()
    rows = json.loads(exported("json", table))
    assert len(rows) == 8
    assert rows[0] == {
        "text": HOSTILE_CELLS[0],
        "n": -5,
        "price": "1.25",
        "at": "2024-01-02T03:04:05",
    }
    assert rows[7]["text"] is None
    assert json.loads(exported("json", table.slice(0, 0))) == []


def test_mariadb_fallback_result_spills_and_pages_identically() -> None:
    from tests.support.engine import mariadb_database

    sql = (
        "SELECT seq AS i, CAST(seq / 100 AS DECIMAL(12, 2)) AS amount,"
        " TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND AS at,"
        " IF(seq % 7 = 0, NULL, CONCAT('row ', seq)) AS label FROM seq_1_to_200000"
    )
    with (
        mariadb_database() as url,
        query_engine(memory_budget_bytes=1024 * 1024, batch_rows=10_000) as small,
        query_engine(batch_rows=10_000) as large,
    ):
        spec = spec_for(url)
        spilled = finished(small.submit("alice", spec, sql), timeout=60)
        held = finished(large.submit("alice", spec, sql), timeout=60)
        assert spilled.result is not None, spilled.error
        assert held.result is not None, held.error
        assert spilled.result.spilled
        assert not held.result.spilled
        assert spilled.result.schema.field("amount").type == pa.decimal128(12, 2)
        assert spilled.result.schema.field("at").type == pa.timestamp("us")
        for offset, limit in [(0, 5), (9_995, 10), (199_990, 20)]:
            assert spilled.result.page(offset, limit).equals(held.result.page(offset, limit))
        assert spilled.result.page(6, 1).column("label").to_pylist() == [None]  # seq 7

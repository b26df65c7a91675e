"""SLOW (~40 s): exporting 1,000,000 rows to CSV and to XLSX raises the server's memory by less
than 150 MB, measured for real on a server subprocess from /proc (peak RSS, VmHWM, reset before
each export), and formula-like cells of the exported files open as text.

The datasource is a DuckDB file of 1M rows generated in the test's tmp folder; labels start
with ``=``, ``+``, ``-``, ``@`` or a letter in turn, so neutralisation is checked on real output.
The measured peak includes running the saved query itself (its Arrow result stays in memory,
within the engine's budget) as well as producing and streaming the file.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import duckdb
import httpx
import openpyxl
import pytest

from tests.support.live_server import LiveServer, start_live_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROWS = 1_000_000
BUDGET_BYTES = 150 * 1024 * 1024
PREFIXES = ("=", "+", "-", "@", "x")


def make_big_duckdb(folder: Path) -> Path:
    path = folder / "big.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            f"""CREATE TABLE big AS SELECT
                  range AS id,
                  CASE range % 5 WHEN 0 THEN '=' WHEN 1 THEN '+' WHEN 2 THEN '-'
                                 WHEN 3 THEN '@' ELSE 'x' END || range::VARCHAR AS label,
                  CAST(range AS DOUBLE) / 8 AS amount
                FROM range({ROWS})"""
        )
    return path


def server_pid(workdir: Path) -> int:
    """The server process's id, from the runtime file Jupyter writes for itself."""
    (info,) = (workdir / "runtime").glob("jpserver-*.json")
    return int(json.loads(info.read_text())["pid"])


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def download(server: LiveServer, body: dict, target: Path) -> httpx.Headers:
    with httpx.stream(
        "POST", f"{server.url}api/query/export", json=body, headers=server.auth_header,
        timeout=120,
    ) as response:  # fmt: skip
        assert response.status_code == 200, response.read()[:500]
        with target.open("wb") as file:
            for chunk in response.iter_bytes():
                file.write(chunk)
        return response.headers


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("export-memory")
    data = workdir / "datasources"
    data.mkdir()
    database = make_big_duckdb(data)
    config = workdir / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {"AnalyticsExtension": {"datasource_dirs": [str(data)], "query_max_rows": 2 * ROWS}}
        )
    )
    with start_live_server(workdir) as server:
        yield server, workdir, database


def test_exporting_a_million_rows_stays_within_150_mb(big_server, tmp_path: Path) -> None:
    server, workdir, database = big_server
    pid = server_pid(workdir)
    api = httpx.Client(base_url=server.url, headers=server.auth_header, timeout=60)
    source = api.post(
        "api/datasources",
        json={"name": "big", "url": f"duckdb:///{database}", "options": {"row_limit": 2 * ROWS}},
    )
    assert source.status_code == 201, source.text
    query = api.post(
        "api/query",
        json={
            "name": "Big export",
            "datasource_id": source.json()["id"],
            "sql": "SELECT id, label, amount FROM big ORDER BY id",
        },
    )
    assert query.status_code == 201, query.text
    query_id = query.json()["id"]
    for fmt in ("csv", "xlsx"):  # warm up: modules imported, DuckDB opened, pools made
        download(server, {"query_id": query_id, "format": fmt, "row_limit": 10}, tmp_path / "w")

    grown: dict[str, float] = {}
    for fmt in ("csv", "xlsx"):
        before = status_kib(pid, "VmRSS")
        reset_peak(pid)
        started = time.monotonic()
        headers = download(server, {"query_id": query_id, "format": fmt}, tmp_path / f"big.{fmt}")
        peak = status_kib(pid, "VmHWM")
        grown[fmt] = (peak - before) * 1024
        print(
            f"{fmt}: {time.monotonic() - started:.1f} s, RSS before {before / 1024:.0f} MB, "
            f"peak {peak / 1024:.0f} MB, grown {grown[fmt] / 2**20:.0f} MB"
        )
        assert headers["X-Export-Rows"] == str(ROWS)
        assert headers["X-Export-Truncated"] == "false"
        assert 'filename="big-export-' in headers["Content-Disposition"]
    for fmt, growth in grown.items():
        assert growth < BUDGET_BYTES, f"{fmt} export grew server memory by {growth / 2**20:.0f} MB"

    with (tmp_path / "big.csv").open(newline="") as file:
        reader = csv.reader(file)
        assert next(reader) == ["id", "label", "amount"]
        count = 0
        for count, (row_id, label, _) in enumerate(reader, start=1):  # noqa: B007
            raw = PREFIXES[int(row_id) % 5] + row_id
            assert label == (raw if raw[0] == "x" else "'" + raw)
    assert count == ROWS

    book = openpyxl.load_workbook(tmp_path / "big.xlsx", read_only=True)
    sheet = book.active
    assert sheet.max_row == ROWS + 1
    rows = sheet.iter_rows(min_row=1, max_row=11)
    assert [cell.value for cell in next(rows)] == ["id", "label", "amount"]
    for index, (row_id, label, amount) in enumerate(rows):
        assert (row_id.value, row_id.data_type) == (index, "n")
        assert (label.value, label.data_type) == (PREFIXES[index % 5] + str(index), "s")
        assert amount.value == index / 8
    book.close()

"""``POST /api/query/export`` on a team server against a real PostgreSQL datasource: every format
holds the rows, formula-like cells open as text, the file name is the server's, permission is
checked before anything runs, and bad requests are 4xx naming the field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import openpyxl
import pyarrow.parquet as pq
import pytest
from tornado.httpclient import HTTPResponse

from analytics_ext.services.query_export import content_disposition, export_filename
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import ended, make_datasource, save_query

pytestmark = pytest.mark.timeout(120)

CELLS = [
    (1, "=1+1", -5),
    (2, "+SUM(A1:A9)", 3),
    (3, "-2+3", None),
    (4, "@cmd|' /C calc'!A0", 4),
    (5, "plain, with comma", 5),
]
DDL = [
    "CREATE TABLE cells (id INTEGER PRIMARY KEY, label TEXT, n INTEGER)",
    "INSERT INTO cells VALUES "
    + ", ".join(
        f"({i}, '{label.replace(chr(39), chr(39) * 2)}', {'NULL' if n is None else n})"
        for i, label, n in CELLS
    ),
]
SQL = "SELECT id, label, n FROM cells WHERE id >= :first ORDER BY id"
PARAMETERS = [{"type": "number", "name": "first", "integer": True, "default": 1}]


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def cells_url() -> Iterator[str]:
    with postgres_database(DDL) as url:
        yield url


async def export(
    jp_fetch: Any, body: Any, headers: dict[str, str] | None = None, expect: int = 200
) -> HTTPResponse:
    response = await jp_fetch(
        "api", "query", "export", method="POST", body=json.dumps(body), raise_error=False,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    assert response.code == expect, response.body[:500]
    return response


def message(response: HTTPResponse) -> str:
    return json.loads(response.body)["message"]


async def setup(api: ApiClient, url: str, name: str = 'Umsätze / Q1 "final"') -> str:
    sources = (await api.get("/api/datasources"))["items"]
    source = sources[0]["id"] if sources else await make_datasource(api, url)
    return (await save_query(api, source, SQL, name=name, parameters=PARAMETERS))["id"]


async def test_csv_neutralizes_formulas_and_names_the_file(api, jp_fetch, cells_url) -> None:
    query_id = await setup(api, cells_url)
    response = await export(jp_fetch, {"query_id": query_id, "format": "csv"})
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="umsatze-q1-final-{today}.csv"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"Umsätze-Q1-final-{today}.csv"
    assert response.headers["X-Export-Rows"] == "5"
    assert response.headers["X-Export-Truncated"] == "false"
    rows = list(csv.reader(io.StringIO(response.body.decode())))
    assert rows[0] == ["id", "label", "n"]
    assert rows[1:] == [
        ["1", "'=1+1", "-5"],  # the number -5 stays a number; the text gets its quote
        ["2", "'+SUM(A1:A9)", "3"],
        ["3", "'-2+3", ""],
        ["4", "'@cmd|' /C calc'!A0", "4"],
        ["5", "plain, with comma", "5"],
    ]
    # Parameters reach the run; the row limit is honoured and reported.
    response = await export(
        jp_fetch, {"query_id": query_id, "parameters": {"first": 4}, "row_limit": 1}
    )
    assert [r[0] for r in csv.reader(io.StringIO(response.body.decode()))] == ["id", "4"]
    assert response.headers["X-Export-Truncated"] == "true"


async def test_xlsx_cells_are_text_and_numbers_are_numbers(api, jp_fetch, cells_url) -> None:
    query_id = await setup(api, cells_url, name="cells")
    response = await export(jp_fetch, {"query_id": query_id, "format": "xlsx"})
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert '.xlsx"' in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.body)).active
    assert [cell.value for cell in sheet[1]] == ["id", "label", "n"]
    for row, (_, label, n) in zip(sheet.iter_rows(min_row=2), CELLS, strict=True):
        assert (row[1].value, row[1].data_type) == (label, "s")  # text, never a formula
        assert row[2].value == n
        if n is not None:
            assert row[2].data_type == "n"
    assert sheet.max_row == len(CELLS) + 1


async def test_parquet_and_json_hold_the_rows(api, jp_fetch, cells_url) -> None:
    query_id = await setup(api, cells_url, name="cells")
    response = await export(jp_fetch, {"query_id": query_id, "format": "parquet"})
    assert response.headers["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.body))
    assert table.column("label").to_pylist() == [label for _, label, _ in CELLS]
    response = await export(jp_fetch, {"query_id": query_id, "format": "json"})
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == [{"id": i, "label": label, "n": n} for i, label, n in CELLS]


async def test_a_finished_run_exports_for_its_owner_only(
    api, jp_fetch, cells_url, create_account, login
) -> None:
    source = await make_datasource(api, cells_url)
    body = {"datasource_id": source, "sql": "SELECT 1 AS one"}
    run = await api.post("/api/query/run", body, expect=202)
    await ended(api, run["id"])
    response = await export(jp_fetch, {"run_id": run["id"], "format": "csv"})
    assert response.body.decode().splitlines() == ['"one"', "1"]
    assert 'filename="query-result-' in response.headers["Content-Disposition"]
    await create_account("bob")
    bob = await login("bob")
    bob_headers = bob._headers
    await export(jp_fetch, {"run_id": run["id"]}, bob_headers, expect=404)
    slow = {"datasource_id": source, "sql": "SELECT pg_sleep(10)"}
    running = await api.post("/api/query/run", slow, expect=202)
    response = await export(jp_fetch, {"run_id": running["id"]}, expect=409)
    assert "still running" in message(response)
    await api.delete(f"/api/query/runs/{running['id']}", expect=200)
    failed = await api.post("/api/query/run", {**body, "sql": "SELECT 1/0"}, expect=202)
    await ended(api, failed["id"])
    response = await export(jp_fetch, {"run_id": failed["id"]}, expect=409)
    assert "failed" in message(response)


async def test_permission_is_checked_before_anything_runs(
    api, jp_fetch, cells_url, create_account, login, server_services
) -> None:
    query_id = await setup(api, cells_url)
    bob_id = (await create_account("bob")).id
    bob = await login("bob")
    executions = server_services.queries.engine.executions
    response = await export(jp_fetch, {"query_id": query_id}, bob._headers, expect=404)
    assert message(response) == "query not found"
    assert server_services.queries.engine.executions == executions
    assert (await bob.get("/api/query/history"))["items"] == []
    grant = {"object_id": query_id, "principal_id": bob_id, "level": "view"}
    await api.post("/api/query/share", grant, expect=201)
    # A viewer exports the saved SQL with the owner's datasource authority.
    response = await export(jp_fetch, {"query_id": query_id, "format": "json"}, bob._headers)
    assert len(json.loads(response.body)) == len(CELLS)


async def test_a_share_link_exports_its_one_query(api, jp_fetch, cells_url) -> None:
    shared, other = await setup(api, cells_url), await setup(api, cells_url)
    link = {"object_id": shared, "principal_type": "link"}
    grant = await api.post("/api/query/share", link, expect=201)
    guest = {"Authorization": f"Bearer {grant['token']}"}
    response = await export(jp_fetch, {"query_id": shared, "format": "csv"}, guest)
    assert len(response.body.decode().splitlines()) == len(CELLS) + 1
    await export(jp_fetch, {"query_id": other}, guest, expect=404)
    await api.delete(f"/api/query/share/{grant['id']}")
    await export(jp_fetch, {"query_id": shared}, guest, expect=404)  # revoked: nothing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "query_id and run_id"),
        ({"query_id": "a" * 22, "run_id": "b" * 22}, "query_id and run_id"),
        ({"run_id": "b" * 22, "parameters": {"x": 1}}, "parameters"),
        ({"query_id": "a" * 22, "format": "xls"}, "format"),
        ({"query_id": "short"}, "query_id"),
        ({"query_id": "a" * 22, "row_limit": 0}, "row_limit"),
        ({"query_id": "a" * 22, "extra": 1}, "extra"),
    ],
)
async def test_bad_requests_are_422_naming_the_field(jp_fetch, body, field) -> None:
    response = await export(jp_fetch, body, expect=422)
    assert field in message(response)


async def test_bad_parameter_values_are_422_and_unknown_queries_404(
    api, jp_fetch, cells_url
) -> None:
    query_id = await setup(api, cells_url)
    response = await export(
        jp_fetch, {"query_id": query_id, "parameters": {"first": "one"}}, expect=422
    )
    assert message(response).startswith("parameters.first")
    await export(jp_fetch, {"query_id": "x" * 22}, expect=404)
    await export(jp_fetch, {"run_id": "x" * 22}, expect=404)
    response = await jp_fetch(
        "api", "query", "export", method="POST", body=b"{not json", raise_error=False,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.code == 400


def test_file_names_are_ascii_slugs_with_an_rfc5987_twin() -> None:
    day = dt.date(2026, 1, 31)
    assert export_filename("Q1 revenue", "csv", day) == "q1-revenue-2026-01-31.csv"
    assert export_filename('../../etc/passwd"; x=', "csv", day) == "etc-passwd-x-2026-01-31.csv"
    assert export_filename("データ", "xlsx", day) == "export-2026-01-31.xlsx"
    header = content_disposition("データ\r\nSet-Cookie: a=b", "json", day)
    assert "\r" not in header
    assert "\n" not in header
    assert header.startswith('attachment; filename="set-cookie-a-b-2026-01-31.json"; ')
    assert unquote(header.split("''")[1]) == "データ-Set-Cookie-a-b-2026-01-31.json"

"""The query routes over HTTP on a team server, against a real PostgreSQL datasource: run, poll,
page as JSON and Arrow, cancel in the database, history, refusals, and who may see what."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from tests.support.api import ApiClient
from tests.support.datasources import postgres_database

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


async def post(client: ApiClient, path: str, body: Any, expect: int = 200) -> Any:
    return (await client.request("POST", path, body, expect=expect)).body


async def delete(client: ApiClient, path: str, expect: int = 200) -> Any:
    return (await client.request("DELETE", path, expect=expect)).body


async def make_datasource(api: ApiClient, url: str, **options: Any) -> str:
    body = {"name": "shop", "url": url, "options": options}
    created = await post(api, "/api/datasources", body, expect=201)
    return created["id"]


async def ended(client: ApiClient, run_id: str, within: float = 30) -> dict:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        run = await client.get(f"/api/query/runs/{run_id}")
        if run["state"] not in ("queued", "running"):
            return run
        assert asyncio.get_running_loop().time() < deadline, run
        await asyncio.sleep(0.05)


async def test_run_poll_page_and_arrow(api: ApiClient, jp_fetch, shop_url: str) -> None:
    source = await make_datasource(api, shop_url)
    hostile = "Ada'; DROP TABLE customers; --"
    body = {
        "datasource_id": source,
        "sql": "SELECT c.id, c.name, o.total, o.placed_at, :tag AS tag"
        " FROM customers c LEFT JOIN orders o ON o.customer_id = c.id"
        " WHERE c.id >= :first ORDER BY c.id",
        "parameters": {"first": 1, "tag": hostile},
    }
    started = await post(api, "/api/query/run", body, expect=202)
    run = await ended(api, started["id"])
    assert run["state"] == "succeeded", run
    assert run["rows"] == 2
    assert {c["name"]: c["type"] for c in run["columns"]}["total"] == "decimal128(10, 2)"
    page = await api.get(f"/api/query/runs/{run['id']}/result?offset=0&limit=1")
    assert page["total_rows"] == 2
    assert page["rows"] == [
        {
            "id": 1,
            "name": "Ada",
            "total": "12.50",
            "placed_at": "2026-01-02T03:04:05",
            "tag": hostile,
        }
    ]
    reply = await jp_fetch(  # the owner's Jupyter token; raw bytes, not ApiClient's text
        "api", "query", "runs", run["id"], "result", params={"format": "arrow", "offset": "1"}
    )
    assert reply.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(reply.body).read_all()
    assert table.column("name").to_pylist() == ["Grace"]
    assert table.schema.field("total").type == pa.decimal128(10, 2)
    assert table.column("placed_at").to_pylist() == [None]
    with psycopg.connect(shop_url.replace("postgresql+psycopg", "postgresql")) as check:
        assert check.execute("SELECT count(*) FROM customers").fetchone() == (2,)

    history = await api.get("/api/query/history")
    assert history["items"][0]["id"] == run["id"]
    assert history["items"][0]["state"] == "succeeded"
    assert history["items"][0]["rows"] == 2


async def test_cancel_stops_the_query_in_postgresql(api: ApiClient, shop_url: str) -> None:
    source = await make_datasource(api, shop_url)
    started = await post(
        api, "/api/query/run", {"datasource_id": source, "sql": "SELECT pg_sleep(60)"}, expect=202
    )
    plain = shop_url.replace("postgresql+psycopg", "postgresql")

    def sleeping() -> int:
        with psycopg.connect(plain) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
            ).fetchone()
        return int(row[0]) if row else 0

    for _ in range(200):
        if await asyncio.to_thread(sleeping):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the statement never showed up in pg_stat_activity")
    await api.request("GET", f"/api/query/runs/{started['id']}/result", expect=409)
    loop = asyncio.get_running_loop()
    began = loop.time()
    cancelled = await delete(api, f"/api/query/runs/{started['id']}")
    assert cancelled["state"] == "cancelled"
    while await asyncio.to_thread(sleeping):
        assert loop.time() - began < 1.0
        await asyncio.sleep(0.02)
    await api.request("GET", f"/api/query/runs/{started['id']}/result", expect=409)


async def test_refusals_run_nothing(api: ApiClient, shop_url: str) -> None:
    source = await make_datasource(api, shop_url)
    for sql in (
        "DELETE FROM customers",
        "SELECT 1; DROP TABLE customers",
        "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
        "SELECT nextval('x')",
    ):
        reply = await api.request(
            "POST", "/api/query/run", {"datasource_id": source, "sql": sql}, expect=422
        )
        assert "sql" in reply.body["message"]
    for parameters in ({"id": [1, 2]}, {"id": {"a": 1}}, {"bad name": 1}, {}):
        await api.request(
            "POST",
            "/api/query/run",
            {"datasource_id": source, "sql": "SELECT :id AS id", "parameters": parameters},
            expect=422,
        )
    await api.request(
        "POST",
        "/api/query/run",
        {"datasource_id": source, "sql": "SELECT 1", "row_limit": 0},
        expect=422,
    )
    await api.request("GET", f"/api/query/runs/{'A' * 22}/result?limit=0", expect=422)
    assert (await api.get("/api/query/history"))["items"] == []
    with psycopg.connect(shop_url.replace("postgresql+psycopg", "postgresql")) as check:
        assert check.execute("SELECT count(*) FROM orders").fetchone() == (2,)


async def test_permissions_and_ownership(api: ApiClient, shop_url: str, create_account, login):
    source = await make_datasource(api, shop_url)
    bob_account = await create_account("bob")
    bob = await login("bob")
    body = {"datasource_id": source, "sql": "SELECT id FROM customers ORDER BY id"}
    await bob.request("POST", "/api/query/run", body, expect=404)  # invisible datasource
    grant = {"object_id": source, "principal_id": bob_account.id, "level": "view"}
    await post(api, "/api/datasources/share", grant, expect=201)
    await bob.request("POST", "/api/query/run", body, expect=403)  # may see, may not use
    await post(api, "/api/datasources/share", {**grant, "level": "use"}, expect=200)
    bobs = await post(bob, "/api/query/run", body, expect=202)
    assert (await ended(bob, bobs["id"]))["state"] == "succeeded"

    owners = await post(api, "/api/query/run", body, expect=202)
    await ended(api, owners["id"])
    for method, path in (
        ("GET", f"/api/query/runs/{owners['id']}"),
        ("GET", f"/api/query/runs/{owners['id']}/result"),
        ("DELETE", f"/api/query/runs/{owners['id']}"),
    ):
        await bob.request(method, path, expect=404)
    assert [item["id"] for item in (await bob.get("/api/query/history"))["items"]] == [bobs["id"]]

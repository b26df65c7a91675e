"""Settings apply where they matter: ``default_row_limit`` bounds previews and query runs that
ask for no limit (issue 4: "a default row limit of 7 makes an unlimited preview return 7 rows")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.api import ApiClient
from tests.support.datasources import postgres_database

pytestmark = pytest.mark.timeout(120)

NUMBERS = ["CREATE TABLE numbers AS SELECT n FROM generate_series(1, 50) AS n"]


@pytest.fixture(scope="module")
def numbers_url() -> Iterator[str]:
    with postgres_database(NUMBERS) as url:
        yield url


async def test_default_row_limit_bounds_unlimited_previews_and_runs(
    api: ApiClient, numbers_url: str
):
    created = await api.request(
        "POST", "/api/datasources", {"name": "numbers", "url": numbers_url}, expect=201
    )
    source = created.body["id"]
    preview = f"/api/datasources/preview?datasource_id={source}&table=numbers"
    assert len((await api.get(preview))["rows"]) == 50  # default setting: 1000

    await api.patch("/api/user/settings", {"default_row_limit": 7})
    unlimited = await api.get(preview)
    assert len(unlimited["rows"]) == 7
    assert unlimited["truncated"] is True
    assert len((await api.get(f"{preview}&limit=12"))["rows"]) == 12  # an explicit limit wins

    body = {"datasource_id": source, "sql": "SELECT n FROM numbers ORDER BY n"}
    started = (await api.request("POST", "/api/query/run", body, expect=202)).body
    for _ in range(600):
        run = await api.get(f"/api/query/runs/{started['id']}")
        if run["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    assert run["state"] == "succeeded", run
    assert run["rows"] == 7
    asked = {**body, "row_limit": 20, "bypass_cache": True}
    started = (await api.request("POST", "/api/query/run", asked, expect=202)).body
    for _ in range(600):
        run = await api.get(f"/api/query/runs/{started['id']}")
        if run["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    assert run["rows"] == 20

"""Set-up shared by the query-library and chart tests: a datasource, a saved query, a run."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.api import ApiClient


async def make_datasource(api: ApiClient, url: str, name: str = "shop", **options: Any) -> str:
    """A datasource on ``url`` owned by the caller; its id."""
    body = {"name": name, "url": url, "options": options}
    return (await api.post("/api/datasources", body, expect=201))["id"]


async def save_query(
    client: ApiClient, datasource_id: str, sql: str, name: str = "query", **fields: Any
) -> dict[str, Any]:
    """``POST /api/query``: the saved query as the server returned it."""
    body = {"name": name, "datasource_id": datasource_id, "sql": sql, **fields}
    return await client.post("/api/query", body, expect=201)


async def ended(client: ApiClient, run_id: str, within: float = 30) -> dict[str, Any]:
    """Poll a run until it is no longer queued or running."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        run = await client.get(f"/api/query/runs/{run_id}")
        if run["state"] not in ("queued", "running"):
            return run
        assert asyncio.get_running_loop().time() < deadline, run
        await asyncio.sleep(0.05)

"""Identical queries run once across two server processes sharing one store and one Redis.

Eight identical runs, four submitted to each process while the first is still running, reach
PostgreSQL as one statement (``pg_stat_activity``) and all answer the same rows: the result cache
and its single-flight lock live in Redis, not in either process.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import psycopg
import pytest

from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer, start_live_server
from tests.support.services import require_service

pytestmark = pytest.mark.timeout(180)

SQL = "SELECT pg_sleep(1.5) IS NULL AS slept, :n::int * 2 AS doubled"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ...]]:
    require_service("redis")
    with postgres_database([]) as store_url:
        shared = [
            f"--AnalyticsExtension.db_url={store_url}",
            f"--AnalyticsExtension.redis_url=redis://127.0.0.1:6379/{random.randint(1, 15)}",
            f"--AnalyticsExtension.datasource_key={secrets.token_urlsafe(32)}",
            f"--AnalyticsExtension.jwt_signing_key={secrets.token_urlsafe(48)}",
        ]
        work = tmp_path_factory.mktemp("query-processes")
        with ExitStack() as stack:
            servers = tuple(
                stack.enter_context(start_live_server(work / name, extra_args=shared))
                for name in ("a", "b")
            )
            yield servers


@pytest.fixture(scope="module")
def data_url() -> Iterator[str]:
    with postgres_database([]) as url:
        yield url


def _statements_running(data_url: str) -> int:
    database = data_url.rsplit("/", 1)[1]
    plain = data_url.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(plain) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND query LIKE 'SELECT pg_sleep(1.5)%%' AND state = 'active'",
            (database,),
        ).fetchone()
    return count


def _run(server: LiveServer, datasource_id: str) -> dict:
    with httpx.Client(base_url=server.url, headers=server.auth_header, timeout=30) as client:
        body = {"datasource_id": datasource_id, "sql": SQL, "parameters": {"n": 21}}
        started = client.post("api/query/run", json=body)
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            run = client.get(f"api/query/runs/{run_id}").json()
            if run["state"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, run
            time.sleep(0.05)
        assert run["state"] == "succeeded", run
        return client.get(f"api/query/runs/{run_id}/result").json()


def test_eight_identical_runs_on_two_processes_execute_once(two_servers, data_url: str):
    a, b = two_servers
    created = httpx.post(
        f"{a.url}api/datasources",
        json={"name": "data", "url": data_url, "options": {"cache_ttl_seconds": 60}},
        headers=a.auth_header,
    )
    assert created.status_code == 201, created.text
    source = created.json()["id"]
    assert httpx.get(f"{b.url}api/datasources/{source}", headers=b.auth_header).status_code == 200

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(_run, (a, b)[i % 2], source) for i in range(8)]
        seen = 0
        # Watch until every run has answered (not a fixed window: on a loaded machine the
        # statement may start late), counting the most copies active at any one moment.
        deadline = time.monotonic() + 30
        while not all(future.done() for future in futures) and time.monotonic() < deadline:
            seen = max(seen, _statements_running(data_url))
            time.sleep(0.05)
        pages = [future.result() for future in futures]
    assert seen == 1, f"{seen} copies of the statement ran at once"
    assert [page["rows"] for page in pages] == [pages[0]["rows"]] * 8
    assert pages[0]["total_rows"] == 1

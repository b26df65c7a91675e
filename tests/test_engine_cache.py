"""The cache: identical runs execute once (in one process and across processes sharing Redis),
normalized variants share an entry, other parameter values do not; TTL, bypass, invalidation and
the size budget hold. Against real PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from analytics_ext.engine.cache import MemoryCache, RedisCache
from analytics_ext.engine.runs import QueryEngine, RunState
from analytics_ext.engine.spec import SourceSpec
from tests.support.engine import finished, query_engine, spec_for, wait_until
from tests.support.services import require_service

pytestmark = pytest.mark.timeout(60)

SLOW = "SELECT x FROM generate_series(1, :n) AS x, pg_sleep(1.5)"
SLOW_VARIANT = "select   x\n  FROM generate_series( 1 , :n )   as x ,PG_SLEEP(1.5) -- same query"
FAST = "SELECT x, 'v' || x AS label FROM generate_series(1, :n) AS x"
FAST_VARIANT = "select x,'v'||x as label\nfrom GENERATE_SERIES(1,:n) as x"


@pytest.fixture
def engine() -> Iterator[QueryEngine]:
    with query_engine(workers=8, per_user_limit=16) as running:
        yield running


@pytest.fixture
def spec(postgresql_url: str) -> SourceSpec:
    return spec_for(postgresql_url, cache_ttl_seconds=60)


def statements_running(postgresql_url: str, needle: str) -> int:
    with psycopg.connect(postgresql_url.replace("postgresql+psycopg", "postgresql")) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'active' AND query ILIKE %s AND pid <> pg_backend_pid()",
            (f"%{needle}%",),
        ).fetchone()
    return int(row[0]) if row else 0


def test_eight_identical_concurrent_runs_execute_once(
    engine: QueryEngine, spec: SourceSpec, postgresql_url: str
) -> None:
    runs = [
        engine.submit(f"user{i}", spec, SLOW if i % 2 else SLOW_VARIANT, {"n": 3}) for i in range(8)
    ]
    wait_until(lambda: statements_running(postgresql_url, "pg_sleep(1.5)") >= 1, timeout=5)
    seen = [statements_running(postgresql_url, "pg_sleep(1.5)") for _ in range(5)]
    assert max(seen) == 1
    for run in runs:
        assert finished(run).state is RunState.SUCCEEDED
        assert run.result is not None
        assert run.result.page().column("x").to_pylist() == [1, 2, 3]
    assert engine.executions == 1


def test_variants_share_an_entry_and_other_values_do_not(
    engine: QueryEngine, spec: SourceSpec
) -> None:
    first = finished(engine.submit("alice", spec, FAST, {"n": 3}))
    assert not first.cached
    variant = finished(engine.submit("bob", spec, FAST_VARIANT, {"n": 3}))
    assert variant.cached
    assert variant.result is not None
    assert variant.result.page().to_pylist() == first.result.page().to_pylist()  # type: ignore[union-attr]
    other = finished(engine.submit("alice", spec, FAST, {"n": 4}))
    assert not other.cached
    assert other.rows == 4
    as_text = finished(engine.submit("alice", spec, FAST + " LIMIT :k", {"n": 3, "k": 2}))
    assert not as_text.cached
    assert engine.executions == 3


def test_cached_repeat_is_fast(engine: QueryEngine, spec: SourceSpec) -> None:
    sql = "SELECT x FROM generate_series(1, 100000) AS x, pg_sleep(0.3)"
    uncached = finished(engine.submit("alice", spec, sql))
    repeat = finished(engine.submit("alice", spec, sql))
    assert repeat.cached
    assert repeat.elapsed_seconds <= 0.05 * uncached.elapsed_seconds
    assert repeat.rows == 100000


def test_bypass_ttl_revision_and_invalidation(engine: QueryEngine, postgresql_url: str) -> None:
    spec = spec_for(postgresql_url, cache_ttl_seconds=0.5)
    finished(engine.submit("alice", spec, FAST, {"n": 2}))
    assert finished(engine.submit("alice", spec, FAST, {"n": 2})).cached
    assert not finished(engine.submit("alice", spec, FAST, {"n": 2}, bypass_cache=True)).cached
    changed = dataclasses.replace(spec, revision=spec.revision + 1)
    assert not finished(engine.submit("alice", changed, FAST, {"n": 2})).cached
    assert finished(engine.submit("alice", changed, FAST, {"n": 2})).cached
    engine.invalidate(spec.id)
    assert not finished(engine.submit("alice", changed, FAST, {"n": 2})).cached
    time.sleep(0.6)
    assert not finished(engine.submit("alice", changed, FAST, {"n": 2})).cached
    no_cache = dataclasses.replace(spec, cache_ttl_seconds=0)
    finished(engine.submit("alice", no_cache, FAST, {"n": 2}))
    assert not finished(engine.submit("alice", no_cache, FAST, {"n": 2})).cached


def test_memory_cache_size_budget(postgresql_url: str) -> None:
    with query_engine(cache=MemoryCache(max_bytes=80_000)) as engine:
        spec = spec_for(postgresql_url, cache_ttl_seconds=60)
        finished(engine.submit("alice", spec, FAST, {"n": 2000}))
        assert finished(engine.submit("alice", spec, FAST, {"n": 2000})).cached
        finished(engine.submit("alice", spec, FAST, {"n": 5000}))  # evicts the first entry
        assert not finished(engine.submit("alice", spec, FAST, {"n": 2000})).cached
        big = finished(engine.submit("alice", spec, FAST, {"n": 100_000}))  # over the budget
        assert big.rows == 100_000
        assert not finished(engine.submit("alice", spec, FAST, {"n": 100_000})).cached


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require_service("redis")
    prefix = f"analytics_test:{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url("redis://127.0.0.1:6379")
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def redis_engine(prefix: str) -> QueryEngine:
    engine = QueryEngine(workers=8, per_user_limit=16)
    engine.cache = RedisCache(
        "redis://127.0.0.1:6379", engine.budget, engine.spill_dir, prefix=prefix
    )
    return engine


def test_two_engines_sharing_redis(redis_prefix: str, postgresql_url: str) -> None:
    first, second = redis_engine(redis_prefix), redis_engine(redis_prefix)
    spec = spec_for(postgresql_url, cache_ttl_seconds=60)
    try:
        runs = [
            (first if i % 2 else second).submit(
                f"user{i}", spec, SLOW if i % 3 else SLOW_VARIANT, {"n": 3}
            )
            for i in range(8)
        ]
        wait_until(lambda: statements_running(postgresql_url, "pg_sleep(1.5)") >= 1, timeout=5)
        seen = [statements_running(postgresql_url, "pg_sleep(1.5)") for _ in range(5)]
        assert max(seen) == 1
        for run in runs:
            assert finished(run).state is RunState.SUCCEEDED, run.error
            assert run.result is not None
            assert run.result.page().column("x").to_pylist() == [1, 2, 3]
        assert first.executions + second.executions == 1
        hit = finished(second.submit("carol", spec, FAST_VARIANT, {"n": 5}))
        assert not hit.cached
        again = finished(first.submit("dave", spec, FAST, {"n": 5}))
        assert again.cached
        assert again.result is not None
        assert again.result.page().column("label").to_pylist() == ["v1", "v2", "v3", "v4", "v5"]
        other = finished(first.submit("dave", spec, FAST, {"n": 6}))
        assert not other.cached
        first.invalidate(spec.id)
        assert not finished(second.submit("carol", spec, FAST, {"n": 5})).cached
    finally:
        first.close()
        second.close()

"""The result cache: keyed by datasource, revision, normalized SQL and parameter values.

``cache_key`` is the one definition of "the same query": sqlglot's rendering makes whitespace,
comments and keyword case irrelevant, while every parameter value (with its type) and the row
cap are part of the key. The revision is bumped by every change to a datasource, so its old
entries can never be served again, and ``invalidate`` frees them at once.

``MemoryCache`` serves one server process. ``RedisCache`` serves several: results travel as
Arrow IPC bytes, and a Redis lock per key makes identical runs in different processes execute
once (the others wait for the leader's result instead of asking the database again).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from analytics_ext.engine.results import MemoryBudget, ResultSet, ResultWriter

KEY_PREFIX = "analytics_ext:query"


def cache_key(
    source_id: str,
    revision: int,
    normalized_sql: str,
    values: Mapping[str, Any],
    row_cap: int,
) -> str:
    """A stable digest naming one query's result."""
    typed = sorted((name, type(value).__name__, str(value)) for name, value in values.items())
    material = json.dumps([revision, normalized_sql, typed, row_cap], separators=(",", ":"))
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{source_id}:{digest}"


class QueryCache(ABC):
    """What the run registry needs from a cache."""

    shared = False
    """True when other processes see the same entries (and take part in single-flight)."""

    @abstractmethod
    def get(self, key: str) -> ResultSet | None:
        """A held result (the caller releases it), or None."""

    @abstractmethod
    def put(self, key: str, result: ResultSet, ttl_seconds: float) -> None:
        """Keep ``result`` (retaining it) for ``ttl_seconds``."""

    @abstractmethod
    def invalidate(self, source_id: str) -> None:
        """Forget every entry of one datasource (it changed or was deleted)."""

    def acquire(self, key: str, lease_seconds: float) -> str | None:
        """Cross-process single-flight: a token when this process should run the query."""
        return "local"

    def release_lock(self, key: str, token: str) -> None:
        return None

    def locked(self, key: str) -> bool:
        return False

    def close(self) -> None:
        return None


class MemoryCache(QueryCache):
    """An in-process LRU bounded by bytes (results in memory, or their spill files)."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[float, ResultSet]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ResultSet | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, result = entry
            if expires <= time.monotonic():
                del self._entries[key]
                expired = result
            else:
                self._entries.move_to_end(key)
                return result.retain()
        expired.release()
        return None

    def put(self, key: str, result: ResultSet, ttl_seconds: float) -> None:
        if ttl_seconds <= 0 or result.footprint > self.max_bytes:
            return
        dropped: list[ResultSet] = []
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                dropped.append(old[1])
            self._entries[key] = (time.monotonic() + ttl_seconds, result.retain())
            total = sum(entry.footprint for _, entry in self._entries.values())
            while total > self.max_bytes and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                total -= evicted.footprint
                dropped.append(evicted)
        for result_set in dropped:
            result_set.release()

    def invalidate(self, source_id: str) -> None:
        with self._lock:
            keys = [key for key in self._entries if key.startswith(f"{source_id}:")]
            dropped = [self._entries.pop(key)[1] for key in keys]
        for result in dropped:
            result.release()

    def close(self) -> None:
        with self._lock:
            dropped = [result for _, result in self._entries.values()]
            self._entries.clear()
        for result in dropped:
            result.release()


_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisCache(QueryCache):
    """Results as Arrow IPC bytes in Redis, shared by every server process using it."""

    shared = True

    def __init__(
        self,
        url: str,
        budget: MemoryBudget,
        spill_dir: Any,
        *,
        max_item_bytes: int = 256 * 1024 * 1024,
        prefix: str = KEY_PREFIX,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._budget = budget
        self._spill_dir = spill_dir
        self.max_item_bytes = max_item_bytes
        self.prefix = prefix
        self._release = self._redis.register_script(_RELEASE_LOCK)

    def _result_key(self, key: str) -> str:
        return f"{self.prefix}:result:{key}"

    def _lock_key(self, key: str) -> str:
        return f"{self.prefix}:lock:{key}"

    def get(self, key: str) -> ResultSet | None:
        data = self._redis.get(self._result_key(key))
        if data is None:
            return None
        writer = ResultWriter(self._budget, self._spill_dir)
        try:
            with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
                for batch in reader:
                    writer.write(batch)
                return writer.finish(reader.schema)
        except Exception:
            writer.abort()
            raise

    def put(self, key: str, result: ResultSet, ttl_seconds: float) -> None:
        if ttl_seconds <= 0 or result.footprint > self.max_item_bytes:
            return
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.schema) as writer:
            for batch in result.batches():
                writer.write_batch(batch)
                if sink.tell() > self.max_item_bytes:
                    return
        self._redis.set(
            self._result_key(key), sink.getvalue().to_pybytes(), px=int(ttl_seconds * 1000)
        )

    def invalidate(self, source_id: str) -> None:
        pattern = f"{self.prefix}:result:{source_id}:*"
        batch: list[bytes] = []
        for name in self._redis.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                self._redis.delete(*batch)
                batch = []
        if batch:
            self._redis.delete(*batch)

    def acquire(self, key: str, lease_seconds: float) -> str | None:
        token = uuid.uuid4().hex
        taken = self._redis.set(
            self._lock_key(key), token, nx=True, px=max(1000, int(lease_seconds * 1000))
        )
        return token if taken else None

    def release_lock(self, key: str, token: str) -> None:
        self._release(keys=[self._lock_key(key)], args=[token])

    def locked(self, key: str) -> bool:
        return bool(self._redis.exists(self._lock_key(key)))

    def close(self) -> None:
        self._redis.close()

"""Helpers for the query-engine tests: real databases (MariaDB per module), specs and waiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
from sqlalchemy.engine import make_url

from analytics_ext.engine.runs import QueryEngine, Run
from analytics_ext.engine.spec import SourceSpec
from tests.support.services import require_service

MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306


def spec_for(url: str, **options: Any) -> SourceSpec:
    """A datasource as the engine sees it, with a fresh id unless one is given."""
    options.setdefault("id", f"ds-{uuid.uuid4().hex[:8]}")
    return SourceSpec(url=make_url(url), **options)


def mariadb_admin(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user="root",
        password="",
        database=database,
        autocommit=True,
    )


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A uniquely named MariaDB database, dropped afterwards; yields its SQLAlchemy URL."""
    require_service("mariadb", (MARIADB_HOST, MARIADB_PORT))
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    admin = mariadb_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        yield f"mysql+pymysql://root@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def finished(run: Run, timeout: float = 30.0) -> Run:
    """Block until the run ends (tests only: the server awaits ``QueryEngine.wait``)."""
    return run.future.result(timeout=timeout)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it is truthy; returns its value or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def query_engine(**options: Any) -> Iterator[QueryEngine]:
    engine = QueryEngine(**options)
    try:
        yield engine
    finally:
        engine.close()

"""Real databases for datasource tests: a fresh PostgreSQL database, a fresh MariaDB database,
and SQLite/DuckDB files in an allowed folder, each with the same small shop schema."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from sqlalchemy import create_engine, text

from tests.support.services import require_service

PG_ADMIN_URL = os.environ.get(
    "ANALYTICS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""The test PostgreSQL server's maintenance database (override with ANALYTICS_TEST_PG_URL)."""
PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0]
MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"

SHOP_DDL = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
    "email VARCHAR(200))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
    "REFERENCES customers (id), total DECIMAL(10, 2), placed_at TIMESTAMP)",
    "INSERT INTO customers VALUES (1, 'Ada', 'ada@example.org'), (2, 'Grace', NULL)",
    "INSERT INTO orders VALUES (10, 1, 12.50, TIMESTAMP '2026-01-02 03:04:05'), "
    "(11, 2, 99.99, NULL)",
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 50",
]


@contextmanager
def postgres_database(ddl: list[str] = SHOP_DDL) -> Iterator[str]:
    """A uniquely named PostgreSQL database holding ``ddl``; its URL; dropped afterwards.

    The one way tests get a PostgreSQL database (stores and datasources alike)."""
    require_service("postgresql")
    name = f"ds_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            for statement in ddl:
                connection.execute(text(statement))
            connection.execute(text("ANALYZE"))
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def mariadb_database(ddl: list[str] = SHOP_DDL) -> Iterator[str]:
    """A uniquely named MariaDB database holding ``ddl``; its URL; dropped afterwards."""
    require_service("mariadb")
    name = f"ds_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{MARIADB_SERVER}/test")
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))
    url = f"{MARIADB_SERVER}/{name}"
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            for statement in ddl:
                connection.execute(text(statement))
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def sqlite_file(folder: Path, name: str = "shop.sqlite") -> Path:
    path = folder / name
    connection = sqlite3.connect(path)
    for statement in SHOP_DDL:
        connection.execute(statement.replace("TIMESTAMP '", "'"))
    connection.commit()
    connection.close()
    return path


def duckdb_file(folder: Path, name: str = "shop.duckdb") -> Path:
    path = folder / name
    connection = duckdb.connect(str(path))
    for statement in SHOP_DDL:
        connection.execute(statement)
    connection.close()
    return path

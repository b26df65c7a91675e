"""The engine's own locks, whatever a datasource's options say: file databases are opened
read-only, statements that reach outside the database are refused, and network connections go
to the address the host policy just checked (never libpq's ~/.pgpass)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import create_engine, text

from analytics_ext.engine.errors import QueryFailed, SourceUnavailable, StatementRefused
from analytics_ext.engine.fetch import libpq_uri
from analytics_ext.engine.runs import QueryEngine
from analytics_ext.errors import Invalid
from tests.support.engine import spec_for
from tests.test_engine_fetch import fetch


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE items (id INTEGER)")
        connection.execute("INSERT INTO items VALUES (1)")
    return path


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE items AS SELECT 1 AS id")
    return path


def test_writable_sqlite_datasource_still_cannot_write_the_file(sqlite_file: Path):
    spec = spec_for(f"sqlite:///{sqlite_file}", read_only=False)
    with pytest.raises((QueryFailed, SourceUnavailable)):
        fetch(spec, "INSERT INTO items VALUES (2)")
    with sqlite3.connect(sqlite_file) as connection:
        assert connection.execute("SELECT count(*) FROM items").fetchone() == (1,)


def test_writable_duckdb_datasource_still_cannot_write_the_file(duckdb_file: Path):
    spec = spec_for(f"duckdb:///{duckdb_file}", read_only=False)
    with pytest.raises((QueryFailed, SourceUnavailable)):
        fetch(spec, "INSERT INTO items VALUES (2)")
    with duckdb.connect(str(duckdb_file), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM items").fetchone() == (1,)


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("sqlite", "ATTACH DATABASE '/tmp/other.sqlite' AS other"),
        ("sqlite", "SELECT load_extension('/tmp/evil.so')"),
        ("duckdb", "SELECT * FROM read_csv('/etc/passwd')"),
        ("postgresql", "SELECT pg_read_file('/etc/passwd')"),
    ],
)
def test_statements_reaching_outside_are_refused_on_writable_datasources(
    dialect: str, sql: str, sqlite_file: Path, duckdb_file: Path
):
    url = {
        "sqlite": f"sqlite:///{sqlite_file}",
        "duckdb": f"duckdb:///{duckdb_file}",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    }[dialect]
    engine = QueryEngine()
    try:
        with pytest.raises(StatementRefused):
            engine.submit("ada", spec_for(url, read_only=False), sql)
    finally:
        engine.close()


def test_libpq_never_reads_the_server_accounts_files():
    uri = libpq_uri(spec_for("postgresql+psycopg://ada:pw@db.example.org/shop"))
    assert "passfile=%2Fnonexistent" in uri
    assert "gssencmode=disable" in uri
    assert "sslcertmode=disable" in uri


def test_postgresql_connects_to_the_checked_address(postgresql_url: str):
    """The URL names a host that does not resolve; the policy's answer is what is dialled."""
    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t AS SELECT 42 AS answer"))
    engine.dispose()
    database = postgresql_url.rsplit("/", 1)[1]
    checked: list[str] = []

    def check_host(host, port):
        checked.append(host)
        return ["127.0.0.1"]

    url = f"postgresql+psycopg://postgres@pg.analytics-test.invalid:5432/{database}"
    table = fetch(spec_for(url, check_host=check_host), "SELECT answer FROM t")
    assert table.column("answer").to_pylist() == [42]
    assert checked == ["pg.analytics-test.invalid"]


def test_a_host_the_policy_refuses_is_never_dialled():
    def check_host(host, port):
        raise Invalid("url", f"host {host!r} resolves to 169.254.169.254, a denied address")

    spec = spec_for("postgresql+psycopg://x@metadata.example:5432/db", check_host=check_host)
    with pytest.raises(Invalid, match="denied address"):
        fetch(spec, "SELECT 1")

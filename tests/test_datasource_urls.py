"""The URL policy refuses every way a datasource URL could reach outside what the admin allowed,
and the statement check names SQL that reaches outside the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.engine import make_url

from analytics_ext.engine.connections import (
    classify_connection_error,
    create_datasource_engine,
    open_sqlite_readonly,
)
from analytics_ext.engine.spec import SourceSpec
from analytics_ext.engine.urls import UnresolvableHost, UrlPolicy, forbidden_statement_features
from analytics_ext.errors import Forbidden, Invalid


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    connection = sqlite3.connect(folder / "shop.sqlite")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    connection.commit()
    connection.close()
    return folder


@pytest.fixture
def policy(allowed: Path, tmp_path: Path) -> UrlPolicy:
    store = tmp_path / "data" / "analytics.sqlite"
    store.write_bytes(b"")
    return UrlPolicy(datasource_dirs=(allowed,), denied_paths=(store, tmp_path / "secrets"))


def check(policy: UrlPolicy, url: str, *, admin: bool = True):
    return policy.check(make_url(url), is_admin=admin)


def test_ordinary_network_urls_pass(policy):
    url = check(policy, "postgresql+psycopg://u:p@127.0.0.1:5432/db?sslmode=require", admin=False)
    assert url.host == "127.0.0.1"
    check(policy, "mysql+pymysql://root@localhost:3306/test?charset=utf8mb4", admin=False)


BAD_URLS = [
    ("postgresql+psycopg://u@127.0.0.1/db?host=/var/run/postgresql", "host"),
    ("postgresql+psycopg://u@/db", "host is required"),
    ("postgresql+psycopg://u@127.0.0.1/db?passfile=/root/.pgpass", "passfile"),
    ("postgresql+psycopg://u@127.0.0.1/db?options=-c%20log_statement%3Dall", "options"),
    ("postgresql+psycopg://u@127.0.0.1/db?service=prod", "service"),
    ("postgresql+psycopg://u@127.0.0.1/db?sslkeylogfile=/tmp/k", "sslkeylogfile"),
    ("postgresql+psycopg://u@127.0.0.1/db?sslrootcert=/etc/shadow", "outside the folders"),
    ("postgresql+psycopg://u@127.0.0.1/db?krbsrvname=x", "not supported"),
    ("mysql+pymysql://root@127.0.0.1/test?local_infile=1", "local_infile"),
    ("mysql+pymysql://root@127.0.0.1/test?init_command=DROP%20TABLE%20x", "init_command"),
    ("mysql+pymysql://root@127.0.0.1/test?unix_socket=/run/mysqld/mysqld.sock", "socket"),
    ("mysql+pymysql://root@127.0.0.1/test?read_default_file=/etc/my.cnf", "read_default_file"),
    ("mysql://root@127.0.0.1/test", "mysql+pymysql"),
    ("mysql+mysqldb://root@localhost/test", "mysql+pymysql"),
    ("postgresql+psycopg://u@169.254.169.254/db", "denied"),
    ("postgresql+psycopg://u@[fe80::1]/db", "denied"),
    ("postgresql+psycopg://u@[::ffff:169.254.169.254]/db", "denied"),
    ("postgresql+psycopg://u@metadata.google.internal/db", "denied"),
    ("oracle+oracledb://u@127.0.0.1/db", "not allowed"),
    ("sqlite:////etc/passwd", "outside the folders"),
    ("sqlite:///etc/passwd", "absolute path"),
    ("sqlite://", "absolute path"),
    ("sqlite:///:memory:", "absolute path"),
    ("duckdb:///relative.duckdb", "absolute path"),
    ("sqlite:///{data}/shop.sqlite?mode=rwc", "mode"),
    ("duckdb:///{data}/x.duckdb?allow_unsigned_extensions=true", "allow_unsigned_extensions"),
    ("sqlite:///{data}/missing.sqlite", "does not exist"),
    ("sqlite:///{data}/analytics.sqlite", "server's own files"),
    ("sqlite:///{data}/../data/analytics.sqlite", "server's own files"),
    ("sqlite:///{data}/../elsewhere.sqlite", "outside the folders"),
]


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_dangerous_urls_are_refused(policy, allowed, url, words):
    with pytest.raises(Invalid) as raised:
        check(policy, url.format(data=allowed))
    assert words in raised.value.message
    assert "p@" not in raised.value.message


def test_a_symlink_out_of_an_allowed_folder_is_refused(policy, allowed, tmp_path):
    outside = tmp_path / "outside.sqlite"
    sqlite3.connect(outside).close()
    (allowed / "link.sqlite").symlink_to(outside)
    with pytest.raises(Invalid, match="outside the folders"):
        check(policy, f"sqlite:///{allowed}/link.sqlite")


def test_file_databases_are_for_admins_only(policy, allowed):
    with pytest.raises(Forbidden):
        check(policy, f"sqlite:///{allowed}/shop.sqlite", admin=False)
    assert check(policy, f"sqlite:///{allowed}/shop.sqlite").database == str(
        (allowed / "shop.sqlite").resolve()
    )


def test_certificate_files_need_an_admin_and_an_allowed_folder(policy, allowed):
    (allowed / "ca.pem").write_text("x")
    url = f"postgresql+psycopg://u@127.0.0.1/db?sslrootcert={allowed}/ca.pem"
    with pytest.raises(Invalid, match="administrators only"):
        check(policy, url, admin=False)
    check(policy, url)
    check(policy, "postgresql+psycopg://u@127.0.0.1/db?sslrootcert=system", admin=False)


def test_unresolvable_hosts_are_refused_by_name():
    with pytest.raises(UnresolvableHost, match="cannot be resolved"):
        UrlPolicy().check(make_url("postgresql+psycopg://u@no-such-host.invalid/db"), is_admin=True)


def test_allowlist_admits_only_listed_hosts_and_networks():
    policy = UrlPolicy(host_allowlist=("127.0.0.0/8", "db.example.com"))
    policy.check(make_url("postgresql+psycopg://u@127.0.0.1/db"), is_admin=False)
    with pytest.raises(Invalid, match="allow-list"):
        policy.check(make_url("postgresql+psycopg://u@[::1]/db"), is_admin=False)


def test_denylist_checks_every_resolved_address():
    policy = UrlPolicy(host_denylist=("127.0.0.0/8",))
    with pytest.raises(Invalid, match="denied address"):
        policy.check(make_url("postgresql+psycopg://u@localhost/db"), is_admin=False)


def test_other_dialects_need_the_admin_to_allow_them_and_keep_the_option_denylist():
    policy = UrlPolicy(allowed_dialects=frozenset({"postgresql", "oracle"}))
    with pytest.raises(Invalid, match="init_command"):
        policy.check(make_url("oracle+oracledb://u@127.0.0.1/db?init_command=x"), is_admin=False)
    assert policy.check(
        make_url("oracle+oracledb://u@127.0.0.1/db?events=true"), is_admin=False
    ).query == {"events": "true"}


# -- connections are locked down too -----------------------------------------------------------


def test_sqlite_connections_cannot_write_attach_or_load_extensions(allowed, tmp_path):
    connection = open_sqlite_readonly(str(allowed / "shop.sqlite"))
    for statement in (
        "INSERT INTO t VALUES (1)",
        f"ATTACH DATABASE '{tmp_path}/other.sqlite' AS other",
        "SELECT load_extension('/tmp/evil')",
    ):
        with pytest.raises(sqlite3.DatabaseError):
            connection.execute(statement)
    assert not (tmp_path / "other.sqlite").exists()


def test_duckdb_connections_cannot_read_files_or_change_settings(tmp_path):
    path = tmp_path / "d.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    spec = SourceSpec(id="d" * 22, url=make_url(f"duckdb:///{path}"))
    engine = create_datasource_engine(spec)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 1
    for statement in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        "CREATE TABLE u (i INT)",
    ):
        with (
            engine.connect() as connection,
            pytest.raises(Exception, match=r"Permission|configuration|read-only|read only"),
        ):
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_driver_text_never_reaches_the_caller():
    class Driver(Exception):
        pass

    error = Driver('FATAL: password authentication failed for user "ada" host=10.0.0.1 pw=s3cret')
    category, message = classify_connection_error(error)
    assert category == "authentication_failed"
    assert "s3cret" not in message
    assert "10.0.0.1" not in message
    assert "ada" not in message


# -- statements ----------------------------------------------------------------------------------

STATEMENTS = [
    ("sqlite", "ATTACH DATABASE '/etc/x' AS x", "ATTACH"),
    ("sqlite", "select load_extension('/tmp/evil.so')", "load_extension"),
    ("sqlite", "PRAGMA writable_schema = 1", "PRAGMA"),
    ("duckdb", "SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("duckdb", "SELECT * FROM '/etc/passwd'", "files by name"),
    ("duckdb", "INSTALL httpfs", "INSTALL"),
    ("duckdb", "select 1; /* hidden */ ATTACH 'x.db' AS y", "ATTACH"),
    ("postgresql", "SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("postgresql", "COPY t TO PROGRAM 'id'", "COPY"),
    ("mysql", "SELECT LOAD_FILE('/etc/passwd')", "load_file"),
    ("mysql", "SELECT * FROM t INTO OUTFILE '/tmp/x'", "OUTFILE"),
]


@pytest.mark.parametrize(("dialect", "sql", "word"), STATEMENTS)
def test_statements_reaching_outside_the_database_are_named(dialect, sql, word):
    assert any(word in problem for problem in forbidden_statement_features(sql, dialect))


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("sqlite", "SELECT 'ATTACH', \"load_extension\" FROM t -- attach"),
        ("duckdb", 'SELECT * FROM "orders"'),
        ("postgresql", "SELECT nextval('s')"),
        ("mysql", "SELECT 'into outfile'"),
    ],
)
def test_words_inside_strings_comments_and_names_are_not_flagged(dialect, sql):
    assert forbidden_statement_features(sql, dialect) == []


def test_the_host_is_checked_again_at_every_new_connection():
    """A host that turns into a denied address after it was saved is refused at connect time."""
    from tests.support.services import require_service

    require_service("postgresql")
    spec = SourceSpec(id="p" * 22, url=make_url("postgresql+psycopg://postgres@localhost/postgres"))
    allowed = create_datasource_engine(spec, UrlPolicy())
    with allowed.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    allowed.dispose()
    denied = create_datasource_engine(spec, UrlPolicy(host_denylist=("127.0.0.0/8", "::1/128")))
    with pytest.raises(Invalid, match="denied address"):
        denied.connect()
    denied.dispose()

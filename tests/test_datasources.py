"""DatasourceService against real PostgreSQL, MariaDB, SQLite and DuckDB: definitions, secrets,
permissions for the engine, connection tests, read-only connections."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from analytics_ext.engine.connections import ConnectionCache
from analytics_ext.engine.urls import UrlPolicy
from analytics_ext.errors import Conflict, Forbidden, Invalid, NotFound
from analytics_ext.schemas.datasources import (
    MASK,
    ConnectionTest,
    DatasourceCreate,
    DatasourceListQuery,
    DatasourcePatch,
)
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.credentials import CredentialCipher
from analytics_ext.services.datasources import DatasourceService
from analytics_ext.services.schema_inspection import SchemaInspector
from analytics_ext.services.settings import SettingsService
from analytics_ext.services.sharing import SharingService
from analytics_ext.store import Database, upgrade_schema
from analytics_ext.store.models import ActivityEvent, User
from tests.support.datasources import (
    duckdb_file,
    mariadb_database,
    postgres_database,
    sqlite_file,
)

HERE = RequestOrigin("127.0.0.1")


@dataclass
class World:
    db: Database
    service: DatasourceService
    sharing: SharingService
    connections: ConnectionCache
    data: Path
    admin: str
    alice: str
    bob: str

    def create(self, user_id: str, name: str = "shop", **fields):
        return self.service.create(user_id, DatasourceCreate(name=name, **fields), HERE)

    def share(self, actor: str, object_id: str, user_id: str, level: str) -> None:
        body = GrantCreate(object_id=object_id, principal_id=user_id, level=level)
        self.sharing.grant(actor, "datasource", body, HERE)


def make_world(db: Database, folder: Path) -> World:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    policy = UrlPolicy(datasource_dirs=(data,), denied_paths=(folder / "secrets",))
    activity = ActivityLog()
    sharing = SharingService(db, activity)
    connections = ConnectionCache(policy)
    service = DatasourceService(
        db, activity, sharing, CredentialCipher(os.urandom(32)), policy, connections,
        SchemaInspector(), SettingsService(db, activity),
    )  # fmt: skip
    ids = {}
    with db.transaction() as tx:
        for name, admin in (("admin", True), ("alice", False), ("bob", False)):
            user = User(username=name, display_name=name.title(), is_admin=admin)
            tx.add(user)
            tx.flush()
            ids[name] = user.id
    return World(db, service, sharing, connections, data, **ids)


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    db = Database(sqlite_url)
    upgrade_schema(db)
    made = make_world(db, tmp_path)
    yield made
    made.connections.dispose_all()
    db.dispose()


@pytest.fixture(scope="module")
def pg_source() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def maria_source() -> Iterator[str]:
    with mariadb_database() as url:
        yield url


# -- definitions and secrets ---------------------------------------------------------------------


def test_created_datasource_masks_its_password_everywhere(world, pg_source):
    url = make_url(pg_source).set(password="pa55-word")
    out = world.create(world.alice, url=url.render_as_string(hide_password=False))
    assert out.has_password
    assert out.permission == "manage"
    assert MASK in out.url
    assert "pa55-word" not in out.model_dump_json()
    assert out.options.read_only is True
    assert out.options.row_limit == 100_000
    assert "pa55-word" not in world.service.get(world.alice, out.id).model_dump_json()
    spec = world.service.source_for(world.alice, out.id, "use")
    assert spec.url.password == "pa55-word"
    assert "pa55-word" not in repr(spec)


def test_definition_by_parts_and_separate_password(world, pg_source):
    parts = make_url(pg_source)
    out = world.create(
        world.alice, drivername="postgresql+psycopg", host=parts.host, port=parts.port,
        database=parts.database, username="postgres", password="x-secret",
    )  # fmt: skip
    assert out.host == "127.0.0.1"
    assert out.database == parts.database
    assert out.has_password
    with pytest.raises(Invalid, match="already carries a password"):
        world.create(world.alice, name="b", url=f"{pg_source}".replace("postgres@", "u:p@"),
                     password="again")  # fmt: skip


def test_names_are_unique_per_owner(world, pg_source):
    world.create(world.alice, url=pg_source)
    with pytest.raises(Conflict):
        world.create(world.alice, url=pg_source)
    world.create(world.bob, url=pg_source)  # another owner may use the name


def test_patch_with_the_mask_keeps_the_secret_but_not_for_a_new_host(world, pg_source):
    url = make_url(pg_source).set(password="keep-me")
    out = world.create(world.alice, url=url.render_as_string(hide_password=False))
    shown = world.service.get(world.alice, out.id).url
    patched = world.service.update(world.alice, out.id, DatasourcePatch(url=shown), HERE)
    assert world.service.source_for(world.alice, out.id).url.password == "keep-me"
    assert patched.revision == out.revision + 1
    world.service.update(world.alice, out.id, DatasourcePatch(password=MASK, port=5432), HERE)
    assert world.service.source_for(world.alice, out.id).url.password == "keep-me"
    for patch in (
        DatasourcePatch(url=shown.replace("127.0.0.1", "localhost")),
        DatasourcePatch(host="localhost"),
        DatasourcePatch(host="localhost", password=MASK),
        DatasourcePatch(username="someone_else"),
    ):
        with pytest.raises(Invalid, match="password again"):
            world.service.update(world.alice, out.id, patch, HERE)
    world.service.update(
        world.alice, out.id, DatasourcePatch(host="localhost", password="new"), HERE
    )
    assert world.service.source_for(world.alice, out.id).url.password == "new"


def test_patching_only_the_name_or_options(world, pg_source):
    out = world.create(world.alice, url=pg_source)
    renamed = world.service.update(world.alice, out.id, DatasourcePatch(name="renamed"), HERE)
    assert renamed.name == "renamed"
    assert renamed.revision == out.revision
    tuned = world.service.update(
        world.alice, out.id, DatasourcePatch.model_validate({"options": {"row_limit": 5}}), HERE
    )
    assert tuned.options.row_limit == 5
    assert tuned.options.read_only is True
    assert tuned.revision == out.revision + 1
    assert world.service.source_for(world.alice, out.id).row_limit == 5


def test_activity_is_recorded_for_create_update_share_delete(world, pg_source):
    out = world.create(world.alice, url=pg_source)
    world.service.update(world.alice, out.id, DatasourcePatch(name="n2"), HERE)
    world.share(world.alice, out.id, world.bob, "view")
    world.service.delete(world.alice, out.id, HERE)
    with world.db.transaction() as tx:
        types = tx.scalars(
            select(ActivityEvent.type)
            .where(ActivityEvent.target_id == out.id)
            .order_by(ActivityEvent.created_at)
        ).all()
    assert types == [
        "datasource.created", "datasource.updated", "datasource.shared", "datasource.deleted",
    ]  # fmt: skip
    with pytest.raises(NotFound):
        world.service.get(world.bob, out.id)


def test_no_store_column_holds_a_plaintext_password(db: Database, tmp_path, pg_source):
    """Every column of every table of the store (SQLite and PostgreSQL), scanned as text."""
    made = make_world(db, tmp_path)
    secret = f"plain-{uuid.uuid4().hex}"
    url = make_url(pg_source).set(password=secret).render_as_string(hide_password=False)
    out = made.create(made.alice, url=url)
    made.service.update(made.alice, out.id, DatasourcePatch(url=url.replace("/ds_", "/x_")), HERE)
    made.service.test_connection(made.alice, ConnectionTest(datasource_id=out.id))
    with db.engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        assert {"datasources", "activity_events", "object_grants"} <= set(tables)
        for table in tables:
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert secret.encode() not in raw, table
    made.connections.dispose_all()


# -- permissions for the engine ------------------------------------------------------------------


def test_source_for_answers_not_found_then_forbidden_by_level(world, pg_source):
    out = world.create(world.alice, url=pg_source)
    with pytest.raises(NotFound, match="datasource not found"):
        world.service.source_for(world.bob, out.id, "view")
    world.share(world.alice, out.id, world.bob, "view")
    assert world.service.source_for(world.bob, out.id, "view").id == out.id
    with pytest.raises(Forbidden):
        world.service.source_for(world.bob, out.id, "use")
    world.share(world.alice, out.id, world.bob, "use")
    assert world.service.source_for(world.bob, out.id, "use").read_only is True
    assert world.service.source_for(world.admin, out.id, "manage").id == out.id
    with pytest.raises(NotFound):
        world.service.source_for(world.bob, "A" * 22, "view")


def test_list_shows_only_visible_datasources_with_the_callers_level(world, pg_source):
    mine = world.create(world.alice, "a", url=pg_source)
    world.create(world.alice, "b", url=pg_source)
    world.share(world.alice, mine.id, world.bob, "use")
    page = world.service.list(world.bob, DatasourceListQuery())
    assert [(d.name, d.permission) for d in page.items] == [("a", "use")]
    assert page.total == 1
    first = world.service.list(world.admin, DatasourceListQuery(limit=1))
    assert first.total == 2
    assert first.next
    second = world.service.list(world.admin, DatasourceListQuery(limit=1, cursor=first.next))
    assert [first.items[0].name, second.items[0].name] == ["a", "b"]
    assert second.next is None


# -- files ---------------------------------------------------------------------------------------


def test_file_datasources_are_admin_only_and_inside_allowed_folders(world, tmp_path):
    shop = sqlite_file(world.data)
    with pytest.raises(Forbidden):
        world.create(world.alice, url=f"sqlite:///{shop}")
    out = world.create(world.admin, url=f"sqlite:///{shop}")
    assert out.dialect == "sqlite"
    outside = sqlite_file(tmp_path, "outside.sqlite")
    with pytest.raises(Invalid, match="outside the folders"):
        world.create(world.admin, "x", url=f"sqlite:///{outside}")
    world.share(world.admin, out.id, world.alice, "manage")
    with pytest.raises(Forbidden):  # a manager who is not an admin cannot repoint it at a file
        world.service.update(world.alice, out.id, DatasourcePatch(url=f"sqlite:///{outside}"), HERE)


@pytest.mark.parametrize("maker", [sqlite_file, duckdb_file])
def test_file_databases_are_opened_read_only(world, maker):
    path = maker(world.data)
    out = world.create(world.admin, url=f"{path.suffix[1:]}:///{path}")
    engine = world.connections.engine_for(world.service.source_for(world.admin, out.id))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM customers")).scalar() == 2
    with engine.connect() as connection, pytest.raises(Exception, match=r"read.only|readonly"):
        connection.execute(text("INSERT INTO customers VALUES (3, 'Eve', NULL)"))
    assert world.service.test_connection(world.admin, ConnectionTest(datasource_id=out.id)).ok


def test_network_connections_are_read_only(world, pg_source, maria_source):
    for url in (pg_source, maria_source):
        out = world.create(world.alice, url.rsplit("/", 1)[-1][:20] + url[-4:], url=url)
        engine = world.connections.engine_for(world.service.source_for(world.alice, out.id))
        with engine.begin() as connection, pytest.raises(Exception, match=r"read.only|READ ONLY"):
            connection.execute(text("INSERT INTO customers VALUES (3, 'Eve', NULL)"))


# -- connection tests ----------------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _test(world: World, url: str, **options) -> object:
    body = {"definition": {"url": url}}
    if options:
        body["options"] = options
    return world.service.test_connection(world.alice, ConnectionTest.model_validate(body))


def test_connection_success_reports_version_and_latency(world, pg_source, maria_source):
    for url, version in ((pg_source, "1"), (maria_source, "MariaDB")):
        result = _test(world, url)
        assert result.ok
        assert version in result.server_version
        assert result.latency_ms > 0


def test_connection_failures_are_categorised_without_echoing_anything(
    world, pg_source, maria_source, silent_port, closed_port
):
    pg, maria = make_url(pg_source), make_url(maria_source)
    cases = [
        (pg.set(username="no_such_role", password="s3cret-pw"), "authentication_failed"),
        (maria.set(password="s3cret-pw"), "authentication_failed"),
        (pg.set(database="no_such_db_s3cret"), "database_missing"),
        (maria.set(database="no_such_db_s3cret"), "database_missing"),
        (pg.set(port=closed_port, password="s3cret-pw"), "host_unreachable"),
        (maria.set(port=closed_port), "host_unreachable"),
        (pg.set(port=silent_port, password="s3cret-pw"), "timeout"),
        (maria.set(port=silent_port), "timeout"),
        (pg.set(drivername="postgresql+pg8000", password="s3cret-pw"), "driver_missing"),
        (pg.set(host="no-such-host.invalid"), "host_unreachable"),
    ]
    for url, category in cases:
        started = time.perf_counter()
        result = _test(world, url.render_as_string(hide_password=False), connect_timeout_seconds=1)
        assert (result.ok, result.category) == (False, category), url
        # a hung server holds the worker no longer than the connect timeout (libpq's minimum: 2 s)
        assert time.perf_counter() - started < 3.5, url
        text_shown = result.model_dump_json()
        for leak in ("s3cret", "no_such", str(url.port), "127.0.0.1"):
            assert leak not in text_shown, (leak, text_shown)


def test_connection_test_of_a_saved_datasource_needs_use(world, pg_source):
    out = world.create(world.alice, url=pg_source)
    with pytest.raises(NotFound):
        world.service.test_connection(world.bob, ConnectionTest(datasource_id=out.id))
    world.share(world.alice, out.id, world.bob, "view")
    with pytest.raises(Forbidden):
        world.service.test_connection(world.bob, ConnectionTest(datasource_id=out.id))
    world.share(world.alice, out.id, world.bob, "use")
    assert world.service.test_connection(world.bob, ConnectionTest(datasource_id=out.id)).ok


def test_connection_test_with_unsaved_changes_keeps_the_masked_secret(world, maria_source):
    out = world.create(world.alice, url=maria_source.replace("root@", "root:wrong@"))
    body = ConnectionTest.model_validate({"datasource_id": out.id, "definition": {"password": ""}})
    assert world.service.test_connection(world.alice, body).ok
    masked = ConnectionTest.model_validate(
        {"datasource_id": out.id, "definition": {"password": MASK}}
    )
    assert world.service.test_connection(world.alice, masked).category == "authentication_failed"
    moved = ConnectionTest.model_validate({"datasource_id": out.id, "definition": {"port": 3307}})
    with pytest.raises(Invalid, match="password again"):
        world.service.test_connection(world.alice, moved)


def test_bad_definitions_are_refused_before_connecting(world):
    for url, words in (
        ("postgresql+psycopg://u@169.254.169.254/db", "denied"),
        ("postgresql+psycopg://u@127.0.0.1/db?passfile=/root/.pgpass", "passfile"),
        ("not a url", "SQLAlchemy URL"),
    ):
        with pytest.raises(Invalid, match=words):
            _test(world, url)
    with pytest.raises(Forbidden):
        _test(world, f"sqlite:///{sqlite_file(world.data)}")

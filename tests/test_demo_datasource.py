"""The owner's "demo" datasource: registered at start on the demo DuckDB file, once per store,
never duplicated (also when processes race), left alone once deleted or renamed, read-only."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import func, select
from traitlets.config import Config

from analytics_ext.demo import write_demo_data
from analytics_ext.engine.connections import ConnectionCache
from analytics_ext.engine.urls import UrlPolicy
from analytics_ext.schemas.datasources import DatasourceCreate, DatasourcePatch
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.credentials import CredentialCipher
from analytics_ext.services.datasources import DatasourceService
from analytics_ext.services.demo_datasource import (
    DEMO_DUCKDB_FILE,
    REGISTERED_EVENT,
    DemoDatasourceService,
    DemoOutcome,
)
from analytics_ext.services.schema_inspection import SchemaInspector
from analytics_ext.services.settings import SettingsService
from analytics_ext.services.sharing import SharingService
from analytics_ext.services.users import UserService
from analytics_ext.store import Database, upgrade_schema
from analytics_ext.store.models import ActivityEvent, Datasource
from tests.support.query_library import ended

OWNER = "ada"
HERE = RequestOrigin("127.0.0.1")
KEY = os.urandom(32)


def demo_service(db: Database, demo_dir: Path, *, dirs: tuple[Path, ...] | None = None):
    """The service as ``Services.create`` wires it, over ``db`` (one per simulated process)."""
    policy = UrlPolicy(datasource_dirs=dirs if dirs is not None else (demo_dir,))
    activity = ActivityLog()
    sharing = SharingService(db, activity)
    datasources = DatasourceService(
        db, activity, sharing, CredentialCipher(KEY), policy, ConnectionCache(policy),
        SchemaInspector(), SettingsService(db, activity),
    )  # fmt: skip
    users = UserService(db, activity)
    return DemoDatasourceService(db, activity, users, datasources), datasources, users


def small_duckdb(folder: Path) -> Path:
    """A DuckDB file where the demo file goes (the service cares about the path, not rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(folder / DEMO_DUCKDB_FILE))
    connection.execute("CREATE TABLE stores (store_id INTEGER, region VARCHAR)")
    connection.execute("INSERT INTO stores VALUES (1, 'EMEA'), (2, 'APAC')")
    connection.close()
    return folder / DEMO_DUCKDB_FILE


def demo_rows(db: Database) -> list[Datasource]:
    with db.transaction() as tx:
        return list(tx.scalars(select(Datasource).order_by(Datasource.created_at)))


def markers(db: Database) -> int:
    with db.transaction() as tx:
        query = select(func.count()).where(ActivityEvent.type == REGISTERED_EVENT)
        return tx.scalar(query.select_from(ActivityEvent)) or 0


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    small_duckdb(tmp_path / "demo")
    return tmp_path / "demo"


# -- the service, on SQLite and PostgreSQL stores -------------------------------------------------


def test_creates_a_read_only_demo_datasource_for_the_owner_once(db, demo_dir):
    service, datasources, users = demo_service(db, demo_dir)
    first = service.ensure(OWNER, demo_dir)
    assert first.outcome is DemoOutcome.CREATED
    owner = users.ensure_owner(OWNER, OWNER)
    out = datasources.get(owner.id, first.datasource_id)
    assert (out.name, out.dialect, out.options.read_only) == ("demo", "duckdb", True)
    assert out.url == f"duckdb:///{(demo_dir / DEMO_DUCKDB_FILE).resolve()}"
    # Idempotent: later starts change nothing.
    assert service.ensure(OWNER, demo_dir).outcome is DemoOutcome.ALREADY_REGISTERED
    assert [row.id for row in demo_rows(db)] == [first.datasource_id]
    assert markers(db) == 1


def test_a_deleted_or_renamed_demo_datasource_is_left_alone(db, demo_dir, tmp_path):
    service, datasources, users = demo_service(db, demo_dir)
    created = service.ensure(OWNER, demo_dir)
    owner_id = users.ensure_owner(OWNER, OWNER).id
    datasources.update(owner_id, created.datasource_id, DatasourcePatch(name="retail"), HERE)
    assert service.ensure(OWNER, demo_dir).outcome is DemoOutcome.ALREADY_REGISTERED
    assert [row.name for row in demo_rows(db)] == ["retail"]
    datasources.delete(owner_id, created.datasource_id, HERE)
    # A restart in another process (fresh caches) does not bring it back either.
    again, _, _ = demo_service(db, demo_dir)
    assert again.ensure(OWNER, demo_dir).outcome is DemoOutcome.ALREADY_REGISTERED
    assert demo_rows(db) == []


def test_an_own_demo_datasource_on_another_database_is_not_touched(db, demo_dir, tmp_path):
    service, datasources, users = demo_service(db, demo_dir, dirs=(demo_dir, tmp_path / "mine"))
    owner_id = users.ensure_owner(OWNER, OWNER).id
    mine = small_duckdb(tmp_path / "mine")
    own = datasources.create(owner_id, DatasourceCreate(name="demo", url=f"duckdb:///{mine}"), HERE)
    result = service.ensure(OWNER, demo_dir)
    assert (result.outcome, result.datasource_id) == (DemoOutcome.NAME_TAKEN, own.id)
    assert [(row.id, row.url) for row in demo_rows(db)] == [(own.id, f"duckdb:///{mine}")]
    assert markers(db) == 0


def test_a_hand_made_demo_datasource_on_the_demo_file_is_adopted(db, demo_dir):
    service, datasources, users = demo_service(db, demo_dir)
    owner_id = users.ensure_owner(OWNER, OWNER).id
    path = demo_dir / DEMO_DUCKDB_FILE
    own = datasources.create(owner_id, DatasourceCreate(name="demo", url=f"duckdb:///{path}"), HERE)
    result = service.ensure(OWNER, demo_dir)
    assert (result.outcome, result.datasource_id) == (DemoOutcome.ADOPTED, own.id)
    assert markers(db) == 1
    assert len(demo_rows(db)) == 1


def test_nothing_without_the_demo_file_and_it_comes_at_a_later_start(db, tmp_path):
    folder = tmp_path / "later"
    service, _, _ = demo_service(db, folder)
    assert service.ensure(OWNER, folder).outcome is DemoOutcome.NO_FILE
    assert demo_rows(db) == []
    assert markers(db) == 0
    small_duckdb(folder)
    assert service.ensure(OWNER, folder).outcome is DemoOutcome.CREATED


def test_a_policy_that_refuses_the_folder_wins(db, demo_dir):
    service, _, _ = demo_service(db, demo_dir, dirs=())  # datasource_dirs = []: no files at all
    result = service.ensure(OWNER, demo_dir)
    assert result.outcome is DemoOutcome.REFUSED
    assert "url" in result.detail
    assert demo_rows(db) == []
    assert markers(db) == 0


def test_without_an_owner_name_only_an_existing_owner_gets_it(db, demo_dir):
    service, _, users = demo_service(db, demo_dir)
    assert service.ensure(None, demo_dir).outcome is DemoOutcome.NO_OWNER
    users.ensure_owner(OWNER, OWNER)
    assert service.ensure(None, demo_dir).outcome is DemoOutcome.CREATED


def test_processes_starting_together_register_one_datasource(store_url, demo_dir):
    """Eight "processes" (own store connections and services) on one store at once."""
    databases = [Database(store_url) for _ in range(8)]
    upgrade_schema(databases[0])
    services = [demo_service(database, demo_dir)[0] for database in databases]
    services[0]._users.ensure_owner(OWNER, OWNER)  # the owner exists, as after a first start
    barrier = threading.Barrier(len(services))
    outcomes: list[DemoOutcome] = []
    errors: list[BaseException] = []

    def start(service: DemoDatasourceService) -> None:
        barrier.wait()
        try:
            outcomes.append(service.ensure(OWNER, demo_dir).outcome)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert outcomes.count(DemoOutcome.CREATED) == 1, outcomes
        assert set(outcomes) <= {
            DemoOutcome.CREATED, DemoOutcome.ADOPTED, DemoOutcome.ALREADY_REGISTERED,
        }  # fmt: skip
        assert [row.name for row in demo_rows(databases[0])] == ["demo"]
        assert markers(databases[0]) >= 1
    finally:
        for database in databases:
            database.dispose()


# -- the server: registered at start, before the first request ------------------------------------


@pytest.fixture(scope="module")
def retail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("retail")
    write_demo_data(path, scale=0.01, formats=["duckdb"])
    return path


@pytest.fixture
def jp_server_config(jp_server_config: Config, retail_dir: Path) -> Config:
    jp_server_config.AnalyticsExtension.demo_data_dir = str(retail_dir)
    return jp_server_config


async def test_the_server_registers_demo_and_queries_run_on_it_read_only(api, retail_dir):
    listed = (await api.get("/api/datasources"))["items"]
    assert [(d["name"], d["dialect"], d["permission"]) for d in listed] == [
        ("demo", "duckdb", "manage")
    ]
    demo_id = listed[0]["id"]
    expected = duckdb.connect(str(retail_dir / DEMO_DUCKDB_FILE), read_only=True)
    try:
        (count,) = expected.execute(
            "SELECT count(*) FROM stores WHERE country = 'Germany'"
        ).fetchone()
    finally:
        expected.close()
    body = {"datasource_id": demo_id, "sql": "SELECT count(*) AS n FROM stores WHERE country = :r",
            "parameters": {"r": "Germany"}}  # fmt: skip
    run = await ended(api, (await api.post("/api/query/run", body, expect=202))["id"])
    assert run["state"] == "succeeded", run
    page = await api.get(f"/api/query/runs/{run['id']}/result?format=json")
    assert count > 0
    assert page["rows"] == [{"n": count}]
    write = {"datasource_id": demo_id, "sql": "DELETE FROM stores"}
    reply = await api.request("POST", "/api/query/run", write)
    if reply.status == 202:  # refused when it runs rather than when it is submitted
        reply.body = await ended(api, reply.body["id"])
        assert reply.body["state"] == "failed"
    else:
        assert reply.status == 422


@pytest.fixture
def no_demo(jp_server_config: Config) -> Config:
    jp_server_config.AnalyticsExtension.demo_datasource = False
    return jp_server_config


async def test_the_trait_turns_it_off(no_demo, api):
    assert (await api.get("/api/datasources"))["items"] == []


async def test_schema_preview_and_queries_share_the_demo_file(api):
    """Schema look-ups and previews (SQLAlchemy) and queries (DuckDB natively) open the same
    file in one server process: DuckDB refuses a second connection with other settings, so
    both must open it alike (a query after browsing the schema once failed that way)."""
    demo_id = (await api.get("/api/datasources"))["items"][0]["id"]
    schema = await api.get(f"/api/datasources/schema?datasource_id={demo_id}")
    assert "order_lines" in {item["name"] for item in schema["items"]}
    preview = await api.get(
        f"/api/datasources/preview?datasource_id={demo_id}&table=stores&limit=2"
    )
    assert len(preview["rows"]) == 2
    body = {"datasource_id": demo_id, "sql": "SELECT count(*) AS n FROM order_lines"}
    run = await ended(api, (await api.post("/api/query/run", body, expect=202))["id"])
    assert run["state"] == "succeeded", run
    again = await api.get(f"/api/datasources/preview?datasource_id={demo_id}&table=orders&limit=1")
    assert len(again["rows"]) == 1

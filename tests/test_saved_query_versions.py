"""Saved-query versions at the service level, on both store backends: every change appends a
version, a save that changes nothing appends none, restoring appends a copy (history is never
rewritten), diffs per field with unified text, stale and simultaneous saves are 409; and a query
outliving its datasource."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from analytics_ext.engine.runs import QueryEngine
from analytics_ext.errors import Conflict, Forbidden, Invalid, NotFound
from analytics_ext.schemas.saved_queries import (
    SavedQueryCreate,
    SavedQueryPatch,
    VersionListQuery,
)
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import ActivityLog
from analytics_ext.services.favorites import FavoriteService
from analytics_ext.services.queries import QueryService
from analytics_ext.services.saved_queries import SavedQueryService
from analytics_ext.services.saved_query_versions import SavedQueryVersions
from analytics_ext.services.settings import SettingsService
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, SavedQueryVersion
from tests.support.datasources import sqlite_file
from tests.test_datasources import HERE, World, make_world

SQL_V1 = "SELECT id, name\nFROM customers\nWHERE id >= :first\nORDER BY id"
FIRST = {"name": "first", "type": "number", "integer": True, "default": 1}


@dataclass
class Library:
    world: World
    queries: SavedQueryService
    versions: SavedQueryVersions
    favorites: FavoriteService
    datasource: str

    def create(self, user_id: str, **fields) -> str:
        body = {"name": "customers", "datasource_id": self.datasource, "sql": SQL_V1}
        body["parameters"] = [FIRST]
        body.update(fields)
        return self.queries.create(user_id, SavedQueryCreate.model_validate(body), HERE).id

    def patch(self, user_id: str, query_id: str, **fields):
        return self.queries.update(user_id, query_id, SavedQueryPatch.model_validate(fields), HERE)

    def listed(self, user_id: str, query_id: str, limit: int = 50) -> list[int]:
        page = self.versions.list(user_id, query_id, VersionListQuery(limit=limit))
        return [item.version for item in page.items]


@contextmanager
def library(db: Database, folder: Path) -> Iterator[Library]:
    """The saved-query services on ``db``, alice holding ``use`` on the admin's SQLite shop."""
    world = make_world(db, folder)
    shop = sqlite_file(world.data)
    source = world.create(world.admin, url=f"sqlite:///{shop}").id
    world.share(world.admin, source, world.alice, "use")
    activity = ActivityLog()
    executor = ThreadPoolExecutor(max_workers=2)
    queries = QueryService(
        db, world.service, QueryEngine(workers=1), executor.submit, SettingsService(db, activity)
    )
    sharing = world.sharing
    favorites = FavoriteService(db, activity, sharing)
    saved = SavedQueryService(db, activity, sharing, world.service, queries, favorites)
    try:
        yield Library(world, saved, SavedQueryVersions(db, sharing), favorites, source)
    finally:
        queries.close()
        executor.shutdown(wait=True)
        world.connections.dispose_all()


@pytest.fixture
def lib(db: Database, tmp_path: Path) -> Iterator[Library]:
    """Runs on both store backends (SQLite and PostgreSQL)."""
    with library(db, tmp_path) as made:
        yield made


def test_restoring_v1_appends_v3_equal_to_v1_and_keeps_v1_and_v2(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice, description="all customers", tags=["crm"])
    lib.patch(alice, query_id, sql=SQL_V1.replace("ORDER BY id", "ORDER BY name"), tags=["x"])
    assert lib.listed(alice, query_id) == [2, 1]

    restored = lib.queries.restore(alice, query_id, 1, HERE)

    assert restored.version == 3
    assert lib.listed(alice, query_id) == [3, 2, 1]
    v1, v3 = (lib.versions.get(alice, query_id, n) for n in (1, 3))
    editable = ("name", "description", "datasource_id", "sql", "parameters", "tags")
    assert {f: getattr(v3, f) for f in editable} == {f: getattr(v1, f) for f in editable}
    assert (v3.restored_from, v1.restored_from) == (1, None)
    assert (restored.sql, restored.tags) == (SQL_V1, ["crm"])
    assert lib.versions.get(alice, query_id, 2).sql.endswith("ORDER BY name")
    summary = lib.versions.list(alice, query_id, VersionListQuery()).items
    assert [item.changed for item in summary] == [
        ["sql", "tags"],
        ["sql", "tags"],
        ["name", "description", "datasource_id", "sql", "parameters", "tags"],
    ]
    assert summary[0].author_name == "alice"
    with lib.world.db.transaction() as tx:
        types = tx.scalars(
            select(ActivityEvent.type)
            .where(ActivityEvent.target_id == query_id)
            .order_by(ActivityEvent.created_at)
        ).all()
    assert types == ["query.created", "query.updated", "query.restored"]


def test_a_save_that_changes_nothing_appends_no_version(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice, tags=["a", "b", "a"])
    same = lib.patch(alice, query_id, sql=SQL_V1, tags=["a", "b"], parameters=[FIRST])
    assert same.version == 1
    assert same.tags == ["a", "b"]
    assert lib.listed(alice, query_id) == [1]


def test_a_stale_base_version_is_a_conflict(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice)
    lib.patch(alice, query_id, name="first edit", base_version=1)
    with pytest.raises(Conflict, match="version 2, not 1"):
        lib.patch(alice, query_id, name="lost edit", base_version=1)
    assert lib.queries.get(alice, query_id).name == "first edit"
    assert lib.patch(alice, query_id, name="second edit", base_version=2).version == 3


def test_a_simultaneous_save_of_the_same_version_is_a_conflict(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice)
    with lib.world.db.transaction() as tx:  # another save's version 2, committed meanwhile
        tx.add(SavedQueryVersion(query_id=query_id, version=2, name="other", sql="SELECT 1"))
    with pytest.raises(Conflict, match="same moment"):
        lib.patch(alice, query_id, name="mine")
    assert lib.queries.get(alice, query_id).name == "customers"


def test_diff_is_per_field_with_unified_text_for_sql(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice)
    lib.patch(alice, query_id, sql=SQL_V1.replace(">= :first", "> :first"))
    lib.patch(alice, query_id, name="renamed")

    diff = lib.versions.diff(alice, query_id, 2, None)
    assert (diff.version, diff.against) == (2, 1)
    assert [change.field for change in diff.changes] == ["sql"]
    text = diff.changes[0].unified_diff
    assert "--- version 1\n+++ version 2" in text
    assert "-WHERE id >= :first\n+WHERE id > :first" in text

    three_vs_one = lib.versions.diff(alice, query_id, 3, 1)
    assert [change.field for change in three_vs_one.changes] == ["name", "sql"]
    name = three_vs_one.changes[0]
    assert (name.before, name.after, name.unified_diff) == ("customers", "renamed", None)

    first = lib.versions.diff(alice, query_id, 1, None)
    assert first.against is None
    assert {change.field for change in first.changes} >= {"name", "sql", "parameters"}
    with pytest.raises(NotFound, match="version 9"):
        lib.versions.diff(alice, query_id, 3, 9)


def test_versions_page_newest_first(lib: Library) -> None:
    alice = lib.world.alice
    query_id = lib.create(alice)
    for n in range(4):
        lib.patch(alice, query_id, name=f"name {n}")
    first = lib.versions.list(alice, query_id, VersionListQuery(limit=2))
    assert [item.version for item in first.items] == [5, 4]
    assert first.items[1].changed == ["name"]
    second = lib.versions.list(alice, query_id, VersionListQuery(limit=2, cursor=first.next))
    third = lib.versions.list(alice, query_id, VersionListQuery(limit=2, cursor=second.next))
    assert [item.version for item in second.items + third.items] == [3, 2, 1]
    assert third.next is None
    with pytest.raises(Invalid, match="cursor"):
        lib.versions.list(alice, query_id, VersionListQuery(cursor="²"))


def test_versions_are_as_private_as_the_query(lib: Library) -> None:
    alice, bob = lib.world.alice, lib.world.bob
    query_id = lib.create(alice)
    for read in (
        lambda: lib.versions.list(bob, query_id, VersionListQuery()),
        lambda: lib.versions.get(bob, query_id, 1),
        lambda: lib.versions.diff(bob, query_id, 1, None),
        lambda: lib.queries.restore(bob, query_id, 1, HERE),
    ):
        with pytest.raises(NotFound, match="query not found"):
            read()
    with pytest.raises(NotFound, match="version 2"):
        lib.versions.get(alice, query_id, 2)


def test_restore_is_checked_like_a_save(lib: Library) -> None:
    """Restoring an old statement puts it back in front of the owner's authority, so it needs
    ``edit`` and, when it changes the SQL, the restorer's own ``use`` on the datasource."""
    world = lib.world
    alice, bob = world.alice, world.bob
    query_id = lib.create(alice)
    lib.patch(alice, query_id, sql="SELECT count(*) AS n FROM customers", parameters=[])
    share = {"object_id": query_id, "principal_id": bob}
    world.sharing.grant(alice, "query", GrantCreate(**share, level="view"), HERE)
    with pytest.raises(Forbidden, match="'edit'"):
        lib.queries.restore(bob, query_id, 1, HERE)
    world.sharing.grant(alice, "query", GrantCreate(**share, level="edit"), HERE)
    with pytest.raises(NotFound, match="datasource not found"):  # bob cannot see the source
        lib.queries.restore(bob, query_id, 1, HERE)
    assert lib.patch(bob, query_id, description="bob was here").version == 3  # no SQL change
    world.share(world.admin, lib.datasource, bob, "use")
    assert lib.queries.restore(bob, query_id, 1, HERE).sql == SQL_V1


def test_a_query_whose_datasource_was_deleted(lib: Library) -> None:
    """The query stays (``datasource_id`` null): it cannot run, metadata can still change, and
    changing what runs needs a datasource again."""
    world, alice = lib.world, lib.world.alice
    query_id = lib.create(alice)
    world.service.delete(world.admin, lib.datasource, HERE)
    assert lib.queries.get(alice, query_id).datasource_id is None
    with pytest.raises(Conflict, match="datasource was deleted"):
        lib.queries.run_as_viewer(alice, query_id, {})
    assert lib.patch(alice, query_id, tags=["orphan"]).version == 2
    with pytest.raises(Invalid, match="datasource_id: the query's datasource was deleted"):
        lib.patch(alice, query_id, sql="SELECT 2 AS two", parameters=[])
    other = sqlite_file(world.data, "other.sqlite")
    moved = world.create(world.admin, name="other", url=f"sqlite:///{other}").id
    world.share(world.admin, moved, alice, "use")
    assert lib.patch(alice, query_id, datasource_id=moved).datasource_id == moved
    run = lib.queries.run_as_viewer(alice, query_id, {"first": 2})
    assert run.future.result(timeout=30).result.to_table().column("name").to_pylist() == ["Grace"]

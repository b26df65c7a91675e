"""Saved queries over HTTP on a team server, against a real PostgreSQL datasource: CRUD and
lists, who may see, edit, delete and run what (owner, editor, viewer, stranger), runs with
typed parameters bound by the driver, and every kind of bad input answered 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from analytics_ext.schemas.saved_queries import SavedQueryListQuery
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import RequestOrigin
from analytics_ext.store import Database
from analytics_ext.store.models import (
    Chart,
    Favorite,
    ObjectGrant,
    SavedQuery,
    SavedQueryVersion,
)
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import ended, make_datasource, save_query
from tests.test_saved_query_versions import Library, library

pytestmark = pytest.mark.timeout(120)
HERE = RequestOrigin("127.0.0.1")
BY_ID = "SELECT id, name FROM customers WHERE id >= :first ORDER BY id"
FIRST = {"name": "first", "type": "number", "integer": True, "default": 1}


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@dataclass
class Team:
    owner: ApiClient
    """The server owner (an admin): owns the datasource."""
    alice: ApiClient
    """Holds ``use`` on the datasource; owns the queries."""
    bob: ApiClient
    """Holds nothing on the datasource."""
    ids: dict[str, str]
    source: str
    services: Any

    def grant(self, actor: str, kind: str, object_id: str, user: str, level: str) -> None:
        body = GrantCreate(object_id=object_id, principal_id=self.ids[user], level=level)
        self.services.sharing.grant(self.ids[actor], kind, body, HERE)

    def count(self, model: Any, *where: Any) -> int:
        with self.services.db.transaction() as tx:
            return tx.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def make_team(api, create_account, login, server_services, shop_url):
    """The owner's datasource, alice (who may use it) and bob (who may not)."""

    async def make() -> Team:
        source = await make_datasource(api, shop_url)
        ids = {"owner": (await api.get("/api/user"))["id"]}
        for name in ("alice", "bob"):
            ids[name] = (await create_account(name)).id
        made = Team(api, await login("alice"), await login("bob"), ids, source, server_services)
        made.grant("owner", "datasource", source, "alice", "use")
        return made

    return make


async def rows_of(client: ApiClient, run: dict[str, Any]) -> list[dict[str, Any]]:
    finished = await ended(client, run["id"])
    assert finished["state"] == "succeeded", finished
    return (await client.get(f"/api/query/runs/{run['id']}/result"))["rows"]


# -- definitions ---------------------------------------------------------------------------------


async def test_create_read_list_patch_delete(make_team) -> None:
    team: Team = await make_team()
    markup = "<script>alert('x')</script> & <b>revenue</b>"
    query = await save_query(
        team.alice, team.source, BY_ID, name=markup, description="**all** <i>customers</i>",
        parameters=[FIRST], tags=["crm", "weekly", "crm"],
    )  # fmt: skip
    assert query["name"] == markup  # stored and returned as text, unchanged
    assert query["tags"] == ["crm", "weekly"]
    assert (query["version"], query["permission"], query["owner_name"]) == (1, "manage", "alice")
    assert query["parameters"][0]["default"] == 1
    assert await team.alice.get(f"/api/query/{query['id']}") == query

    other = await save_query(team.alice, team.source, "SELECT 1 AS one", name="Plain one")
    listed = await team.alice.get("/api/query")
    assert [item["id"] for item in listed["items"]] == [query["id"], other["id"]]
    assert listed["total"] == 2
    assert [i["id"] for i in (await team.alice.get("/api/query?q=PLAIN"))["items"]] == [other["id"]]
    assert [i["id"] for i in (await team.alice.get("/api/query?tag=crm"))["items"]] == [query["id"]]
    assert (await team.alice.get("/api/query?tag=cr"))["items"] == []
    assert (await team.alice.get("/api/query?q=%25"))["items"] == []  # % is text, not a wildcard
    page = await team.alice.get("/api/query?limit=1")
    assert page["next"] is not None
    rest = await team.alice.get(f"/api/query?limit=1&cursor={page['next']}")
    assert [item["id"] for item in rest["items"]] == [other["id"]]
    by_source = await team.alice.get(f"/api/query?datasource_id={team.source}")
    assert by_source["total"] == 2

    patched = await team.alice.patch(
        f"/api/query/{query['id']}", {"name": "Customers", "base_version": 1}
    )
    assert (patched["name"], patched["version"], patched["sql"]) == ("Customers", 2, BY_ID)
    await team.alice.patch(
        f"/api/query/{query['id']}", {"name": "x", "base_version": 1}, expect=409
    )
    await team.alice.patch(f"/api/query/{query['id']}", {"name": None}, expect=422)

    await team.alice.delete(f"/api/query/{query['id']}")
    await team.alice.get(f"/api/query/{query['id']}", expect=404)
    assert team.count(SavedQueryVersion, SavedQueryVersion.query_id == query["id"]) == 0


async def test_another_users_query_is_404_everywhere(make_team) -> None:
    team: Team = await make_team()
    query = await save_query(team.alice, team.source, BY_ID, parameters=[FIRST])
    item = f"/api/query/{query['id']}"
    bob = team.bob
    await bob.get(item, expect=404)
    await bob.patch(item, {"name": "mine"}, expect=404)
    await bob.delete(item, expect=404)
    await bob.post(f"{item}/run", {}, expect=404)
    await bob.get(f"{item}/versions", expect=404)
    await bob.post(f"{item}/versions/1/restore", expect=404)
    assert (await bob.get("/api/query"))["items"] == []
    reply = await bob.request("GET", item)
    assert reply.body["message"] == "query not found"
    assert (await team.owner.get(item))["permission"] == "manage"  # admins see everything


async def test_editor_and_viewer(make_team) -> None:
    team: Team = await make_team()
    query = await save_query(team.alice, team.source, BY_ID, parameters=[FIRST])
    item = f"/api/query/{query['id']}"
    team.grant("alice", "query", query["id"], "bob", "view")
    seen = await team.bob.get(item)
    assert seen["permission"] == "view"
    assert [i["permission"] for i in (await team.bob.get("/api/query"))["items"]] == ["view"]
    await team.bob.patch(item, {"name": "viewer edit"}, expect=403)
    await team.bob.delete(item, expect=403)
    await team.bob.post(f"{item}/versions/1/restore", expect=403)

    team.grant("alice", "query", query["id"], "bob", "edit")
    edited = await team.bob.patch(item, {"description": "edited by bob", "tags": ["bob"]})
    assert (edited["permission"], edited["version"]) == ("edit", 2)
    # Changing what runs needs the editor's own use of the datasource, which bob lacks.
    await team.bob.patch(item, {"sql": "SELECT name FROM customers"}, expect=404)
    reply = await team.bob.request("DELETE", item, expect=403)
    assert "'manage'" in reply.body["message"]
    versions = await team.alice.get(f"{item}/versions")
    assert [(v["version"], v["author_name"]) for v in versions["items"]] == [
        (2, "bob"),
        (1, "alice"),
    ]


async def test_a_viewer_runs_the_saved_sql_with_parameters_as_the_owner(
    make_team, shop_url: str
) -> None:
    team: Team = await make_team()
    hostile = "Ada'; DROP TABLE customers; --"
    sql = "SELECT id, name, :tag AS tag FROM customers WHERE id >= :first ORDER BY id"
    tag = {"name": "tag", "type": "text", "default": "none"}
    query = await save_query(team.alice, team.source, sql, parameters=[FIRST, tag])
    team.grant("alice", "query", query["id"], "bob", "view")
    run_path = f"/api/query/{query['id']}/run"

    started = await team.bob.post(
        run_path, {"parameters": {"first": 2, "tag": hostile}}, expect=202
    )
    assert started["datasource_id"] == team.source
    assert await rows_of(team.bob, started) == [{"id": 2, "name": "Grace", "tag": hostile}]
    await team.alice.get(f"/api/query/runs/{started['id']}", expect=404)  # the run is bob's
    defaults = await team.bob.post(run_path, {}, expect=202)
    assert [row["tag"] for row in await rows_of(team.bob, defaults)] == ["none", "none"]
    history = await team.bob.get("/api/query/history")
    assert history["items"][0]["sql"] == sql
    with psycopg.connect(shop_url.replace("postgresql+psycopg", "postgresql")) as check:
        assert check.execute("SELECT count(*) FROM customers").fetchone() == (2,)

    # Running an edited statement needs edit on the query and the caller's own use.
    edited = {"sql": "SELECT email FROM customers WHERE id >= :first"}
    reply = await team.bob.request("POST", run_path, edited, expect=403)
    assert "'edit'" in reply.body["message"]
    team.grant("alice", "query", query["id"], "bob", "edit")
    await team.bob.post(run_path, edited, expect=404)  # bob cannot see the datasource
    mine = await team.alice.post(run_path, {**edited, "parameters": {"first": 2}}, expect=202)
    assert await rows_of(team.alice, mine) == [{"email": None}]


async def test_a_run_needs_someone_who_may_use_the_datasource(make_team) -> None:
    team: Team = await make_team()
    query = await save_query(team.alice, team.source, "SELECT count(*) AS n FROM customers")
    team.grant("alice", "query", query["id"], "bob", "view")
    grants = team.services.sharing.list_grants(team.ids["owner"], "datasource", team.source)
    team.services.sharing.revoke(team.ids["owner"], "datasource", grants[0].id, HERE)
    reply = await team.bob.request("POST", f"/api/query/{query['id']}/run", {}, expect=403)
    assert "neither you nor its owner may use its datasource" in reply.body["message"]
    team.grant("owner", "datasource", team.source, "bob", "use")  # bob's own use suffices
    assert await rows_of(
        team.bob, await team.bob.post(f"/api/query/{query['id']}/run", {}, expect=202)
    ) == [{"n": 2}]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"first": "2"}, "parameters.first: must be a number"),
        ({"first": 1.5}, "parameters.first: must be a whole number"),
        ({"nope": 1}, "parameters.nope: is not a parameter of this query"),
        ({"first": [1]}, "parameters.first"),
        ({"day": "31/01/2026"}, "parameters.day"),
    ],
)
async def test_bad_parameter_values_are_422_naming_the_parameter(
    make_team, values: dict[str, Any], named: str
) -> None:
    team: Team = await make_team()
    day = {"name": "day", "type": "date", "default": "today"}
    sql = "SELECT id FROM customers WHERE id >= :first AND :day IS NOT NULL"
    query = await save_query(team.alice, team.source, sql, parameters=[FIRST, day])
    reply = await team.alice.request(
        "POST", f"/api/query/{query['id']}/run", {"parameters": values}, expect=422
    )
    assert named in reply.body["message"]


async def test_a_required_parameter_without_default_must_be_given(make_team) -> None:
    team: Team = await make_team()
    needed = {"name": "first", "type": "number", "required": True}
    query = await save_query(team.alice, team.source, BY_ID, parameters=[needed])
    reply = await team.alice.request("POST", f"/api/query/{query['id']}/run", {}, expect=422)
    assert reply.body["message"] == "parameters.first: a value is required"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"sql": "DELETE FROM customers"}, "sql: may write"),
        ({"sql": "SELECT 1; SELECT 2"}, "sql: holds 2 statements"),
        ({"sql": "SELECT pg_read_file('/etc/passwd')"}, "sql:"),
        ({"sql": "SELECT :missing"}, "sql: uses :missing, which no parameter defines"),
        ({"sql": "SELECT 1", "parameters": [FIRST]}, "parameters.0.name: binds :first"),
        ({"parameters": [FIRST, FIRST]}, "parameters.1.name: 'first' is defined twice"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"tags": ['say "hi"']}, "tags.0"),
        ({"parameters": [{"name": "first", "type": "colour"}]}, "parameters.0"),
        ({"parameters": [{"name": "first", "type": "enum", "options": []}]}, "options"),
        ({"parameters": [{**FIRST, "default": 1.5}]}, "whole number"),
        ({"datasource_id": "x"}, "datasource_id"),
    ],
)
async def test_bad_definitions_are_422_naming_the_field(
    make_team, fields: dict[str, Any], named: str
) -> None:
    team: Team = await make_team()
    body = {"name": "q", "datasource_id": team.source, "sql": BY_ID, "parameters": [FIRST]}
    reply = await team.alice.request("POST", "/api/query", {**body, **fields}, expect=422)
    assert named in reply.body["message"]
    assert team.count(SavedQuery) == 0


async def test_a_datasource_the_caller_cannot_see_or_use(make_team, shop_url: str) -> None:
    team: Team = await make_team()
    body = {"name": "q", "datasource_id": team.source, "sql": "SELECT 1 AS one"}
    reply = await team.bob.request("POST", "/api/query", body, expect=404)
    assert reply.body["message"] == "datasource not found"
    team.grant("owner", "datasource", team.source, "bob", "view")
    await team.bob.post("/api/query", body, expect=403)
    query = await save_query(team.alice, team.source, "SELECT 1 AS one")
    hidden = await make_datasource(team.owner, shop_url, name="hidden")
    patch = {"datasource_id": hidden}
    await team.alice.patch(f"/api/query/{query['id']}", patch, expect=404)
    assert (await team.alice.get(f"/api/query/{query['id']}"))["datasource_id"] == team.source


async def test_delete_refuses_charts_unless_cascade_and_takes_grants_and_favorites(
    make_team,
) -> None:
    team: Team = await make_team()
    query = await save_query(team.alice, team.source, "SELECT 1 AS one")
    with team.services.db.transaction() as tx:
        for n in range(2):
            tx.add(Chart(owner_id=team.ids["alice"], name=f"chart {n}", query_id=query["id"]))
    team.grant("alice", "query", query["id"], "bob", "view")
    await team.bob.post(
        "/api/query/favorites", {"object_type": "query", "object_id": query["id"]}, expect=201
    )

    reply = await team.alice.request("DELETE", f"/api/query/{query['id']}", expect=409)
    assert reply.body["message"].startswith("2 charts use this query")
    assert team.count(Chart) == 2
    await team.alice.delete(f"/api/query/{query['id']}?cascade=true")
    assert team.count(Chart) == 0
    assert team.count(ObjectGrant, ObjectGrant.object_id == query["id"]) == 0
    assert team.count(Favorite, Favorite.object_id == query["id"]) == 0


async def test_a_share_link_opens_and_runs_its_one_query_as_saved(make_team, jp_fetch) -> None:
    team: Team = await make_team()
    a = await save_query(team.alice, team.source, BY_ID, name="A", parameters=[FIRST])
    b = await save_query(team.alice, team.source, "SELECT 1 AS one", name="B")
    body = GrantCreate(object_id=a["id"], principal_type="link")
    grant, _ = team.services.sharing.grant(team.ids["alice"], "query", body, HERE)
    link = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {grant.token}"})
    item = f"/api/query/{a['id']}"

    assert (await link.get(item))["permission"] == "view"
    run = await link.post(f"{item}/run", {"parameters": {"first": 2}}, expect=202)
    assert await rows_of(link, run) == [{"id": 2, "name": "Grace"}]
    await link.get(f"/api/query/{b['id']}", expect=404)
    await link.post(f"/api/query/{b['id']}/run", {}, expect=404)
    await link.patch(item, {"name": "defaced"}, expect=404)
    await link.delete(item, expect=404)
    await link.post(f"{item}/run", {"sql": "SELECT email FROM customers"}, expect=404)
    await link.post(f"{item}/versions/1/restore", expect=404)
    await link.get(f"{item}/versions", expect=404)  # the query as saved, not its history
    await link.post(
        "/api/query", {"name": "x", "datasource_id": team.source, "sql": "SELECT 1"}, expect=404
    )  # the collection takes no link: it opens nothing there either
    await team.alice.get(f"/api/query/runs/{run['id']}", expect=404)  # the link's run is its own
    assert team.count(SavedQuery, SavedQuery.name == "defaced") == 0

    team.services.sharing.revoke(team.ids["alice"], "query", grant.id, HERE)
    await link.get(item, expect=404)  # a revoked link opens nothing: A is gone for it


# -- the service on both store backends ------------------------------------------------------------


@pytest.fixture
def lib(db: Database, tmp_path: Path) -> Iterator[Library]:
    """The saved-query services on both store backends (SQLite and PostgreSQL)."""
    with library(db, tmp_path) as made:
        yield made


def test_list_filters_on_both_store_backends(lib: Library) -> None:
    alice = lib.world.alice
    tagged = lib.create(alice, name="Weekly ünïcode 100%", tags=["crm", "café", "a_b"])
    plain = lib.create(alice, name="weekly_plain", tags=["crm2"])

    def ids(**filters: Any) -> list[str]:
        query = SavedQueryListQuery(**filters)
        return [item.id for item in lib.queries.list(alice, query).items]

    assert ids() == [tagged, plain]
    assert ids(q="WEEKLY") == [tagged, plain]
    assert ids(q="100%") == [tagged]
    assert ids(q="y_p") == [plain]  # _ is text, not a one-character wildcard
    assert ids(tag="crm") == [tagged]
    assert ids(tag="café") == [tagged]
    assert ids(tag="a_b") == [tagged]
    assert ids(tag="a%b") == []
    assert ids(tag="crm2") == [plain]
    assert ids(datasource_id=lib.datasource) == [tagged, plain]
    assert lib.queries.list(lib.world.bob, SavedQueryListQuery()).items == []

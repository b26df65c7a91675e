"""Dashboard tile data over HTTP on a team server with a real PostgreSQL datasource.

A viewer of the dashboard (a user granted ``view``, a share link, a dashboard kernel's token)
reads its tiles with the OWNER's authority and nothing else: not the query, not its SQL, not
another dashboard, not the datasources. Filters bind to their targets only; bad filter values
are 422 naming ``filters.<id>``; the result cache is reported and ``refresh`` bypasses it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services import Services
from analytics_ext.services.activity import RequestOrigin
from analytics_ext.store.models import Dashboard
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query
from tests.test_chart_sql import DDL

pytestmark = pytest.mark.timeout(120)

HERE = RequestOrigin("127.0.0.1")
SQL = "SELECT region, amount FROM sales WHERE amount >= :min_amount ORDER BY amount"
PARAMETERS = [{"name": "min_amount", "type": "number", "default": 0}]
BAR = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
    "sort": {"by": "x", "order": "ascending"},
}
AMOUNTS = [1, 5, 7, 10, 20, 30]
"""The ``amount`` column of ``tests.test_chart_sql.SALES``, ascending."""
REGION_SUMS = {"east": 1, "north": 60, "south": 12}


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(DDL) as url:
        yield url


def board(query_id: str, chart_id: str) -> dict[str, Any]:
    """Two tiles of one query (one with a fixed value), a chart, markdown, a filter aimed at
    ``t1`` and ``c1`` only."""
    tiles = [
        {"id": "t1", "type": "query", "title": "All sales", "query_id": query_id},
        {
            "id": "t2",
            "type": "query",
            "title": "Big sales",
            "query_id": query_id,
            "parameters": {"min_amount": 10},
        },
        {"id": "c1", "type": "chart", "title": "By region", "chart_id": chart_id},
        {"id": "m1", "type": "markdown", "text": "# Notes\n\n<script>alert(1)</script>"},
        {
            "id": "f1",
            "type": "filter",
            "title": "Threshold",
            "parameter": {"name": "threshold", "type": "number", "default": 0, "minimum": 0},
            "targets": [
                {"tile": "t1", "parameter": "min_amount"},
                {"tile": "c1", "parameter": "min_amount"},
            ],
        },
    ]
    layout = [
        {"tile": "f1", "x": 0, "y": 0, "w": 12, "h": 1},
        {"tile": "t1", "x": 0, "y": 1, "w": 6, "h": 4},
        {"tile": "t2", "x": 6, "y": 1, "w": 6, "h": 4},
        {"tile": "c1", "x": 0, "y": 5, "w": 8, "h": 4},
        {"tile": "m1", "x": 8, "y": 5, "w": 4, "h": 4},
    ]
    return {"title": "Sales", "description": "Weekly", "tiles": tiles, "layout": layout}


@dataclass
class Team:
    """Alice owns the query, chart and dashboard (and may use the owner's datasource); Bob
    holds nothing unless a test grants it."""

    api: ApiClient
    alice: ApiClient
    bob: ApiClient
    alice_id: str
    bob_id: str
    owner_id: str
    source_id: str
    query_id: str
    chart_id: str
    dashboard_id: str
    services: Services

    def grant(self, kind: str, object_id: str, user_id: str, level: str) -> None:
        body = GrantCreate(object_id=object_id, principal_id=user_id, level=level)
        self.services.sharing.grant(self.alice_id, kind, body, HERE)

    def tile(self, tile_id: str, dashboard_id: str | None = None) -> str:
        return f"/api/dashboards/{dashboard_id or self.dashboard_id}/tiles/{tile_id}/data"

    async def dashboard(self, client: ApiClient, body: dict[str, Any]) -> str:
        return (await client.post("/api/dashboards", body, expect=201))["id"]


async def setup_team(
    api: ApiClient, create_account, login, services: Services, url: str, **source_options: Any
) -> Team:
    """The team of ``Team``, with Alice's dashboard ``board(query, chart)``."""
    alice_out, bob_out = await create_account("alice"), await create_account("bob")
    owner_id = (await api.get("/api/user"))["id"]
    source = await make_datasource(api, url, **source_options)
    body = GrantCreate(object_id=source, principal_id=alice_out.id, level="use")
    services.sharing.grant(owner_id, "datasource", body, HERE)
    alice, bob = await login("alice"), await login("bob")
    query = await save_query(alice, source, SQL, parameters=PARAMETERS)
    chart = await alice.post(
        "/api/chart", {"name": "by region", "query_id": query["id"], "spec": BAR}, expect=201
    )
    dashboard = await alice.post("/api/dashboards", board(query["id"], chart["id"]), expect=201)
    return Team(
        api,
        alice,
        bob,
        alice_out.id,
        bob_out.id,
        owner_id,
        source,
        query["id"],
        chart["id"],
        dashboard["id"],
        services,
    )


@pytest.fixture
def make_team(api, create_account, login, server_services, sales_url):
    async def make(**source_options: Any) -> Team:
        return await setup_team(
            api, create_account, login, server_services, sales_url, **source_options
        )

    return make


def amounts(data: dict[str, Any]) -> list[int]:
    names = [column["name"] for column in data["columns"]]
    return [row[names.index("amount")] for row in data["rows"]]


def sums(data: dict[str, Any]) -> dict[str, int]:
    channels = data["chart"]["channels"]
    names = [column["name"] for column in data["columns"]]
    x, y = names.index(channels["x"]), names.index(channels["y"])
    return {row[x]: row[y] for row in data["rows"]}


# -- a viewer of the dashboard ------------------------------------------------------------------


async def test_a_viewer_of_the_dashboard_reads_tiles_not_the_query(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    reply = await team.bob.request("POST", team.tile("t1"), {}, expect=200)
    data = reply.body
    assert data["tile_id"] == "t1"
    assert data["type"] == "query"
    assert [(c["name"], c["type"]) for c in data["columns"]] == [
        ("region", "string"),
        ("amount", "int32"),
    ]
    assert amounts(data) == AMOUNTS
    assert data["truncated"] is False
    assert data["chart"] is None
    assert data["refreshed_at"]
    assert "SELECT" not in json.dumps(data)
    assert "sales" not in json.dumps(data)  # the table name: nothing of the SQL

    chart = await team.bob.post(team.tile("c1"), {})
    assert chart["type"] == "chart"
    assert sums(chart) == REGION_SUMS
    assert set(chart["chart"]) == {"spec", "effective_customization", "channels"}
    assert chart["chart"]["spec"]["type"] == "bar"
    assert "SELECT" not in json.dumps(chart)

    # The dashboard is Bob's window onto the data: the query and chart stay closed to him.
    for path in (f"/api/query/{team.query_id}", f"/api/chart/{team.chart_id}"):
        assert (await team.bob.request("GET", path)).status == 404
    run = await team.bob.request("POST", f"/api/query/{team.query_id}/run", {})
    assert run.status == 404


async def test_tiles_run_with_the_owners_datasource_authority(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    # Bob may not use the datasource at all, yet the tile runs: with Alice's "use".
    assert (await team.bob.request("GET", f"/api/datasources/{team.source_id}")).status == 404
    assert amounts(await team.bob.post(team.tile("t1"), {})) == AMOUNTS
    # Alice loses "use": the dashboard can no longer run for anyone (not even with Bob's
    # rights, which never counted).
    grants = await team.api.get(f"/api/datasources/share?object_id={team.source_id}")
    for grant in grants["items"]:
        await team.api.delete(f"/api/datasources/share/{grant['id']}")
    refused = await team.bob.request("POST", team.tile("t1"), {}, expect=409)
    assert "authority" in refused.body["message"]
    assert "t1" in refused.body["message"]


async def test_a_pinned_version_runs_its_own_tiles_not_later_edits(make_team) -> None:
    """A published notebook asks for its version: an editor's unpublished change (here t2 now
    fixed at 25) reaches viewers only through the current save, never through version 1."""
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    current = await team.alice.get(f"/api/dashboards/{team.dashboard_id}")
    tiles = current["tiles"]
    assert tiles[1]["id"] == "t2"
    tiles[1]["parameters"] = {"min_amount": 25}
    edited = {"tiles": tiles, "layout": current["layout"]}
    await team.alice.patch(f"/api/dashboards/{team.dashboard_id}", edited)
    pinned = await team.bob.post(team.tile("t2"), {"version": current["version"]})
    assert amounts(pinned) == [10, 20, 30]
    assert amounts(await team.bob.post(team.tile("t2"), {})) == [30]
    missing = await team.bob.request("POST", team.tile("t2"), {"version": 99}, expect=404)
    assert missing.body["message"] == "version 99 not found"


async def test_a_link_sees_the_published_version_only(make_team, jp_fetch) -> None:
    """A share link (like a dashboard kernel's token) is shown what was published: the tiles
    of that version by default, that version's definition, and no other version or draft."""
    team = await make_team()
    item = f"/api/dashboards/{team.dashboard_id}"
    await team.alice.post(f"{item}/publish", {})
    current = await team.alice.get(item)
    published = current["version"]
    current["tiles"][1]["parameters"] = {"min_amount": 25}  # an unpublished edit of t2
    await team.alice.patch(item, {"tiles": current["tiles"], "layout": current["layout"]})
    made = await team.alice.request(
        "POST",
        "/api/dashboards/share",
        {"object_id": team.dashboard_id, "principal_type": "link"},
        expect=201,
    )
    link = bearer(jp_fetch, made.body["token"])
    assert amounts(await link.post(team.tile("t2"), {})) == [10, 20, 30]
    assert amounts(await link.post(team.tile("t2"), {"version": published})) == [10, 20, 30]
    draft = await link.request("POST", team.tile("t2"), {"version": published + 1})
    assert draft.status == 404
    shown = await link.get(f"{item}/versions/{published}")
    assert shown["tiles"][1].get("parameters") == {"min_amount": 10}
    assert (await link.request("GET", f"{item}/versions/{published + 1}")).status == 404
    assert (await link.request("GET", f"{item}/versions")).status == 404
    # Its owner sees the draft.
    assert amounts(await team.alice.post(team.tile("t2"), {})) == [30]


async def test_someone_without_view_gets_404(make_team) -> None:
    team = await make_team()
    for tile in ("t1", "c1", "m1", "nope"):
        refused = await team.bob.request("POST", team.tile(tile), {}, expect=404)
        assert refused.body["message"] == "dashboard not found"
    missing = await team.alice.request("POST", team.tile("t1", "x" * 22), {}, expect=404)
    assert missing.body["message"] == "dashboard not found"


# -- filters ------------------------------------------------------------------------------------


async def test_filters_bind_to_their_targets_only(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    filtered = {"filters": {"f1": 20}}
    assert amounts(await team.bob.post(team.tile("t1"), filtered)) == [20, 30]
    assert sums(await team.bob.post(team.tile("c1"), filtered)) == {"north": 50}
    # t2 is no target of f1: its fixed value (10) stands, whatever the filter says.
    assert amounts(await team.bob.post(team.tile("t2"), filtered)) == [10, 20, 30]
    assert amounts(await team.bob.post(team.tile("t2"), {"filters": {"f1": 0}})) == [10, 20, 30]
    # No value, or null: the filter's default (0), not the tile's fixed values.
    assert amounts(await team.bob.post(team.tile("t1"), {"filters": {"f1": None}})) == AMOUNTS


async def test_a_filter_wins_over_a_tiles_fixed_value(make_team) -> None:
    team = await make_team()
    body = board(team.query_id, team.chart_id)
    body["tiles"][1]["parameters"] = {"min_amount": 10}  # t2 fixed at 10 ...
    body["tiles"][4]["targets"].append({"tile": "t2", "parameter": "min_amount"})  # ... targeted
    dashboard = await team.dashboard(team.alice, body)
    assert amounts(await team.alice.post(team.tile("t2", dashboard), {})) == AMOUNTS  # default 0
    filtered = {"filters": {"f1": 25}}
    assert amounts(await team.alice.post(team.tile("t2", dashboard), filtered)) == [30]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"f1": "abc"}, "filters.f1: must be a number"),
        ({"f1": -5}, "filters.f1: must be at least 0"),
        ({"f1": True}, "filters.f1: must be a number"),
        ({"f1": {"start": "2026-01-01", "end": "2026-01-02"}}, "filters.f1: must be a number"),
        ({"t1": 5}, "filters.t1: is not a filter tile of this dashboard"),
        ({"zz": 5}, "filters.zz: is not a filter tile of this dashboard"),
    ],
    ids=["text", "below-minimum", "boolean", "range", "not-a-filter", "unknown"],
)
async def test_bad_filter_values_are_422_naming_the_filter(
    make_team, filters: dict[str, Any], message: str
) -> None:
    team = await make_team()
    refused = await team.alice.request("POST", team.tile("t1"), {"filters": filters}, expect=422)
    assert refused.body["message"] == message


async def test_bad_request_bodies(make_team) -> None:
    team = await make_team()
    path = team.tile("t1")
    not_json = await team.alice.request("POST", path, raw=b"{", expect=400)
    assert "not valid JSON" in not_json.body["message"]
    extra = await team.alice.request("POST", path, {"sql": "SELECT 1"}, expect=422)
    assert extra.body["message"].startswith("sql: ")
    wrong = await team.alice.request("POST", path, {"refresh": "yes"}, expect=422)
    assert wrong.body["message"].startswith("refresh: ")


# -- tiles without data, unknown tiles ------------------------------------------------------------


async def test_unknown_tile_is_404_naming_it(make_team) -> None:
    team = await make_team()
    refused = await team.alice.request("POST", team.tile("t9"), {}, expect=404)
    assert refused.body["message"] == "tile 't9' is not a tile of this dashboard"


@pytest.mark.parametrize("tile", ["m1", "f1"], ids=["markdown", "filter"])
async def test_markdown_and_filter_tiles_have_no_data(make_team, tile: str) -> None:
    team = await make_team()
    refused = await team.alice.request("POST", team.tile(tile), {}, expect=422)
    assert refused.body["message"].startswith(f"tile_id: '{tile}' is a ")
    assert refused.body["message"].endswith("tile, which has no data")


# -- the result cache ---------------------------------------------------------------------------


@pytest.mark.parametrize("tile", ["t1", "c1"], ids=["query", "chart"])
async def test_second_request_is_cached_and_refresh_bypasses_it(make_team, tile: str) -> None:
    team = await make_team(cache_ttl_seconds=300)
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    first = await team.bob.post(team.tile(tile), {})
    assert first["cached"] is False
    second = await team.bob.post(team.tile(tile), {})
    assert second["cached"] is True
    assert second["rows"] == first["rows"]
    # Alice's own view of the same tile shares the owner's cached result.
    assert (await team.alice.post(team.tile(tile), {}))["cached"] is True
    fresh = await team.bob.post(team.tile(tile), {"refresh": True})
    assert fresh["cached"] is False
    assert fresh["rows"] == first["rows"]
    # Other filter values are another result.
    assert (await team.bob.post(team.tile(tile), {"filters": {"f1": 6}}))["cached"] is False


# -- share links and dashboard kernels -------------------------------------------------------


def bearer(jp_fetch, token: str) -> ApiClient:
    return ApiClient(jp_fetch, headers={"Authorization": f"Bearer {token}"})


async def test_a_share_link_reads_its_dashboards_tiles_only(make_team, jp_fetch) -> None:
    team = await make_team()
    other = await team.dashboard(team.alice, board(team.query_id, team.chart_id))
    made = await team.alice.post(
        "/api/dashboards/share",
        {"object_id": team.dashboard_id, "principal_type": "link"},
        expect=201,
    )
    link = bearer(jp_fetch, made["token"])
    assert amounts(await link.post(team.tile("t1"), {"filters": {"f1": 20}})) == [20, 30]
    assert sums(await link.post(team.tile("c1"), {})) == REGION_SUMS
    as_url = ApiClient(jp_fetch, headers={"Authorization": ""})
    by_url = await as_url.post(f"{team.tile('t1')}?share_token={made['token']}", {})
    assert amounts(by_url) == AMOUNTS
    assert (await link.request("POST", team.tile("t1", other), {})).status == 404
    assert (await link.request("GET", f"/api/query/{team.query_id}")).status == 404
    await team.alice.delete(f"/api/dashboards/share/{made['id']}")
    assert (await link.request("POST", team.tile("t1"), {})).status == 404


async def test_a_dashboard_kernels_token_reads_that_dashboard_only(make_team, jp_fetch) -> None:
    team = await make_team()
    other = await team.dashboard(team.alice, board(team.query_id, team.chart_id))
    token = team.services.sharing.issue_kernel_link(
        "dashboard", team.dashboard_id, "test:k1", timedelta(hours=1)
    )
    kernel = bearer(jp_fetch, token)
    assert amounts(await kernel.post(team.tile("t1"), {})) == AMOUNTS
    assert sums(await kernel.post(team.tile("c1"), {"filters": {"f1": 20}})) == {"north": 50}
    assert (await kernel.get(f"/api/dashboards/{team.dashboard_id}"))["id"] == team.dashboard_id

    assert (await kernel.request("POST", team.tile("t1", other), {})).status == 404
    assert (await kernel.request("GET", f"/api/query/{team.query_id}")).status == 404
    assert (await kernel.request("GET", f"/api/chart/{team.chart_id}")).status == 404
    # Routes that take no link: 404 as well, Jupyter's own included (Done-when of issue 8).
    for path in ("/api/datasources", "/api/dashboards", "/api/contents", "/api/kernels"):
        assert (await kernel.request("GET", path)).status == 404, path
    source = await kernel.request("GET", f"/api/datasources/{team.source_id}")
    assert source.status == 404  # the datasource and its connection settings

    assert team.services.sharing.revoke_issued("test:k1") == 1
    assert (await kernel.request("POST", team.tile("t1"), {})).status == 404


# -- owner gone, objects gone ---------------------------------------------------------------------


async def test_a_deleted_query_is_a_conflict_naming_the_tile(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    await team.alice.delete(f"/api/chart/{team.chart_id}")
    refused = await team.bob.request("POST", team.tile("c1"), {}, expect=409)
    assert refused.body["message"].startswith("tile 'c1' cannot run: its chart was deleted")
    assert amounts(await team.bob.post(team.tile("t1"), {})) == AMOUNTS  # the others still run


async def test_a_failing_query_tells_editors_why_and_viewers_only_that_it_failed(
    make_team,
) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    await team.alice.patch(
        f"/api/query/{team.query_id}",
        {"sql": "SELECT region, amount, 1 / (amount - amount) AS boom FROM sales "
         "WHERE amount >= :min_amount"},
    )  # fmt: skip
    seen = await team.bob.request("POST", team.tile("t1"), {}, expect=400)
    assert seen.body["message"] == (
        "tile 't1': its query failed on the datasource; someone who may edit the dashboard "
        "can see why"
    )
    told = await team.alice.request("POST", team.tile("t1"), {}, expect=400)
    assert "division by zero" in told.body["message"]


async def test_a_dashboard_without_an_owner_cannot_run_tiles(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    with team.services.db.transaction() as tx:  # as the store's ON DELETE SET NULL leaves it
        tx.get(Dashboard, team.dashboard_id).owner_id = None
    refused = await team.bob.request("POST", team.tile("t1"), {}, expect=409)
    assert refused.body["message"].startswith("this dashboard has no owner")


async def test_viewers_queue_for_the_owners_run_slots_instead_of_failing(make_team) -> None:
    team = await make_team()
    team.grant("dashboard", team.dashboard_id, team.bob_id, "view")
    team.services.queries.engine.per_user_limit = 1  # every tile's run is the owner's
    replies = await asyncio.gather(
        *(
            team.bob.request("POST", team.tile(tile), {"filters": {"f1": value}})
            for tile, value in [("t1", 0), ("t1", 5), ("t2", 0), ("c1", 0), ("c1", 7)]
        )
    )
    assert [reply.status for reply in replies] == [200] * 5
    assert amounts(replies[1].body) == [5, 7, 10, 20, 30]
    assert sums(replies[4].body) == {"north": 60, "south": 7}

"""Dashboards over HTTP on a team server: CRUD, field-level 422s for bad boards (tile ids,
layout, filter targets, references to queries and charts the saver cannot see, parameters that
are not the query's), markup kept as text, who may see and do what (another user's dashboard
is 404; viewer vs editor vs manager), stale saves (409), search and pagination, and what a
deleted account's dashboards become."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from traitlets.config import Config

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.store.models import Dashboard, DashboardVersion, ObjectGrant
from tests.support.dashboard_team import (
    HERE,
    board,
    create_board,
    refused,
    sales_database,
    team_factory,
)
from tests.support.query_library import save_query

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with sales_database() as url:
        yield url


@pytest.fixture
def make_team(api, create_account, login, server_services, sales_url):
    return team_factory(api, create_account, login, server_services, sales_url)


@pytest.fixture
def policy(request: pytest.FixtureRequest) -> str:
    """``deleted_user_objects`` (a test asks for another with indirect parametrization)."""
    return getattr(request, "param", "reassign")


@pytest.fixture
def jp_server_config(jp_server_config: Config, policy: str) -> Config:
    jp_server_config.AnalyticsExtension.deleted_user_objects = policy
    return jp_server_config


# -- CRUD --------------------------------------------------------------------------------------


async def test_create_get_list_update_delete(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    assert created["title"] == "Sales"
    assert created["owner_id"] == team.alice_id
    assert created["version"] == 1
    assert created["permission"] == "manage"
    assert created["viewer_url"] is None
    assert created["published_version"] is None
    assert [tile["type"] for tile in created["tiles"]] == ["markdown", "filter", "query", "chart"]
    assert created["tiles"][2]["row_limit"] == 1000  # defaults are filled in and returned
    assert created["tags"] == ["sales", "weekly"]
    assert created["refresh_seconds"] == 300
    path = f"/api/dashboards/{created['id']}"

    assert await team.alice.get(path) == created
    listed = await team.alice.get("/api/dashboards")
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["next"] is None

    changed = await team.alice.patch(path, {"title": "Sales (weekly)", "refresh_seconds": None})
    assert changed["title"] == "Sales (weekly)"
    assert changed["refresh_seconds"] is None
    assert changed["version"] == 2
    assert changed["tiles"] == created["tiles"]
    same = await team.alice.patch(path, {"title": "Sales (weekly)"})
    assert same["version"] == 2  # nothing changed: no new version

    await team.alice.delete(path)
    await team.alice.get(path, expect=404)
    with team.services.db.transaction() as tx:
        assert tx.scalar(select(func.count()).select_from(DashboardVersion)) == 0


async def test_tiles_and_layout_change_together(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    message = await refused(team.alice, "PATCH", path, {"tiles": []}, 422)
    assert message.startswith("layout:")
    emptied = await team.alice.patch(path, {"tiles": [], "layout": []})
    assert emptied["tiles"] == []
    assert emptied["layout"] == []
    assert emptied["version"] == 2
    message = await refused(team.alice, "PATCH", path, {"title": None}, 422)
    assert message.startswith("title:")


async def test_markup_is_stored_as_text(make_team):
    team = await make_team()
    title = '<script>alert("x")</script> & <b>bold</b>'
    created = await create_board(
        team.alice,
        team,
        title=title,
        description="<img src=x onerror=alert(1)>",
        tiles=[{"id": "m", "type": "markdown", "text": "<iframe src='//evil'></iframe>"}],
        layout=[{"tile": "m", "x": 0, "y": 0, "w": 12, "h": 1}],
    )
    found = await team.alice.get(f"/api/dashboards/{created['id']}")
    assert found["title"] == title
    assert found["description"] == "<img src=x onerror=alert(1)>"
    assert found["tiles"][0]["text"] == "<iframe src='//evil'></iframe>"


# -- bad boards --------------------------------------------------------------------------------


def _bad_boards(query_id: str, chart_id: str) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (changes to the good board, the field the 422 must name)."""
    good = board(query_id, chart_id)
    tiles, layout = good["tiles"], good["layout"]
    duplicate = [*tiles[:3], {**tiles[3], "id": "table"}]
    overlapping = [*layout[:3], {**layout[3], "x": 4}]
    unplaced = layout[:3]
    at_markdown = [tiles[0], {**tiles[1], "targets": [{"tile": "intro", "parameter": "x"}]}]
    at_markdown += tiles[2:]
    unknown_query = [*tiles[:2], {**tiles[2], "query_id": "A" * 22}, tiles[3]]
    unknown_chart = [*tiles[:3], {**tiles[3], "chart_id": "B" * 22}]
    not_a_parameter = [
        tiles[0],
        {**tiles[1], "targets": [tiles[1]["targets"][0], {"tile": "chart", "parameter": "nope"}]},
        *tiles[2:],
    ]
    wrong_type = [
        tiles[0],
        {**tiles[1], "parameter": {"name": "when", "type": "date"}},
        *tiles[2:],
    ]
    enum_mismatch = [
        tiles[0],
        {**tiles[1], "parameter": {"name": "m", "type": "enum", "options": [5, "ten"]}},
        *tiles[2:],
    ]
    fixed_unknown = [*tiles[:2], {**tiles[2], "parameters": {"region": "north"}}, tiles[3]]
    fixed_wrong_type = [*tiles[:2], {**tiles[2], "parameters": {"min_amount": "ten"}}, tiles[3]]
    chart_fixed_unknown = [*tiles[:3], {**tiles[3], "parameters": {"nope": 1}}]
    return {
        "duplicate-tile-id": ({"tiles": duplicate}, "tiles.3.id"),
        "overlap": ({"layout": overlapping}, "layout.3"),
        "unplaced-tile": ({"layout": unplaced}, "layout"),
        "filter-targets-markdown": ({"tiles": at_markdown}, "tiles.1.targets.0.tile"),
        "unknown-query": ({"tiles": unknown_query}, "tiles.2.query_id"),
        "unknown-chart": ({"tiles": unknown_chart}, "tiles.3.chart_id"),
        "target-not-a-parameter": ({"tiles": not_a_parameter}, "tiles.1.targets.1.parameter"),
        "target-wrong-type": ({"tiles": wrong_type}, "tiles.1.targets.0.parameter"),
        "enum-option-not-a-number": ({"tiles": enum_mismatch}, "tiles.1.targets.0.parameter"),
        "fixed-parameter-unknown": ({"tiles": fixed_unknown}, "tiles.2.parameters.region"),
        "fixed-parameter-wrong-type": (
            {"tiles": fixed_wrong_type}, "tiles.2.parameters.min_amount"
        ),
        "chart-fixed-parameter-unknown": (
            {"tiles": chart_fixed_unknown}, "tiles.3.parameters.nope"
        ),
        "layout-off-grid": ({"layout": [*layout[:3], {**layout[3], "w": 7}]}, "layout.3.w"),
        "refresh-too-often": ({"refresh_seconds": 1}, "refresh_seconds"),
    }  # fmt: skip


BAD_BOARDS = list(_bad_boards("q", "c"))


@pytest.mark.parametrize("case", BAD_BOARDS)
async def test_bad_boards_are_refused_naming_the_field(make_team, case):
    team = await make_team()
    changes, field = _bad_boards(team.query_id, team.chart_id)[case]
    body = {**board(team.query_id, team.chart_id), **changes}
    message = await refused(team.alice, "POST", "/api/dashboards", body, 422)
    assert message.startswith(f"{field}:") or f"; {field}:" in message, message
    # The same board sent as a change to an existing dashboard is refused the same way.
    created = await create_board(team.alice, team)
    patch = {key: body[key] for key in ("tiles", "layout", "refresh_seconds")}
    message = await refused(team.alice, "PATCH", f"/api/dashboards/{created['id']}", patch, 422)
    assert field in message, message
    assert (await team.alice.get(f"/api/dashboards/{created['id']}"))["version"] == 1


async def test_a_query_or_chart_the_saver_cannot_see_reads_as_missing(make_team):
    """Bob cannot put Alice's query or chart on his dashboard: the 422 is the same as for an
    id that does not exist, so it tells him nothing about hers."""
    team = await make_team()
    invisible = await refused(
        team.bob, "POST", "/api/dashboards", board(team.query_id, team.chart_id), 422
    )
    missing = await refused(
        team.bob, "POST", "/api/dashboards", board("A" * 22, team.chart_id), 422
    )
    assert invisible == f"tiles.2.query_id: query {team.query_id!r} not found or not visible to you"
    assert missing == f"tiles.2.query_id: query {'A' * 22!r} not found or not visible to you"
    only_chart = board(team.query_id, team.chart_id)
    only_chart["tiles"] = [only_chart["tiles"][3]]
    only_chart["layout"] = [only_chart["layout"][3]]
    message = await refused(team.bob, "POST", "/api/dashboards", only_chart, 422)
    assert message.startswith("tiles.0.chart_id: chart ")
    assert "not visible to you" in message
    # Once shared with him (view is enough), he may.
    team.grant("query", team.query_id, team.bob_id, "view")
    team.grant("chart", team.chart_id, team.bob_id, "view")
    await create_board(team.bob, team)


async def test_an_editor_keeps_tiles_he_cannot_see_but_cannot_add_them(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    team.grant("dashboard", created["id"], team.bob_id, "edit")
    tiles, layout = created["tiles"], created["layout"]
    # Moving Alice's tiles and adding markdown: her query and chart were already there.
    moved = [{**item, "y": item["y"] + 1} for item in layout]
    note = {"id": "note", "type": "markdown", "text": "from Bob"}
    placed = {"tile": "note", "x": 0, "y": 0, "w": 12, "h": 1}
    changed = await team.bob.patch(path, {"tiles": [*tiles, note], "layout": [*moved, placed]})
    assert changed["version"] == 2
    assert changed["permission"] == "edit"
    # A second tile of a query Bob cannot see is a new reference: refused.
    other = await save_query(team.alice, team.source_id, "SELECT 1 AS one", name="other")
    extra = {"id": "other", "type": "query", "query_id": other["id"]}
    body = {
        "tiles": [*changed["tiles"], extra],
        "layout": [*changed["layout"], {"tile": "other", "x": 0, "y": 20, "w": 12, "h": 2}],
    }
    message = await refused(team.bob, "PATCH", path, body, 422)
    assert message.startswith("tiles.5.query_id:")


# -- who may do what ---------------------------------------------------------------------------


async def test_another_users_dashboard_is_404(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.bob.get(path, expect=404)
    await team.bob.patch(path, {"title": "mine"}, expect=404)
    await team.bob.delete(path, expect=404)
    assert (await team.bob.get("/api/dashboards"))["items"] == []
    await team.bob.get(f"{path}/versions", expect=404)
    await team.bob.get(f"{path}/versions/1", expect=404)
    await team.bob.post(f"{path}/versions/1/restore", expect=404)
    await team.bob.get(f"/api/dashboards/share?object_id={created['id']}", expect=404)


async def test_viewer_editor_manager(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    team.grant("dashboard", created["id"], team.bob_id, "view")
    team.grant("dashboard", created["id"], team.carol_id, "edit")

    seen = await team.bob.get(path)
    assert seen["permission"] == "view"
    assert seen["title"] == "Sales"
    assert [item["permission"] for item in (await team.bob.get("/api/dashboards"))["items"]] == [
        "view"
    ]
    await team.bob.patch(path, {"title": "viewer"}, expect=403)
    await team.bob.delete(path, expect=403)
    await team.bob.get(f"{path}/versions")  # viewers read the history
    await team.bob.post(f"{path}/versions/1/restore", expect=403)

    edited = await team.carol.patch(path, {"title": "edited"})
    assert edited["permission"] == "edit"
    await team.carol.delete(path, expect=403)
    share = {"object_id": created["id"], "principal_id": team.bob_id, "level": "edit"}
    await team.carol.post("/api/dashboards/share", share, expect=403)

    team.grant("dashboard", created["id"], team.carol_id, "manage")
    await team.carol.post("/api/dashboards/share", share, expect=200)  # changes Bob's grant
    assert (await team.bob.get(path))["permission"] == "edit"
    await team.carol.delete(path)
    await team.alice.get(path, expect=404)
    with team.services.db.transaction() as tx:
        grants = select(func.count()).select_from(ObjectGrant)
        assert tx.scalar(grants.where(ObjectGrant.object_id == created["id"])) == 0


async def test_the_owner_is_named_to_whoever_sees_it(make_team):
    """``owner_name`` lets a "Shared with you" row say whose the dashboard is: the owner's
    username in every answer (get, list, create, update), null once no owner is left."""
    team = await make_team()
    created = await create_board(team.alice, team)
    assert created["owner_name"] == "alice"
    path = f"/api/dashboards/{created['id']}"
    team.grant("dashboard", created["id"], team.bob_id, "view")
    team.grant("dashboard", created["id"], team.carol_id, "edit")
    assert (await team.bob.get(path))["owner_name"] == "alice"
    listed = (await team.bob.get("/api/dashboards?owner=shared"))["items"]
    assert [(item["id"], item["owner_name"]) for item in listed] == [(created["id"], "alice")]
    assert (await team.carol.patch(path, {"title": "edited"}))["owner_name"] == "alice"
    with team.services.db.transaction() as tx:
        tx.get(Dashboard, created["id"]).owner_id = None
    seen = await team.bob.get(path)
    assert (seen["owner_id"], seen["owner_name"]) == (None, None)


async def test_stale_base_version_is_409(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"title": "one", "base_version": 1})
    message = await refused(team.alice, "PATCH", path, {"title": "two", "base_version": 1}, 409)
    assert "version 2, not 1" in message
    assert (await team.alice.get(path))["title"] == "one"
    assert (await team.alice.patch(path, {"title": "two", "base_version": 2}))["version"] == 3


# -- search and pagination ---------------------------------------------------------------------


async def test_search_tags_owner_and_pagination(make_team):
    team = await make_team()
    empty = {"tiles": [], "layout": [], "description": ""}
    ids = []
    for number in range(5):
        title = f"Board {number}" + (" revenue" if number % 2 else "")
        tags = ["even"] if number % 2 == 0 else ["odd"]
        ids.append((await create_board(team.alice, team, title=title, tags=tags, **empty))["id"])
    described = await create_board(
        team.alice, team, **{**empty, "description": "All REVENUE here"}, title="Plain",
        tags=["odd"],
    )  # fmt: skip
    ids.append(described["id"])
    bobs = await create_board(team.bob, team, title="Bob's revenue", **empty)
    team.services.sharing.grant(
        team.bob_id, "dashboard", GrantCreate(object_id=bobs["id"], principal_id=team.alice_id,
                                              level="view"), HERE,
    )  # fmt: skip

    seen, cursor = [], None
    while True:
        page = await team.alice.get(
            f"/api/dashboards?limit=2{f'&cursor={cursor}' if cursor else ''}"
        )
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [*ids, bobs["id"]]  # oldest first, each once

    async def titles(query: str) -> list[str]:
        return [
            item["title"] for item in (await team.alice.get(f"/api/dashboards?{query}"))["items"]
        ]

    assert await titles("q=revenue") == [
        "Board 1 revenue",
        "Board 3 revenue",
        "Plain",
        "Bob's revenue",
    ]
    assert await titles("tag=odd") == ["Board 1 revenue", "Board 3 revenue", "Plain"]
    assert await titles("tag=od") == []
    assert await titles("owner=shared") == ["Bob's revenue"]
    assert len(await titles("owner=me")) == 6
    assert await titles("q=revenue&owner=me&tag=odd") == [
        "Board 1 revenue",
        "Board 3 revenue",
        "Plain",
    ]
    await team.alice.get("/api/dashboards?cursor=nonsense", expect=422)
    await team.alice.get("/api/dashboards?owner=everyone", expect=422)
    await team.alice.get("/api/dashboards?limit=0", expect=422)


# -- a deleted account's dashboards ------------------------------------------------------------


@pytest.mark.parametrize("policy", ["reassign", "delete"], indirect=True)
async def test_a_deleted_users_dashboards_follow_the_policy(make_team, api, policy):
    team = await make_team()
    owner_id = (await api.get("/api/user"))["id"]
    created = await create_board(team.bob, team, title="Bob's", tiles=[], layout=[])
    team.services.sharing.grant(
        team.bob_id, "dashboard", GrantCreate(object_id=created["id"], principal_id=team.carol_id,
                                              level="view"), HERE,
    )  # fmt: skip
    await api.delete(f"/api/admin/users/{team.bob_id}")
    with team.services.db.transaction() as tx:
        row = tx.get(Dashboard, created["id"])
        grants = tx.scalar(
            select(func.count())
            .select_from(ObjectGrant)
            .where(ObjectGrant.object_id == created["id"])
        )
        versions = tx.scalar(
            select(func.count())
            .select_from(DashboardVersion)
            .where(DashboardVersion.dashboard_id == created["id"])
        )
    if policy == "reassign":
        assert row is not None
        assert row.owner_id == owner_id
        assert row.title == "Bob's"
        assert grants == 1
        assert versions == 1
        assert (await team.carol.get(f"/api/dashboards/{created['id']}"))["owner_id"] == owner_id
    else:
        assert row is None
        assert grants == 0
        assert versions == 0
        await team.carol.get(f"/api/dashboards/{created['id']}", expect=404)

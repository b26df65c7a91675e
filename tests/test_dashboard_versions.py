"""Dashboard versions: every save appends one, newest first with what changed; a version shows
whole; restoring appends a new version equal to the old one (checked like any save); viewers
read the history, only editors restore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dashboard_team import board, create_board, sales_database, team_factory

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


async def test_every_save_appends_a_version(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"title": "Sales 2", "tags": ["a"]})
    await team.alice.patch(path, {"tiles": [], "layout": [], "base_version": 2})
    await team.alice.patch(path, {"title": "Sales 2"})  # no change: no version

    page = await team.alice.get(f"{path}/versions")
    assert [item["version"] for item in page["items"]] == [3, 2, 1]
    assert page["next"] is None
    assert page["items"][0]["changed"] == ["tiles", "layout"]
    assert page["items"][1]["changed"] == ["title", "tags"]
    assert page["items"][2]["changed"] == [
        "title",
        "description",
        "tiles",
        "layout",
        "refresh_seconds",
        "tags",
    ]
    assert {item["author_name"] for item in page["items"]} == {"alice"}
    assert page["items"][1]["title"] == "Sales 2"

    first = await team.alice.get(f"{path}/versions/1")
    assert first["dashboard_id"] == created["id"]
    for field in ("title", "description", "tiles", "layout", "refresh_seconds", "tags"):
        assert first[field] == created[field], field
    assert first["restored_from"] is None

    await team.alice.get(f"{path}/versions/9", expect=404)
    await team.alice.get(f"{path}/versions?cursor=abc", expect=422)

    # Pages of one, following ``next``.
    seen, cursor = [], None
    while True:
        query = f"?limit=1&cursor={cursor}" if cursor else "?limit=1"
        one = await team.alice.get(f"{path}/versions{query}")
        seen += [item["version"] for item in one["items"]]
        cursor = one["next"]
        if cursor is None:
            break
    assert seen == [3, 2, 1]


async def test_restore_appends_a_version_equal_to_the_old_one(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"title": "Empty", "tiles": [], "layout": []})

    restored = await team.alice.post(f"{path}/versions/1/restore")
    assert restored["version"] == 3
    assert restored["title"] == "Sales"
    assert restored["tiles"] == created["tiles"]
    assert restored["layout"] == created["layout"]
    newest = (await team.alice.get(f"{path}/versions"))["items"][0]
    assert newest["version"] == 3
    assert newest["restored_from"] == 1
    assert (await team.alice.get(f"{path}/versions/2"))["title"] == "Empty"  # untouched
    # Restoring the current state again still records a version (the restore is an event).
    assert (await team.alice.post(f"{path}/versions/3/restore"))["version"] == 4
    await team.alice.post(f"{path}/versions/99/restore", expect=404)


async def test_a_restored_board_is_checked_again(make_team):
    """Version 1 shows a query that has since been deleted: restoring it is a 422 naming the
    tile, and nothing is written."""
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"tiles": [], "layout": []})
    await team.alice.delete(f"/api/query/{team.query_id}?cascade=true")
    reply = await team.alice.request("POST", f"{path}/versions/1/restore", expect=422)
    assert reply.body["message"].startswith("tiles.2.query_id: ")
    assert (await team.alice.get(path))["version"] == 2


async def test_viewers_read_history_editors_restore(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"title": "two"})
    await team.bob.get(f"{path}/versions", expect=404)
    await team.bob.get(f"{path}/versions/1", expect=404)
    await team.bob.post(f"{path}/versions/1/restore", expect=404)
    team.grant("dashboard", created["id"], team.bob_id, "view")
    assert len((await team.bob.get(f"{path}/versions"))["items"]) == 2
    assert (await team.bob.get(f"{path}/versions/1"))["title"] == "Sales"
    await team.bob.post(f"{path}/versions/1/restore", expect=403)
    # An editor restores, even though the query and chart on version 1 are not shared with
    # him: they are on the dashboard already (Alice's tiles).
    team.grant("dashboard", created["id"], team.bob_id, "edit")
    restored = await team.bob.post(f"{path}/versions/1/restore")
    assert restored["title"] == "Sales"
    assert restored["version"] == 3
    assert (await team.bob.get(f"{path}/versions"))["items"][0]["author_name"] == "bob"


async def test_a_board_never_seen_by_the_restorer_is_refused(make_team):
    """Bob may edit, but version 1's query is neither visible to him nor on the dashboard
    now: restoring it would put back a query he cannot see, so it is refused."""
    team = await make_team()
    only_query = board(team.query_id, team.chart_id)
    only_query["tiles"] = [only_query["tiles"][2]]
    only_query["layout"] = [only_query["layout"][2]]
    created = (await team.alice.request("POST", "/api/dashboards", only_query, expect=201)).body
    path = f"/api/dashboards/{created['id']}"
    await team.alice.patch(path, {"tiles": [], "layout": []})
    team.grant("dashboard", created["id"], team.bob_id, "edit")
    reply = await team.bob.request("POST", f"{path}/versions/1/restore", expect=422)
    assert reply.body["message"] == (
        f"tiles.0.query_id: query {team.query_id!r} not found or not visible to you"
    )

"""Favorites over HTTP on a team server: per user, ordered, idempotent, only of objects the
caller can view, and a favorite of an object that is unshared drops out of the list until it
is shared again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from analytics_ext.errors import Forbidden, NotFound
from analytics_ext.schemas.favorites import FavoriteCreate, FavoriteListQuery
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import RequestOrigin
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, Favorite
from analytics_ext.store.types import new_id
from tests.support.api import ApiClient
from tests.support.datasources import sqlite_file
from tests.support.query_library import make_datasource, save_query
from tests.test_saved_query_versions import Library, library

pytestmark = pytest.mark.timeout(120)
HERE = RequestOrigin("127.0.0.1")
FAVORITES = "/api/query/favorites"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def jp_server_config(jp_server_config, tmp_path):
    (tmp_path / "data").mkdir()
    jp_server_config.AnalyticsExtension.datasource_dirs = [str(tmp_path / "data")]
    return jp_server_config


@pytest.fixture
def people(api, create_account, login, server_services, tmp_path):
    """alice owns three queries on the owner's SQLite shop; bob sees none of them yet."""

    async def make() -> dict[str, Any]:
        source = await make_datasource(api, f"sqlite:///{sqlite_file(tmp_path / 'data')}")
        owner_id = (await api.get("/api/user"))["id"]
        alice_id = (await create_account("alice")).id
        bob_id = (await create_account("bob")).id
        grant = GrantCreate(object_id=source, principal_id=alice_id, level="use")
        server_services.sharing.grant(owner_id, "datasource", grant, HERE)
        alice, bob = await login("alice"), await login("bob")
        names = ("<b>one</b>", "two", "three")
        queries = [(await save_query(alice, source, "SELECT 1 AS x", name=n))["id"] for n in names]
        return {"alice": alice, "bob": bob, "ids": {"alice": alice_id, "bob": bob_id}, "q": queries}

    return make


def share(services: Any, people: dict[str, Any], query_id: str, level: str = "view") -> None:
    body = GrantCreate(object_id=query_id, principal_id=people["ids"]["bob"], level=level)
    services.sharing.grant(people["ids"]["alice"], "query", body, HERE)


async def listed(client: ApiClient) -> list[tuple[str, int]]:
    return [
        (item["object_id"], item["position"]) for item in (await client.get(FAVORITES))["items"]
    ]


def favorite(object_id: str, **fields: Any) -> dict[str, Any]:
    return {"object_type": "query", "object_id": object_id, **fields}


async def test_favorites_are_idempotent_ordered_and_movable(people, server_services) -> None:
    p = await people()
    alice, (one, two, three) = p["alice"], p["q"]
    first = await alice.post(FAVORITES, favorite(one), expect=201)
    assert (first["name"], first["position"], first["object_type"]) == ("<b>one</b>", 0, "query")
    again = await alice.post(FAVORITES, favorite(one), expect=200)
    assert again["id"] == first["id"]
    await alice.post(FAVORITES, favorite(two), expect=201)
    await alice.post(FAVORITES, favorite(three, position=0), expect=201)
    assert await listed(alice) == [(three, 0), (one, 1), (two, 2)]

    moved = await alice.patch(f"{FAVORITES}/{first['id']}", {"position": 5})  # past the end: last
    assert moved["position"] == 2
    assert await listed(alice) == [(three, 0), (two, 1), (one, 2)]
    await alice.post(FAVORITES, favorite(one, position=0), expect=200)  # re-favorite moves it
    assert await listed(alice) == [(one, 0), (three, 1), (two, 2)]

    page = await alice.get(f"{FAVORITES}?limit=2")
    rest = await alice.get(f"{FAVORITES}?limit=2&cursor={page['next']}")
    assert [i["object_id"] for i in page["items"] + rest["items"]] == [one, three, two]
    assert rest["next"] is None

    await alice.delete(f"{FAVORITES}/{first['id']}")
    assert await listed(alice) == [(three, 0), (two, 1)]
    await alice.delete(f"{FAVORITES}?object_type=query&object_id={three}")
    assert await listed(alice) == [(two, 0)]
    await alice.delete(f"{FAVORITES}?object_type=query&object_id={three}", expect=404)
    await alice.delete(f"{FAVORITES}/{first['id']}", expect=404)
    with server_services.db.transaction() as tx:
        types = tx.scalars(
            select(ActivityEvent.type).where(ActivityEvent.type.like("query.%favorited"))
        ).all()
    assert sorted(types) == ["query.favorited"] * 3 + ["query.unfavorited"] * 2


async def test_only_objects_you_can_view_and_only_your_own_favorites(people) -> None:
    p = await people()
    alice, bob, (one, *_) = p["alice"], p["bob"], p["q"]
    reply = await bob.request("POST", FAVORITES, favorite(one), expect=404)
    assert reply.body["message"] == "query not found"
    await bob.post(FAVORITES, favorite(new_id()), expect=404)
    await bob.post(FAVORITES, {"object_type": "chart", "object_id": new_id()}, expect=404)
    await bob.post(FAVORITES, {"object_type": "dashboard", "object_id": one}, expect=422)
    await bob.post(FAVORITES, favorite(one, position=-1), expect=422)

    mine = await alice.post(FAVORITES, favorite(one), expect=201)
    await bob.patch(f"{FAVORITES}/{mine['id']}", {"position": 0}, expect=404)
    await bob.delete(f"{FAVORITES}/{mine['id']}", expect=404)
    assert (await bob.get(FAVORITES))["items"] == []
    assert await listed(alice) == [(one, 0)]


async def test_a_favorite_leaves_with_access_and_comes_back_with_it(people, server_services):
    p = await people()
    alice, bob, (one, two, _) = p["alice"], p["bob"], p["q"]
    share(server_services, p, one)
    share(server_services, p, two)
    await bob.post(FAVORITES, favorite(one), expect=201)
    await bob.post(FAVORITES, favorite(two), expect=201)
    assert await listed(bob) == [(one, 0), (two, 1)]

    grants = server_services.sharing.list_grants(p["ids"]["alice"], "query", one)
    server_services.sharing.revoke(p["ids"]["alice"], "query", grants[0].id, HERE)
    assert await listed(bob) == [(two, 1)]  # one's place is kept for it
    await bob.post(FAVORITES, favorite(one), expect=404)

    share(server_services, p, one)
    assert await listed(bob) == [(one, 0), (two, 1)]

    await alice.patch(f"/api/query/{two}", {"name": "renamed"})
    assert [i["name"] for i in (await bob.get(FAVORITES))["items"]] == ["<b>one</b>", "renamed"]
    await alice.delete(f"/api/query/{two}")
    assert await listed(bob) == [(one, 0)]
    with server_services.db.transaction() as tx:
        count = select(func.count()).select_from(Favorite).where(Favorite.object_id == two)
        assert tx.scalar(count) == 0


# -- the service on both store backends ------------------------------------------------------------


@pytest.fixture
def lib(db: Database, tmp_path: Path) -> Iterator[Library]:
    with library(db, tmp_path) as made:
        yield made


def test_order_visibility_and_deletion_on_both_store_backends(lib: Library) -> None:
    alice, bob, admin = lib.world.alice, lib.world.bob, lib.world.admin
    queries = [lib.create(alice, name=f"q{n}") for n in range(3)]
    for query_id in queries:
        body = GrantCreate(object_id=query_id, principal_id=bob, level="view")
        lib.world.sharing.grant(alice, "query", body, HERE)
    favorites = lib.favorites

    def order() -> list[str]:
        return [item.name for item in favorites.list(bob, FavoriteListQuery()).items]

    added = [favorites.add(bob, FavoriteCreate(**favorite(q)), HERE)[0] for q in queries]
    favorites.move(bob, added[2].id, 0)
    assert order() == ["q2", "q0", "q1"]
    assert favorites.add(admin, FavoriteCreate(**favorite(queries[0])), HERE)[1] is True

    grants = lib.world.sharing.list_grants(alice, "query", queries[0])
    lib.world.sharing.revoke(alice, "query", grants[0].id, HERE)
    assert order() == ["q2", "q1"]
    with pytest.raises(NotFound):
        favorites.move(bob, added[0].id, 0)

    lib.queries.delete(alice, queries[1], False, HERE)
    assert order() == ["q2"]
    assert [i.name for i in favorites.list(admin, FavoriteListQuery()).items] == ["q0"]
    with pytest.raises(Forbidden, match="share link"):
        favorites.add("link:" + new_id(), FavoriteCreate(**favorite(queries[2])), HERE)
    assert favorites.list("link:" + new_id(), FavoriteListQuery()).items == []


async def test_deleting_a_chart_takes_its_favorites_with_it(people, server_services) -> None:
    p = await people()
    alice = p["alice"]
    spec = {"type": "bar", "encodings": {"x": {"field": "x"}, "y": {"field": "x"}}}
    chart = await alice.post(
        "/api/chart", {"name": "c", "query_id": p["q"][1], "spec": spec}, expect=201
    )
    await alice.post(FAVORITES, {"object_type": "chart", "object_id": chart["id"]}, expect=201)
    await alice.post(FAVORITES, favorite(p["q"][0]), expect=201)
    await alice.delete(f"/api/chart/{chart['id']}")
    with server_services.db.transaction() as tx:
        kinds = tx.scalars(select(Favorite.object_type)).all()
    assert kinds == ["query"]  # the chart's favorite row is gone, not merely hidden

"""What a deleted account owned (``deleted_user_objects``): handed to the deleting admin, or
deleted with its grants; grants the account held go either way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from traitlets.config import Config

from analytics_ext.store.models import (
    ActivityEvent,
    Chart,
    ChartTemplate,
    Datasource,
    ObjectGrant,
    QueryTemplate,
    SavedQuery,
)


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(params=["reassign", "delete"])
def policy(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    folder = tmp_path / "databases"
    folder.mkdir()
    with sqlite3.connect(folder / "shop.sqlite") as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    return f"sqlite:///{folder / 'shop.sqlite'}"


@pytest.fixture
def jp_server_config(jp_server_config: Config, policy: str, tmp_path: Path) -> Config:
    jp_server_config.AnalyticsExtension.deleted_user_objects = policy
    jp_server_config.AnalyticsExtension.datasource_dirs = [str(tmp_path / "databases")]
    return jp_server_config


def rows(services, statement) -> list:
    with services.db.transaction() as tx:
        return list(tx.execute(statement).all())


async def test_a_deleted_users_datasources_follow_the_policy(
    api, create_account, login, server_services, policy, shop_url
):
    owner = await api.get("/api/user")
    dana = await create_account("dana", is_admin=True)  # admins may add file datasources
    bob = await create_account("bob")
    client = await login("dana")
    url = shop_url
    mine = (await client.request("POST", "/api/datasources", {"name": "shop", "url": url})).body
    # The owner already has a datasource called "shop": the heir's names must stay unique.
    await api.request("POST", "/api/datasources", {"name": "shop", "url": url}, expect=201)
    await client.request(
        "POST", "/api/datasources/share",
        {"object_id": mine["id"], "principal_id": bob.id, "level": "use"}, expect=201,
    )  # fmt: skip
    theirs = (await api.request("POST", "/api/datasources", {"name": "kept", "url": url})).body
    await api.request(
        "POST", "/api/datasources/share",
        {"object_id": theirs["id"], "principal_id": dana.id, "level": "manage"}, expect=201,
    )  # fmt: skip

    await api.request("DELETE", f"/api/admin/users/{dana.id}", expect=204)

    held = select(func.count()).where(ObjectGrant.principal_id == dana.id)
    assert rows(server_services, held) == [(0,)]
    left = rows(server_services, select(Datasource.name, Datasource.owner_id).where(
        Datasource.id == mine["id"]))  # fmt: skip
    grants_on_it = select(ObjectGrant.principal_id).where(ObjectGrant.object_id == mine["id"])
    if policy == "reassign":
        assert left == [("shop (from dana)", owner["id"])]
        assert rows(server_services, grants_on_it) == [(bob.id,)]  # bob keeps his access
        await api.request("GET", f"/api/datasources/{mine['id']}", expect=200)
    else:
        assert left == []
        assert rows(server_services, grants_on_it) == []
    [(details,)] = rows(server_services, select(ActivityEvent.details).where(
        ActivityEvent.type == "admin.user_deleted"))  # fmt: skip
    assert details["objects"] == {"policy": policy, "datasource": 1}


async def test_a_deleted_users_queries_charts_and_templates_follow_the_policy(
    api, create_account, login, server_services, policy, shop_url
):
    owner = await api.get("/api/user")
    dana = await create_account("dana", is_admin=True)
    bob = await create_account("bob")
    client = await login("dana")
    source = await client.post("/api/datasources", {"name": "shop", "url": shop_url}, expect=201)
    query = await client.post(
        "/api/query",
        {"name": "ids", "datasource_id": source["id"], "sql": "SELECT id, id AS n FROM orders"},
        expect=201,
    )
    spec = {"type": "bar", "encodings": {"x": {"field": "id"}, "y": {"field": "n"}}}
    chart = await client.post(
        "/api/chart", {"name": "ids", "query_id": query["id"], "spec": spec}, expect=201
    )
    template = await client.post(
        "/api/query/templates", {"name": "all", "body": "SELECT 1 AS one"}, expect=201
    )
    preset = await client.post(
        "/api/chart/templates", {"name": "bars", "from_chart_id": chart["id"]}, expect=201
    )
    share = {"object_id": query["id"], "principal_id": bob.id, "level": "view"}
    await client.post("/api/query/share", share, expect=201)

    await api.request("DELETE", f"/api/admin/users/{dana.id}", expect=204)

    objects = {
        "query": (SavedQuery, query["id"]),
        "chart": (Chart, chart["id"]),
        "query_template": (QueryTemplate, template["id"]),
        "chart_template": (ChartTemplate, preset["id"]),
    }
    for model, object_id in objects.values():
        owners = rows(server_services, select(model.owner_id).where(model.id == object_id))
        assert owners == ([(owner["id"],)] if policy == "reassign" else [])
    grants = select(ObjectGrant.principal_id).where(ObjectGrant.object_id == query["id"])
    assert rows(server_services, grants) == ([(bob.id,)] if policy == "reassign" else [])
    [(details,)] = rows(server_services, select(ActivityEvent.details).where(
        ActivityEvent.type == "admin.user_deleted"))  # fmt: skip
    assert details["objects"] == {
        "policy": policy, "datasource": 1, **dict.fromkeys(objects, 1)
    }  # fmt: skip

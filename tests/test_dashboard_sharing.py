"""Sharing dashboards: with a user (listed, changed, revoked), and by link. A link to dashboard
A opens A read-only and nothing else: 404 for dashboard B, for the queries and charts on A,
for A's edit, delete, history, publish and share routes; 404 once revoked or expired. Its url
is A's viewer page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from traitlets.config import Config

from analytics_ext.store.models import ObjectGrant
from analytics_ext.store.types import utcnow
from tests.support.api import ApiClient
from tests.support.dashboard_team import create_board, sales_database, team_factory

pytestmark = pytest.mark.timeout(120)

PUBLIC_URL = "https://analytics.example.org/team/"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def jp_server_config(jp_server_config: Config, tmp_path) -> Config:
    jp_server_config.AnalyticsExtension.public_url = PUBLIC_URL
    jp_server_config.AnalyticsExtension.dashboards_dir = str(tmp_path / "published")
    return jp_server_config


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with sales_database() as url:
        yield url


@pytest.fixture
def make_team(api, create_account, login, server_services, sales_url):
    return team_factory(api, create_account, login, server_services, sales_url)


def bearer(jp_fetch, token: str) -> ApiClient:
    return ApiClient(jp_fetch, headers={"Authorization": f"Bearer {token}"})


async def test_share_with_a_user(make_team):
    team = await make_team()
    created = await create_board(team.alice, team)
    path = f"/api/dashboards/{created['id']}"
    body = {"object_id": created["id"], "principal_id": team.bob_id, "level": "view"}
    grant = await team.alice.post("/api/dashboards/share", body, expect=201)
    assert grant["object_type"] == "dashboard"
    assert grant["principal_name"] == "bob"
    assert grant["token"] is None
    assert (await team.bob.get(path))["permission"] == "view"

    again = await team.alice.post("/api/dashboards/share", {**body, "level": "edit"}, expect=200)
    assert again["id"] == grant["id"]
    assert (await team.bob.get(path))["permission"] == "edit"
    grants = (await team.alice.get(f"/api/dashboards/share?object_id={created['id']}"))["items"]
    assert [(g["principal_name"], g["level"]) for g in grants] == [("bob", "edit")]

    await team.alice.request("POST", "/api/dashboards/share", {**body, "level": "own"}, expect=422)
    await team.alice.request(
        "POST", "/api/dashboards/share", {**body, "object_type": "chart"}, expect=422
    )
    await team.alice.delete(f"/api/dashboards/share/{grant['id']}")
    await team.bob.get(path, expect=404)
    # Grants of other areas are not revoked through this one.
    chart_grant = await team.alice.post(
        "/api/chart/share",
        {"object_id": team.chart_id, "principal_id": team.bob_id, "level": "view"},
        expect=201,
    )
    await team.alice.delete(f"/api/dashboards/share/{chart_grant['id']}", expect=404)


async def test_a_link_opens_that_dashboard_and_nothing_else(make_team, jp_fetch):
    team = await make_team()
    a = await create_board(team.alice, team, title="A")
    b = await create_board(team.alice, team, title="B")
    made = await team.alice.post(
        "/api/dashboards/share", {"object_id": a["id"], "principal_type": "link"}, expect=201
    )
    assert made["token"].startswith("ael_")
    assert made["url"] == (
        f"{PUBLIC_URL}analytics/dashboards/{a['id']}?share_token={made['token']}"
    )
    listed = (await team.alice.get(f"/api/dashboards/share?object_id={a['id']}"))["items"]
    assert [(g["id"], g["principal_type"], g["token"]) for g in listed] == [
        (made["id"], "link", None)
    ]

    link, item = bearer(jp_fetch, made["token"]), f"/api/dashboards/{a['id']}"
    seen = await link.get(item)
    assert seen["title"] == "A"
    assert seen["permission"] == "view"
    as_url = ApiClient(jp_fetch, headers={"Authorization": ""})
    assert (await as_url.get(f"{item}?share_token={made['token']}"))["title"] == "A"

    refused = [
        ("GET", f"/api/dashboards/{b['id']}", None),
        ("GET", f"/api/query/{team.query_id}", None),
        ("POST", f"/api/query/{team.query_id}/run", {}),
        ("GET", f"/api/chart/{team.chart_id}", None),
        ("GET", f"/api/chart/{team.chart_id}/data", None),
        ("PATCH", item, {"title": "defaced"}),
        ("DELETE", item, None),
        ("GET", f"{item}/versions", None),
        ("GET", f"{item}/versions/2", None),  # only the version the link shows (1) opens
        ("POST", f"{item}/versions/1/restore", None),
        ("POST", f"{item}/publish", None),
        ("DELETE", f"{item}/publish", None),
        ("GET", f"/api/dashboards/share?object_id={a['id']}", None),
        ("POST", "/api/dashboards/share", {"object_id": a["id"], "principal_type": "link"}),
        ("DELETE", f"/api/dashboards/share/{made['id']}", None),
        ("GET", "/api/dashboards", None),
        ("POST", "/api/dashboards", {"title": "mine"}),
    ]
    statuses = {
        (method, path): (await link.request(method, path, body)).status
        for method, path, body in refused
    }
    # 404 everywhere, the collection (which takes no link at all) included.
    expected = {(method, path): 404 for method, path, _ in refused}
    assert statuses == expected
    after = await team.alice.get(item)
    assert after["title"] == "A"
    assert after["version"] == 1
    assert after["published_version"] is None
    assert len((await team.alice.get("/api/dashboards"))["items"]) == 2

    await team.alice.delete(f"/api/dashboards/share/{made['id']}")
    await link.get(item, expect=404)  # revoked: A is gone for the link
    assert (await team.alice.get(f"/api/dashboards/share?object_id={a['id']}"))["items"] == []


async def test_an_expired_link_is_404(make_team, jp_fetch):
    team = await make_team()
    a = await create_board(team.alice, team)
    item = f"/api/dashboards/{a['id']}"
    made = await team.alice.post(
        "/api/dashboards/share", {"object_id": a["id"], "principal_type": "link"}, expect=201
    )
    link = bearer(jp_fetch, made["token"])
    await link.get(item)
    with team.services.db.transaction() as tx:
        tx.execute(
            update(ObjectGrant)
            .where(ObjectGrant.id == made["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await link.get(item, expect=404)
    await bearer(jp_fetch, "ael_" + "0" * 12 + "_" + "0" * 43).get(item, expect=404)


async def test_links_need_manage_and_grant_view_only(make_team):
    team = await make_team()
    a = await create_board(team.alice, team)
    team.grant("dashboard", a["id"], team.bob_id, "edit")
    body = {"object_id": a["id"], "principal_type": "link"}
    await team.bob.post("/api/dashboards/share", body, expect=403)
    reply = await team.alice.request(
        "POST", "/api/dashboards/share", {**body, "level": "edit"}, expect=422
    )
    assert reply.body["message"] == "level: a share link grants view only"


async def test_deleting_a_dashboard_ends_its_links(make_team, jp_fetch):
    team = await make_team()
    a = await create_board(team.alice, team)
    made = await team.alice.post(
        "/api/dashboards/share", {"object_id": a["id"], "principal_type": "link"}, expect=201
    )
    await team.alice.delete(f"/api/dashboards/{a['id']}")
    with team.services.db.transaction() as tx:
        assert tx.get(ObjectGrant, made["id"]) is None
    await bearer(jp_fetch, made["token"]).get(f"/api/dashboards/{a['id']}", expect=404)

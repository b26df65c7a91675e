"""Share links over HTTP, on a local and on a team server: a link to query A opens A (as saved,
runnable with parameter values) and nothing else — 404 for query B, for A's edit, delete and
share routes, for running A with edited SQL, and for A itself once the link is revoked or has
expired. A chart's link shows the chart and its data, not its query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from analytics_ext.store.models import ObjectGrant
from analytics_ext.store.types import utcnow
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import ended, make_datasource, save_query

pytestmark = pytest.mark.timeout(120)

BY_ID = "SELECT id, name FROM customers WHERE id = :id"
ID_PARAMETER = {"name": "id", "type": "number", "integer": True, "default": 1}
BAR = {"type": "bar", "encodings": {"x": {"field": "name"}, "y": {"field": "id"}}}


@pytest.fixture(params=[False, True], ids=["local", "team"])
def multi_user(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


async def make_link(api: ApiClient, area: str, object_id: str, **fields) -> dict:
    body = {"object_id": object_id, "principal_type": "link", **fields}
    return await api.post(f"/api/{area}/share", body, expect=201)


def bearer(jp_fetch, token: str) -> ApiClient:
    return ApiClient(jp_fetch, headers={"Authorization": f"Bearer {token}"})


async def test_a_query_link_opens_that_query_and_nothing_else(
    api: ApiClient, jp_fetch, shop_url: str, server_services
) -> None:
    source = await make_datasource(api, shop_url)
    a = await save_query(api, source, BY_ID, name="A", parameters=[ID_PARAMETER])
    b = await save_query(api, source, "SELECT 1 AS one", name="B")
    made = await make_link(api, "query", a["id"])
    assert made["token"].startswith("ael_")
    assert made["url"].endswith(f"/api/query/{a['id']}?share_token={made['token']}")
    link, item = bearer(jp_fetch, made["token"]), f"/api/query/{a['id']}"

    assert (await link.get(item))["sql"] == BY_ID
    as_url = ApiClient(jp_fetch, headers={"Authorization": ""})  # the token in the URL
    assert (await as_url.get(f"{item}?share_token={made['token']}"))["name"] == "A"
    run = await link.post(f"{item}/run", {"parameters": {"id": 2}}, expect=202)
    finished = await ended(link, run["id"])
    assert finished["state"] == "succeeded"
    page = await link.get(f"/api/query/runs/{run['id']}/result")
    assert page["rows"] == [{"id": 2, "name": "Grace"}]

    refused = [
        ("GET", f"/api/query/{b['id']}", None),
        ("POST", f"/api/query/{b['id']}/run", {}),
        ("PATCH", item, {"name": "defaced"}),
        ("DELETE", item, None),
        ("POST", f"{item}/run", {"sql": "SELECT email FROM customers"}),
        ("GET", f"/api/query/share?object_id={a['id']}", None),
        ("POST", "/api/query/share", {"object_id": a["id"], "principal_type": "link"}),
        ("DELETE", f"/api/query/share/{made['id']}", None),
        ("GET", f"/api/chart?query_id={a['id']}", None),
    ]
    statuses = [(await link.request(method, path, body)).status for method, path, body in refused]
    # 404 everywhere, the list of charts (which takes no link at all) included.
    assert statuses == [404] * len(refused)
    assert (await api.get(item))["name"] == "A"  # nothing changed
    grants = (await api.get(f"/api/query/share?object_id={a['id']}"))["items"]
    assert [(g["principal_type"], g["token"]) for g in grants] == [("link", None)]

    await api.delete(f"/api/query/share/{made['id']}")
    await link.get(item, expect=404)  # revoked: A is gone for the link
    await link.post(f"{item}/run", {}, expect=404)

    expiring = await make_link(api, "query", a["id"])
    expiring_link = bearer(jp_fetch, expiring["token"])
    await expiring_link.get(item)
    with server_services.db.transaction() as tx:
        tx.execute(
            update(ObjectGrant)
            .where(ObjectGrant.id == expiring["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await expiring_link.get(item, expect=404)
    await bearer(jp_fetch, "ael_" + "0" * 12 + "_" + "0" * 43).get(item, expect=404)


async def test_a_chart_link_shows_the_chart_and_its_data_not_its_query(
    api: ApiClient, jp_fetch, shop_url: str
) -> None:
    source = await make_datasource(api, shop_url)
    query = await save_query(api, source, "SELECT id, name FROM customers", name="all")
    chart = await api.post(
        "/api/chart", {"name": "ids", "query_id": query["id"], "spec": BAR}, expect=201
    )
    made = await make_link(api, "chart", chart["id"])
    link = bearer(jp_fetch, made["token"])
    assert (await link.get(f"/api/chart/{chart['id']}"))["name"] == "ids"
    data = await link.get(f"/api/chart/{chart['id']}/data")
    assert sorted(row["name"] for row in data["rows"]) == ["Ada", "Grace"]
    await link.get(f"/api/query/{query['id']}", expect=404)
    await link.patch(f"/api/chart/{chart['id']}", {"name": "x"}, expect=404)
    await link.request("DELETE", f"/api/chart/{chart['id']}", expect=404)


async def test_link_bodies_are_checked(api: ApiClient, shop_url: str) -> None:
    source = await make_datasource(api, shop_url)
    a = await save_query(api, source, "SELECT 1 AS one", name="A")
    cases = [
        ({"level": "edit"}, "level: a share link grants view only"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at: must be in the future"),
        ({"principal_id": a["id"]}, "principal_id"),
        ({"object_type": "datasource"}, "object_type: must be one of: query, query_template"),
    ]
    for extra, message in cases:
        body = {"object_id": a["id"], "principal_type": "link", **extra}
        reply = await api.request("POST", "/api/query/share", body, expect=422)
        assert message in reply.body["message"], reply.body
    reply = await api.request(
        "POST",
        "/api/datasources/share",
        {"object_id": source, "principal_type": "link"},
        expect=422,
    )
    assert "cannot be shared by link" in reply.body["message"]

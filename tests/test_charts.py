"""Charts over HTTP on a team server with a real PostgreSQL datasource: CRUD, field-level 422s
for specs, parameters and columns, markup kept as text, customization with defaults from the
user's settings, pagination, and who may see and do what (another user's chart is 404; viewer
vs editor; a chart's viewer sees its data without seeing its query)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services import Services
from analytics_ext.services.activity import RequestOrigin
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query
from tests.test_chart_sql import DDL

pytestmark = pytest.mark.timeout(120)

SQL = "SELECT * FROM sales WHERE amount >= :min_amount"
PARAMETERS = [{"name": "min_amount", "type": "number", "default": 0}]
BAR = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
}
HERE = RequestOrigin("127.0.0.1")


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with postgres_database(DDL) as url:
        yield url


@dataclass
class Team:
    alice: ApiClient
    bob: ApiClient
    alice_id: str
    bob_id: str
    query_id: str
    services: Services

    def grant(self, kind: str, object_id: str, user_id: str, level: str) -> None:
        body = GrantCreate(object_id=object_id, principal_id=user_id, level=level)
        self.services.sharing.grant(self.alice_id, kind, body, HERE)


@pytest.fixture
def make_team(api, create_account, login, server_services, sales_url):
    """``await make_team()``: Alice (who may use the owner's PostgreSQL datasource) with a
    saved query; Bob, with nothing."""

    async def make() -> Team:
        alice_out, bob_out = await create_account("alice"), await create_account("bob")
        owner_id = (await api.get("/api/user"))["id"]
        source = await make_datasource(api, sales_url)
        body = GrantCreate(object_id=source, principal_id=alice_out.id, level="use")
        server_services.sharing.grant(owner_id, "datasource", body, HERE)
        alice, bob = await login("alice"), await login("bob")
        query = await save_query(alice, source, SQL, parameters=PARAMETERS)
        return Team(alice, bob, alice_out.id, bob_out.id, query["id"], server_services)

    return make


async def create(client: ApiClient, query_id: str, expect: int = 201, **fields: Any) -> Any:
    body = {"name": "revenue by region", "query_id": query_id, "spec": BAR, **fields}
    return (await client.request("POST", "/api/chart", body, expect=expect)).body


# -- CRUD ---------------------------------------------------------------------------------------


async def test_create_read_update_delete(make_team) -> None:
    team = await make_team()
    name = "<b>Revenue</b> & <script>alert(1)</script>"
    customization = {"title": "<i>Top</i> regions", "palette": ["#112233", "#445566"]}
    chart = await create(
        team.alice,
        team.query_id,
        name=name,
        description="<p>desc</p>",
        parameters={"min_amount": 5},
        customization=customization,
    )
    assert chart["name"] == name
    assert chart["description"] == "<p>desc</p>"
    assert chart["owner_id"] == team.alice_id
    assert chart["permission"] == "manage"
    assert chart["parameters"] == {"min_amount": 5}
    assert chart["spec"]["aggregation"] == {"op": "sum"}
    assert chart["customization"]["title"] == "<i>Top</i> regions"
    assert await team.alice.get(f"/api/chart/{chart['id']}") == chart

    changed = await team.alice.patch(
        f"/api/chart/{chart['id']}",
        {"spec": {**BAR, "sort": {"by": "y", "order": "descending"}, "limit": 1}},
    )
    assert changed["spec"]["limit"] == 1
    assert changed["customization"]["title"] == "<i>Top</i> regions"  # untouched
    data = await team.alice.get(f"/api/chart/{chart['id']}/data")
    assert data["rows"] == [{"region": "north", "amount": 60}]

    await team.alice.delete(f"/api/chart/{chart['id']}")
    missing = await team.alice.request("GET", f"/api/chart/{chart['id']}", expect=404)
    assert missing.body["message"] == "chart not found"


async def test_customization_defaults_come_from_the_users_settings(make_team) -> None:
    team = await make_team()
    await team.alice.patch(
        "/api/user/settings",
        {"chart_palette": "viridis", "chart_theme": "dark", "date_format": "DD.MM.YYYY"},
    )
    chart = await create(team.alice, team.query_id, customization={"title": "Mine"})
    assert chart["customization"]["palette"] is None  # only what was chosen is stored
    assert chart["customization"]["theme"] is None
    effective = chart["effective_customization"]
    assert (effective["palette"], effective["theme"]) == ("viridis", "dark")
    assert effective["date_format"] == "%d.%m.%Y"
    assert effective["title"] == "Mine"
    chosen = await team.alice.patch(
        f"/api/chart/{chart['id']}", {"customization": {"palette": "tableau10"}}
    )
    assert chosen["effective_customization"]["palette"] == "tableau10"
    assert chosen["effective_customization"]["title"] is None  # replaced whole


async def test_list_is_paginated_filtered_and_shows_only_visible_charts(make_team) -> None:
    team = await make_team()
    made = [await create(team.alice, team.query_id, name=f"c{i}") for i in range(3)]
    first = await team.alice.get("/api/chart?limit=2")
    assert [item["name"] for item in first["items"]] == ["c0", "c1"]
    assert first["total"] == 3
    second = await team.alice.get(f"/api/chart?limit=2&cursor={first['next']}")
    assert [item["name"] for item in second["items"]] == ["c2"]
    assert second["next"] is None
    assert (await team.alice.get(f"/api/chart?query_id={team.query_id}"))["total"] == 3
    assert (await team.alice.get(f"/api/chart?query_id={'x' * 22}"))["total"] == 0
    assert await team.bob.get("/api/chart") == {"items": [], "next": None, "total": 0}
    team.grant("chart", made[1]["id"], team.bob_id, "view")
    seen = await team.bob.get("/api/chart")
    assert [(item["name"], item["permission"]) for item in seen["items"]] == [("c1", "view")]


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"spec": {"type": "bar", "encodings": {"x": {"field": "region"}}}},
            "spec.encodings.y: a bar chart needs a y field",
        ),
        (
            {"spec": {"type": "donut", "encodings": {}}},
            "spec.type: Input should be 'bar', 'line', 'area', 'scatter', 'pie', 'histogram', "
            "'heatmap' or 'box'",
        ),
        (
            {
                "spec": {
                    "type": "bar",
                    "encodings": {"x": {"field": "foo"}, "y": {"field": "amount"}},
                }
            },
            "spec.encodings.x.field: 'foo' is not a column of the query (columns: region, "
            "product, amount, price, sold_on)",
        ),
        (
            {"spec": {"type": "histogram", "encodings": {"x": {"field": "region"}}}},
            "spec.encodings.x.field: a histogram bins numbers or dates; 'region' is text",
        ),
        (
            {"spec": {**BAR, "encodings": {"x": {"field": "amount"}, "y": {"field": "product"}}}},
            "spec.encodings.y.field: sum needs a numeric column; 'product' is text",
        ),
        (
            {"parameters": {"min_amount": "five"}},
            "parameters.min_amount: must be a number",
        ),
        (
            {"parameters": {"max_amount": 3}},
            "parameters.max_amount: is not a parameter of this query",
        ),
        (
            {"customization": {"palette": ["#12345g"]}},
            "customization.palette.0: '#12345g' is not a #rrggbb colour",
        ),
        (
            {"customization": {"width": 10}},
            "customization.width: Input should be greater than or equal to 50",
        ),
    ],
)
async def test_invalid_charts_are_422_naming_the_field(
    make_team, fields: dict[str, Any], message: str
) -> None:
    team = await make_team()
    refused = await create(team.alice, team.query_id, expect=422, **fields)
    assert refused["message"] == message
    assert (await team.alice.get("/api/chart"))["total"] == 0


async def test_an_invalid_patch_changes_nothing(make_team) -> None:
    team = await make_team()
    chart = await create(team.alice, team.query_id)
    bad = {"spec": {**BAR, "encodings": {"x": {"field": "nope"}, "y": {"field": "amount"}}}}
    refused = await team.alice.request("PATCH", f"/api/chart/{chart['id']}", bad, expect=422)
    assert refused.body["message"].startswith("spec.encodings.x.field: 'nope' is not a column")
    assert await team.alice.get(f"/api/chart/{chart['id']}") == chart


async def test_a_chart_of_a_query_you_cannot_view_is_404(make_team) -> None:
    team = await make_team()
    refused = await create(team.bob, team.query_id, expect=404)
    assert refused["message"] == "query not found"


# -- who may do what -----------------------------------------------------------------------------


async def test_another_users_chart_is_404_everywhere(make_team) -> None:
    team = await make_team()
    chart = await create(team.alice, team.query_id)
    path = f"/api/chart/{chart['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        refused = await team.bob.request(method, path, body, expect=404)
        assert refused.body["message"] == "chart not found"
    await team.bob.request("GET", f"{path}/data", expect=404)
    assert (await team.alice.get(path))["name"] == chart["name"]


async def test_viewer_sees_data_without_the_query_and_editor_edits(make_team) -> None:
    team = await make_team()
    chart = await create(team.alice, team.query_id, parameters={"min_amount": 6})
    path = f"/api/chart/{chart['id']}"
    team.grant("chart", chart["id"], team.bob_id, "view")
    seen = await team.bob.get(path)
    assert seen["permission"] == "view"
    data = await team.bob.get(f"{path}/data")
    assert data["rows"] == [
        {"region": "north", "amount": 60},
        {"region": "south", "amount": 7},
    ]
    await team.bob.request("GET", f"/api/query/{team.query_id}", expect=404)
    forbidden = await team.bob.request("PATCH", path, {"name": "mine"}, expect=403)
    assert "edit" in forbidden.body["message"]
    await team.bob.request("DELETE", path, expect=403)

    team.grant("chart", chart["id"], team.bob_id, "edit")
    edited = await team.bob.patch(path, {"name": "bob's", "parameters": {"min_amount": 20}})
    assert (edited["name"], edited["permission"]) == ("bob's", "edit")
    assert (await team.bob.get(f"{path}/data"))["rows"] == [{"region": "north", "amount": 50}]
    await team.bob.request("DELETE", path, expect=403)
    same = await team.bob.patch(path, {"query_id": team.query_id})  # no view on it needed
    assert same["query_id"] == team.query_id

    team.grant("chart", chart["id"], team.bob_id, "manage")
    await team.bob.delete(path)
    await team.alice.request("GET", path, expect=404)


async def test_an_editor_cannot_move_a_chart_to_a_query_they_cannot_view(make_team) -> None:
    team = await make_team()
    chart = await create(team.alice, team.query_id)
    team.grant("chart", chart["id"], team.bob_id, "edit")
    query = await team.alice.get(f"/api/query/{team.query_id}")
    other = await save_query(team.alice, query["datasource_id"], "SELECT * FROM sales", "q2")
    path = f"/api/chart/{chart['id']}"
    refused = await team.bob.request("PATCH", path, {"query_id": other["id"]}, expect=404)
    assert refused.body["message"] == "query not found"
    assert (await team.alice.get(path))["query_id"] == team.query_id
    team.grant("query", other["id"], team.bob_id, "view")
    assert (await team.bob.patch(path, {"query_id": other["id"]}))["query_id"] == other["id"]


async def test_a_share_link_views_one_chart_and_its_data_only(make_team, jp_fetch) -> None:
    team = await make_team()
    chart = await create(team.alice, team.query_id, parameters={"min_amount": 6})
    other = await create(team.alice, team.query_id, name="other")
    body = GrantCreate(object_id=chart["id"], principal_type="link", level="view")
    grant, _ = team.services.sharing.grant(team.alice_id, "chart", body, HERE)
    link = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {grant.token}"})
    path = f"/api/chart/{chart['id']}"
    assert (await link.get(path))["permission"] == "view"
    data = await link.get(f"{path}/data")
    assert data["rows"] == [{"region": "north", "amount": 60}, {"region": "south", "amount": 7}]
    await link.request("PATCH", path, {"name": "x"}, expect=404)
    await link.request("DELETE", path, expect=404)
    await link.request("GET", f"/api/chart/{other['id']}", expect=404)
    await link.request("GET", f"/api/chart/{other['id']}/data", expect=404)
    await link.request("GET", f"/api/query/{team.query_id}", expect=404)

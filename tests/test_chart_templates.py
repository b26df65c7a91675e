"""Chart templates over HTTP on a team server: a spec with roles and a style preset, applied to
any query with fitting columns (422 naming the channel otherwise), made from a chart, shared
through the sharing service (another user's template is 404)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import test_charts
from tests.support.api import ApiClient
from tests.support.query_library import save_query
from tests.test_charts import BAR, Team, create

# The team-server fixtures of the chart tests (a team server, two users, a PostgreSQL query).
multi_user = test_charts.multi_user
sales_url = test_charts.sales_url
make_team = test_charts.make_team

pytestmark = pytest.mark.timeout(120)

TEMPLATE = {
    "name": "Totals by category",
    "description": "<em>sum</em> of a value per category",
    "spec": {
        "type": "bar",
        "encodings": {
            "x": {"field": "category", "type": "nominal"},
            "y": {"field": "value", "type": "quantitative"},
        },
        "aggregation": {"op": "sum"},
        "sort": {"by": "y", "order": "descending"},
    },
    "customization": {"title": "Totals", "palette": "colorblind", "legend": "none"},
}


async def make_template(client: ApiClient, **fields: Any) -> dict[str, Any]:
    return await client.post("/api/chart/templates", {**TEMPLATE, **fields}, expect=201)


async def test_create_list_get_update_delete(make_team) -> None:
    team: Team = await make_team()
    template = await make_template(team.alice)
    assert template["description"] == "<em>sum</em> of a value per category"
    assert template["roles"] == [
        {"channel": "x", "role": "category", "type": "nominal"},
        {"channel": "y", "role": "value", "type": "quantitative"},
    ]
    assert template["customization"]["palette"] == "colorblind"
    assert template["permission"] == "manage"
    path = f"/api/chart/templates/{template['id']}"
    assert await team.alice.get(path) == template
    listed = await team.alice.get("/api/chart/templates")
    assert [item["id"] for item in listed["items"]] == [template["id"]]
    renamed = await team.alice.patch(path, {"name": "Renamed", "customization": {"title": "T"}})
    assert (renamed["name"], renamed["customization"]["title"]) == ("Renamed", "T")
    assert renamed["customization"]["palette"] is None
    await team.alice.delete(path)
    await team.alice.request("GET", path, expect=404)


async def test_apply_binds_roles_to_columns_and_makes_a_chart(make_team) -> None:
    team: Team = await make_team()
    template = await make_template(team.alice)
    body = {
        "query_id": team.query_id,
        "name": "Sales by region",
        "bindings": {"x": "region", "y": "amount"},
        "parameters": {"min_amount": 6},
    }
    chart = await team.alice.post(f"/api/chart/templates/{template['id']}/apply", body, expect=201)
    assert chart["spec"]["encodings"]["x"] == {"field": "region", "type": "nominal"}
    assert chart["spec"]["encodings"]["y"] == {"field": "amount", "type": "quantitative"}
    assert chart["customization"]["title"] == "Totals"
    assert chart["parameters"] == {"min_amount": 6}
    data = await team.alice.get(f"/api/chart/{chart['id']}/data")
    assert data["rows"] == [{"region": "north", "amount": 60}, {"region": "south", "amount": 7}]


async def test_a_channel_left_out_binds_the_column_named_like_its_role(make_team) -> None:
    team: Team = await make_team()
    template = await make_template(team.alice)
    query = await team.alice.get(f"/api/query/{team.query_id}")
    renamed = await save_query(
        team.alice,
        query["datasource_id"],
        "SELECT region AS category, price AS value FROM sales",
        "renamed",
    )
    body = {"query_id": renamed["id"], "name": "by role"}
    chart = await team.alice.post(f"/api/chart/templates/{template['id']}/apply", body, expect=201)
    assert chart["spec"]["encodings"]["x"]["field"] == "category"
    rows = (await team.alice.get(f"/api/chart/{chart['id']}/data"))["rows"]
    assert rows[0] == {"category": "east", "value": 9.0}


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        (
            {"x": "region", "y": "product"},
            "bindings.y: 'product' is text; it cannot be read as quantitative",
        ),
        (
            {"x": "region", "y": "nope"},
            "bindings.y: 'nope' is not a column of the query (columns: region, product, amount, "
            "price, sold_on)",
        ),
        (
            {"y": "amount"},
            "bindings.x: bind a column to x (role 'category'); the query has no column of that "
            "name (columns: region, product, amount, price, sold_on)",
        ),
        (
            {"x": "region", "y": "amount", "size": "price"},
            "bindings.size: the template has no size channel",
        ),
    ],
)
async def test_apply_refuses_incompatible_columns_naming_the_channel(
    make_team, bindings: dict[str, str], message: str
) -> None:
    team: Team = await make_team()
    template = await make_template(team.alice)
    body = {"query_id": team.query_id, "name": "x", "bindings": bindings}
    refused = await team.alice.request(
        "POST", f"/api/chart/templates/{template['id']}/apply", body, expect=422
    )
    assert refused.body["message"] == message
    assert (await team.alice.get("/api/chart"))["total"] == 0


async def test_a_template_from_a_chart(make_team) -> None:
    team: Team = await make_team()
    chart = await create(team.alice, team.query_id, customization={"title": "From chart"})
    template = await team.alice.post(
        "/api/chart/templates", {"name": "copy", "from_chart_id": chart["id"]}, expect=201
    )
    assert template["spec"] == chart["spec"]
    assert template["customization"]["title"] == "From chart"
    assert [role["role"] for role in template["roles"]] == ["region", "amount"]
    refused = await team.bob.request(
        "POST", "/api/chart/templates", {"name": "x", "from_chart_id": chart["id"]}, expect=404
    )
    assert refused.body["message"] == "chart not found"
    both = {"name": "x", "from_chart_id": chart["id"], "spec": BAR}
    await team.alice.request("POST", "/api/chart/templates", both, expect=422)


async def test_invalid_template_spec_is_422_naming_the_field(make_team) -> None:
    team: Team = await make_team()
    spec = {"type": "heatmap", "encodings": {"x": {"field": "a"}, "y": {"field": "b"}}}
    refused = await team.alice.request(
        "POST", "/api/chart/templates", {"name": "t", "spec": spec}, expect=422
    )
    assert refused.body["message"] == "spec.encodings.color: a heatmap chart needs a color field"


async def test_templates_are_shared_through_the_sharing_service(make_team) -> None:
    team: Team = await make_team()
    template = await make_template(team.alice)
    path = f"/api/chart/templates/{template['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        await team.bob.request(method, path, body, expect=404)
    apply = {"query_id": team.query_id, "name": "x", "bindings": {"x": "region", "y": "amount"}}
    await team.bob.request("POST", f"{path}/apply", apply, expect=404)
    assert (await team.bob.get("/api/chart/templates"))["total"] == 0

    team.grant("chart_template", template["id"], team.bob_id, "view")
    assert (await team.bob.get(path))["permission"] == "view"
    await team.bob.request("PATCH", path, {"name": "x"}, expect=403)
    refused = await team.bob.request("POST", f"{path}/apply", apply, expect=404)
    assert refused.body["message"] == "query not found"  # the template, yes; alice's query, no
    team.grant("query", team.query_id, team.bob_id, "view")
    chart = await team.bob.post(f"{path}/apply", apply, expect=201)
    assert chart["owner_id"] == team.bob_id
    team.grant("chart_template", template["id"], team.bob_id, "edit")
    assert (await team.bob.patch(path, {"name": "bob's"}))["name"] == "bob's"
    await team.bob.request("DELETE", path, expect=403)

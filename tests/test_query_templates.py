"""Query templates over HTTP on a team server: create, list, change, delete, render and
instantiate; who may do what (view, edit, manage, share links); and templates that try to reach
Python internals or files, which get a 422 that shows no object and no file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import ended, make_datasource

pytestmark = pytest.mark.timeout(120)

HOSTILE = "Ada'; DROP TABLE customers; --"
BODY = (
    "SELECT id, name FROM customers WHERE 1=1"
    "{% if name %} AND name = {{ name }}{% endif %}"
    "{% if first is defined %} AND id >= {{ first }}{% endif %}"
    " ORDER BY id"
)
PARAMETERS = [
    {"type": "text", "name": "name"},
    {"type": "number", "name": "first", "integer": True},
]
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{% include '/etc/passwd' %}",
    "{% import 'x' as y %}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum }}",
    "{{ range(10**9) }}",
    "{% for i in range(10) %}{{ i }}{% endfor %}",
    "{% extends '/etc/passwd' %}",
    "{{ config }}",
    "{{ self._TemplateReference__context }}",
    "{% set x = name %}",
]
LEAKS = ("<class", "<function", "<module", "<built-in", "object at 0x", "root:", "/bin/", "__")


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


async def users(create_account, login) -> tuple[ApiClient, ApiClient, dict[str, str]]:
    ids = {}
    for username in ("alice", "bob"):
        ids[username] = (await create_account(username)).id
    return await login("alice"), await login("bob"), ids


async def create(client: ApiClient, expect: int = 201, **fields: Any) -> Any:
    body = {"name": "customers", "body": BODY, "parameters": PARAMETERS, **fields}
    return await client.post("/api/query/templates", body, expect=expect)


async def share(owner: ApiClient, object_id: str, user_id: str, level: str) -> None:
    grant = {"object_id": object_id, "object_type": "query_template", "principal_id": user_id,
             "level": level}  # fmt: skip
    reply = await owner.request("POST", "/api/query/share", grant)
    assert reply.status in (200, 201), reply.body


def assert_no_leak(message: str) -> None:
    for leak in LEAKS:
        assert leak not in message, message


async def test_create_read_list_change_delete(create_account, login) -> None:
    alice, _, ids = await users(create_account, login)
    created = await create(alice, name="<b>Revenue</b> & co", tags=["sales", "eu", "sales"])
    assert created["name"] == "<b>Revenue</b> & co"  # stored and returned as text
    assert created["tags"] == ["sales", "eu"]
    assert (created["owner_id"], created["owner_name"]) == (ids["alice"], "alice")
    assert created["permission"] == "manage"
    assert created["parameters"][1] == {**PARAMETERS[1], "label": "", "description": "",
                                        "required": False, "default": None, "minimum": None,
                                        "maximum": None}  # fmt: skip
    assert await alice.get(f"/api/query/templates/{created['id']}") == created
    others = [await create(alice, name=f"other {i}", tags=["ops"]) for i in range(3)]
    first = await alice.get("/api/query/templates?limit=2")
    assert first["total"] == 4
    assert [t["id"] for t in first["items"]] == [created["id"], others[0]["id"]]
    rest = await alice.get(f"/api/query/templates?limit=2&cursor={first['next']}")
    assert [t["id"] for t in rest["items"]] == [others[1]["id"], others[2]["id"]]
    assert rest["next"] is None
    tagged = await alice.get("/api/query/templates?tag=sales")
    assert [t["id"] for t in tagged["items"]] == [created["id"]]
    named = await alice.get("/api/query/templates?q=OTHER%202")
    assert [t["id"] for t in named["items"]] == [others[2]["id"]]
    path = f"/api/query/templates/{created['id']}"
    changed = await alice.patch(path, {"name": "revenue", "body": "SELECT {{ first }}"})
    assert (changed["name"], changed["body"]) == ("revenue", "SELECT {{ first }}")
    assert changed["parameters"] == created["parameters"]
    # A new parameter list is checked against the body it keeps.
    reply = await alice.request("PATCH", path, {"parameters": [PARAMETERS[0]]}, expect=422)
    assert "'first' is not a parameter" in reply.body["message"]
    await alice.request("PATCH", path, {"name": None}, expect=422)
    await alice.delete(path)
    await alice.get(path, expect=404)


@pytest.mark.parametrize("body", ESCAPES)
async def test_templates_reaching_internals_or_files_get_422_without_a_leak(
    api: ApiClient, body: str
) -> None:
    reply = await create(api, expect=422, body=body, parameters=PARAMETERS)
    assert reply["message"].startswith("body: ")
    assert_no_leak(reply["message"])
    saved = await create(api)
    reply = await api.request(
        "PATCH", f"/api/query/templates/{saved['id']}", {"body": body}, expect=422
    )
    assert reply.body["message"].startswith("body: ")
    assert_no_leak(reply.body["message"])
    assert (await api.get(f"/api/query/templates/{saved['id']}"))["body"] == BODY


async def test_bad_parameters_are_422_naming_the_field(api: ApiClient) -> None:
    twice = [PARAMETERS[0], {"type": "date", "name": "name"}]
    reply = await create(api, expect=422, parameters=twice)
    assert reply["message"].startswith("parameters.1.name")
    reply = await create(api, expect=422, parameters=[{"type": "enum", "name": "x"}])
    assert "options" in reply["message"]
    saved = await create(api)
    render = f"/api/query/templates/{saved['id']}/render"
    reply = await api.request("POST", render, {"parameters": {"first": "one"}}, expect=422)
    assert reply.body["message"].startswith("parameters.first")
    reply = await api.request("POST", render, {"parameters": {"nope": 1}}, expect=422)
    assert reply.body["message"].startswith("parameters.nope")


async def test_render_shows_placeholders_and_bindings_never_spliced_values(api: ApiClient) -> None:
    saved = await create(api)
    render = f"/api/query/templates/{saved['id']}/render"
    both = await api.post(render, {"parameters": {"name": HOSTILE, "first": 2}})
    assert both == {
        "sql": "SELECT id, name FROM customers WHERE 1=1 AND name = :name AND id >= :first"
        " ORDER BY id",
        "bindings": {"name": HOSTILE, "first": 2},
    }
    none = await api.post(render, {})
    assert none == {"sql": "SELECT id, name FROM customers WHERE 1=1 ORDER BY id", "bindings": {}}


async def test_instantiate_saves_a_query_that_binds_a_hostile_value_safely(
    api: ApiClient, shop_url: str
) -> None:
    source = await make_datasource(api, shop_url)
    saved = await create(api, description="from the template", tags=["t"])
    body = {"name": "Ada's orders", "datasource_id": source, "parameters": {"name": "Ada"}}
    query = await api.post(f"/api/query/templates/{saved['id']}/instantiate", body, expect=201)
    assert query["sql"] == ("SELECT id, name FROM customers WHERE 1=1 AND name = :name ORDER BY id")
    assert [(p["name"], p["default"]) for p in query["parameters"]] == [("name", "Ada")]
    assert (query["description"], query["tags"], query["version"]) == (
        "from the template",
        ["t"],
        1,
    )
    assert await api.get(f"/api/query/{query['id']}") == query
    run = await api.post(f"/api/query/{query['id']}/run", {"parameters": {"name": HOSTILE}},
                         expect=202)  # fmt: skip
    finished = await ended(api, run["id"])
    assert (finished["state"], finished["rows"]) == ("succeeded", 0)
    run = await api.post(f"/api/query/{query['id']}/run", {}, expect=202)
    assert (await ended(api, run["id"]))["rows"] == 1  # the default: Ada
    engine = create_engine(shop_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM customers")).scalar() == 2
    finally:
        engine.dispose()


async def test_viewers_editors_and_strangers(
    api: ApiClient, create_account, login, shop_url: str
) -> None:
    alice, bob, ids = await users(create_account, login)
    saved = await create(alice)
    path = f"/api/query/templates/{saved['id']}"
    for method, suffix, body in [
        ("GET", "", None), ("PATCH", "", {"name": "x"}), ("DELETE", "", None),
        ("POST", "/render", {}), ("POST", "/instantiate", {"name": "q", "datasource_id": "a" * 22}),
    ]:  # fmt: skip
        reply = await bob.request(method, path + suffix, body, expect=404)
        assert reply.body["message"] == "query_template not found"
    assert (await bob.get("/api/query/templates"))["total"] == 0
    await share(alice, saved["id"], ids["bob"], "view")
    seen = await bob.get(path)
    assert seen["permission"] == "view"
    assert [t["id"] for t in (await bob.get("/api/query/templates"))["items"]] == [saved["id"]]
    await bob.post(f"{path}/render", {"parameters": {"first": 1}})
    await bob.request("PATCH", path, {"name": "mine"}, expect=403)
    await bob.request("DELETE", path, expect=403)
    # Instantiating needs `use` on the datasource: 404 unseen, 403 seen but not usable.
    source = await make_datasource(api, shop_url)
    instantiate = {"name": "q", "datasource_id": source}
    await bob.request("POST", f"{path}/instantiate", instantiate, expect=404)
    grant = {"object_id": source, "principal_id": ids["bob"], "level": "view"}
    await api.post("/api/datasources/share", grant, expect=201)
    await bob.request("POST", f"{path}/instantiate", instantiate, expect=403)
    await api.post("/api/datasources/share", {**grant, "level": "use"})
    query = await bob.post(f"{path}/instantiate", instantiate, expect=201)
    assert query["owner_id"] == ids["bob"]
    await share(alice, saved["id"], ids["bob"], "edit")
    assert (await bob.patch(path, {"name": "edited"}))["permission"] == "edit"
    await bob.request("DELETE", path, expect=403)
    await alice.delete(path)
    await bob.get(path, expect=404)


async def test_a_share_link_views_and_renders_its_one_template(
    create_account, login, jp_fetch
) -> None:
    alice, _, _ = await users(create_account, login)
    shared, other = await create(alice), await create(alice, name="other")
    link = {"object_id": shared["id"], "object_type": "query_template", "principal_type": "link"}
    grant = await alice.post("/api/query/share", link, expect=201)
    guest = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {grant['token']}"})
    path = f"/api/query/templates/{shared['id']}"
    assert (await guest.get(path))["permission"] == "view"
    assert (await guest.post(f"{path}/render", {}))["bindings"] == {}
    await guest.get(f"/api/query/templates/{other['id']}", expect=404)
    await guest.request("PATCH", path, {"name": "x"}, expect=404)
    await guest.request("DELETE", path, expect=404)
    await alice.delete(f"/api/query/share/{grant['id']}")
    await guest.get(path, expect=404)  # a revoked link opens nothing

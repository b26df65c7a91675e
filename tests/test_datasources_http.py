"""Datasource routes on a team server: the grants table (none / view / use / manage x every
route), masked secrets, and bad input refused with a 4xx before anything is stored or connected."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from tests.support.api import ApiClient
from tests.support.datasources import postgres_database, sqlite_file

OWNER_PASSWORD = "hunter2-but-longer"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def jp_server_config(jp_server_config: Config, tmp_path: Path) -> Config:
    # The whole test folder is allowed, so only the store rule keeps the store's own file out.
    jp_server_config.AnalyticsExtension.datasource_dirs = [str(tmp_path)]
    return jp_server_config


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def people(create_account, login):
    """``await people()``: alice, bob and carol, logged in."""

    async def make() -> dict[str, ApiClient]:
        for name in ("alice", "bob", "carol"):
            await create_account(name)
        return {name: await login(name) for name in ("alice", "bob", "carol")}

    return make


async def call(client: ApiClient, method: str, path: str, body=None) -> int:
    return (await client.request(method, path, body)).status


async def user_id(client: ApiClient) -> str:
    return (await client.get("/api/user"))["id"]


# level -> route -> expected status for bob
EXPECTED = {
    "get": {"none": 404, "view": 200, "use": 200, "manage": 200},
    "patch": {"none": 404, "view": 403, "use": 403, "manage": 200},
    "test-connection": {"none": 404, "view": 403, "use": 200, "manage": 200},
    "schema": {"none": 404, "view": 200, "use": 200, "manage": 200},
    "schema-names": {"none": 404, "view": 200, "use": 200, "manage": 200},
    "table-columns": {"none": 404, "view": 200, "use": 200, "manage": 200},
    "preview": {"none": 404, "view": 403, "use": 200, "manage": 200},
    "list-grants": {"none": 404, "view": 403, "use": 403, "manage": 200},
    "grant": {"none": 404, "view": 403, "use": 403, "manage": 201},
    "revoke": {"none": 404, "view": 403, "use": 403, "manage": 204},
    "delete": {"none": 404, "view": 403, "use": 403, "manage": 204},
}


async def test_grants_table_every_route(people, pg_url):
    people = await people()
    alice, bob = people["alice"], people["bob"]
    bob_id, carol_id = await user_id(bob), await user_id(people["carol"])
    actual: dict[str, dict[str, int]] = {route: {} for route in EXPECTED}
    listed: dict[str, bool] = {}
    for level in ("none", "view", "use", "manage"):
        source = (
            await alice.request(
                "POST", "/api/datasources", {"name": level, "url": pg_url}, expect=201
            )
        ).body["id"]
        if level != "none":
            grant = {"object_id": source, "principal_id": bob_id, "level": level}
            await alice.request("POST", "/api/datasources/share", grant, expect=201)
        carol = {"object_id": source, "principal_id": carol_id, "level": "view"}
        carol_grant = (
            await alice.request("POST", "/api/datasources/share", carol, expect=201)
        ).body["id"]
        visible = await bob.get("/api/datasources")
        listed[level] = source in {item["id"] for item in visible["items"]}
        routes = {
            "get": ("GET", f"/api/datasources/{source}", None),
            "patch": ("PATCH", f"/api/datasources/{source}", {"name": f"{level}-renamed"}),
            "test-connection": ("POST", f"{DS}/test-connection", {"datasource_id": source}),
            "schema": ("GET", f"/api/datasources/schema?datasource_id={source}", None),
            "schema-names": (
                "GET", f"/api/datasources/schema?datasource_id={source}&columns=false", None,
            ),
            "table-columns": (
                "GET", f"/api/datasources/schema/table?datasource_id={source}&table=customers",
                None,
            ),
            "preview": (
                "GET", f"/api/datasources/preview?datasource_id={source}&table=customers", None,
            ),
            "list-grants": ("GET", f"/api/datasources/share?object_id={source}", None),
            "grant": (
                "POST", "/api/datasources/share",
                {"object_id": source, "principal_id": carol_id, "level": "use"},
            ),
            "revoke": ("DELETE", f"/api/datasources/share/{carol_grant}", None),
            "delete": ("DELETE", f"/api/datasources/{source}", None),
        }  # fmt: skip
        for route, (method, path, body) in routes.items():  # in order: delete comes last
            actual[route][level] = await call(bob, method, path, body)
    expected = {route: dict(levels) for route, levels in EXPECTED.items()}
    expected["grant"]["manage"] = 200  # carol already held a grant: it changed level
    assert actual == expected
    assert listed == {"none": False, "view": True, "use": True, "manage": True}


async def test_secrets_never_come_back_and_the_mask_keeps_them(people, pg_url, server_services):
    alice = (await people())["alice"]
    url = pg_url.replace("postgres@", f"postgres:{OWNER_PASSWORD}@")
    created = await alice.request("POST", "/api/datasources", {"name": "s", "url": url}, expect=201)
    assert OWNER_PASSWORD not in created.headers.get("Content-Type", "") + str(created.body)
    shown = created.body["url"]
    assert ":********@" in shown
    listed = await alice.get("/api/datasources")
    assert OWNER_PASSWORD not in str(listed)
    patched = await alice.patch(f"/api/datasources/{created.body['id']}", {"url": shown})
    assert OWNER_PASSWORD not in str(patched)
    spec = await server_services.run(
        server_services.datasources.source_for, await user_id(alice), created.body["id"], "use"
    )
    assert spec.url.password == OWNER_PASSWORD
    moved = shown.replace("127.0.0.1", "localhost")
    reply = await alice.request("PATCH", f"/api/datasources/{created.body['id']}", {"url": moved})
    assert reply.status == 422
    assert "password again" in reply.body["message"]


async def test_connection_test_reports_version_and_latency(people, pg_url):
    result = await (await people())["alice"].request(
        "POST", "/api/datasources/test-connection", {"definition": {"url": pg_url}}, expect=200
    )
    assert result.body["ok"] is True
    assert result.body["latency_ms"] > 0
    assert result.body["server_version"]


# -- bad input ------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    yield server
    server.close()


def connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def bad_urls(port: int, tmp_path: Path) -> list[tuple[str, int, str]]:
    base = f"postgresql+psycopg://u:pw@127.0.0.1:{port}/db"
    maria = f"mysql+pymysql://root@127.0.0.1:{port}/test"
    return [
        (f"{base}?host=/var/run/postgresql", 422, "host"),
        (f"{base}?passfile=/root/.pgpass", 422, "passfile"),
        (f"{base}?options=-c%20default_transaction_read_only%3Doff", 422, "options"),
        (f"{base}?sslkey=/etc/ssl/private/key.pem", 422, "sslkey"),
        (f"{maria}?local_infile=1", 422, "local_infile"),
        (f"{maria}?init_command=SET%20GLOBAL%20x%3D1", 422, "init_command"),
        (f"{maria}?unix_socket=/run/mysqld/mysqld.sock", 422, "unix_socket"),
        ("postgresql+psycopg://u@169.254.169.254/db", 422, "denied"),
        ("postgresql+psycopg://u@[fe80::1]/db", 422, "denied"),
        ("oracle+oracledb://u@127.0.0.1/db", 422, "not allowed"),
        (f"sqlite:///{tmp_path}/store.sqlite", 422, "server's own files"),
        (f"sqlite:///{tmp_path}/secrets/jwt-signing-key", 422, "server's own files"),
        ("sqlite:////etc/passwd", 422, "outside the folders"),
        (f"duckdb:///{tmp_path}/nothing.duckdb", 422, "does not exist"),
        ("not a url at all", 422, "SQLAlchemy URL"),
    ]


async def test_bad_urls_are_refused_before_storing_or_connecting(api, tmp_path, listener):
    """As the owner (an admin), so file rules are the ones refusing, not the admin rule."""
    port = listener.getsockname()[1]
    before = (await api.get("/api/datasources"))["total"]
    for url, status, words in bad_urls(port, tmp_path):
        for path, body in (
            ("/api/datasources", {"name": "bad", "url": url}),
            ("/api/datasources/test-connection", {"definition": {"url": url}}),
        ):
            reply = await api.request("POST", path, body)
            assert reply.status == status, (url, reply.body)
            assert words in reply.body["message"], (url, reply.body)
            assert "pw@" not in reply.body["message"]
    assert (await api.get("/api/datasources"))["total"] == before
    assert not connected(listener)


async def test_file_datasources_are_admin_only(people, api, tmp_path):
    shop = sqlite_file(tmp_path)
    body = {"name": "shop", "url": f"sqlite:///{shop}"}
    reply = await (await people())["alice"].request("POST", "/api/datasources", body)
    assert reply.status == 403
    source = (await api.request("POST", "/api/datasources", body, expect=201)).body["id"]
    preview = await api.get(f"/api/datasources/preview?datasource_id={source}&table=customers")
    assert [row[1] for row in preview["rows"]] == ["Ada", "Grace"]


DS = "/api/datasources"
PREVIEW = "/api/datasources/preview?datasource_id={id}"
SCHEMA = "/api/datasources/schema?datasource_id={id}"
COLUMNS = "/api/datasources/schema/table?datasource_id={id}"
SHARE = "/api/datasources/share"
NEW = {"name": "x", "url": "{url}"}
GRANT = {"object_id": "{id}", "principal_id": "{id}"}

BAD_REQUESTS = [
    ("GET", f"{DS}?limit=0", None, 422, "limit"),
    ("GET", f"{DS}?limit=100000", None, 422, "limit"),
    ("GET", f"{DS}?cursor=forged", None, 422, "cursor"),
    ("GET", f"{SCHEMA}&limit=100000", None, 422, "limit"),
    ("GET", f"{SCHEMA}&cursor=forged", None, 422, "cursor"),
    ("GET", f"{DS}/schema?datasource_id=short", None, 422, "datasource_id"),
    ("GET", f"{SCHEMA}&columns=maybe", None, 422, "columns"),
    ("GET", COLUMNS, None, 422, "table"),
    ("GET", f"{COLUMNS}&table=customers&limit=0", None, 422, "limit"),
    ("GET", f"{COLUMNS}&table=customers&limit=1001", None, 422, "limit"),
    ("GET", f"{COLUMNS}&table=customers&cursor=forged", None, 422, "cursor"),
    ("GET", f"{COLUMNS}&table=a%0Ab", None, 422, "table"),
    ("GET", f"{COLUMNS}&table=customers;%20DROP%20TABLE%20orders", None, 404, "not found"),
    ("GET", f"{COLUMNS}&schema=x%27y&table=customers", None, 404, "schema"),
    ("GET", f"{DS}/schema/table?datasource_id=short&table=t", None, 422, "datasource_id"),
    ("GET", f"{PREVIEW}&table=t&limit=99999999", None, 422, "limit"),
    ("GET", f"{PREVIEW}&table=a%0Ab", None, 422, "table"),
    ("GET", f"{PREVIEW}&table=customers;%20DROP%20TABLE%20orders", None, 404, "not found"),
    ("GET", f"{PREVIEW}&table=%22customers%22", None, 404, "not found"),
    ("GET", f"{PREVIEW}&table=cust%D0%BEmers", None, 404, "not found"),  # Cyrillic o
    ("GET", f"{PREVIEW}&schema=x%27y&table=customers", None, 404, "schema"),
    ("POST", DS, {**NEW, "options": {"row_limit": 10**12}}, 422, "row_limit"),
    ("POST", DS, {**NEW, "options": {"timeout_seconds": -1}}, 422, "timeout_seconds"),
    ("POST", DS, {**NEW, "name": "x\ny"}, 422, "name"),
    ("POST", DS, {**NEW, "drivername": "postgresql"}, 422, "either url"),
    ("POST", DS, {**NEW, "is_admin": True}, 422, "is_admin"),
    ("POST", DS, {"name": "x"}, 422, "url"),
    ("POST", f"{DS}/test-connection", {}, 422, "datasource_id"),
    ("POST", SHARE, {**GRANT, "level": "owner"}, 422, "level"),
    ("POST", SHARE, {**GRANT, "principal_type": "team", "level": "view"}, 422, "principal_type"),
    ("PATCH", f"{DS}/{{id}}", {"name": None}, 422, "name"),
    ("PATCH", f"{DS}/{{id}}", {"url": "{url}", "host": "h"}, 422, "either url"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), BAD_REQUESTS)
async def test_bad_requests_get_a_clear_4xx_and_change_nothing(
    api, pg_url, method, path, body, status, words
):
    source = (
        await api.request("POST", "/api/datasources", {"name": "ok", "url": pg_url}, expect=201)
    ).body
    fill = {"id": source["id"], "url": pg_url}
    path = path.replace("{id}", fill["id"])
    if body is not None:
        body = {k: (v.format(**fill) if isinstance(v, str) else v) for k, v in body.items()}
    reply = await api.request(method, path, body)
    assert reply.status == status, reply.body
    assert words in reply.body["message"], reply.body
    assert (await api.get("/api/datasources"))["total"] == 1
    assert await api.get(f"/api/datasources/{source['id']}") == source


async def test_malformed_bodies_are_400(api):
    for raw, content_type in ((b'{"name": ', "application/json"), (b"name=x", "text/plain")):
        reply = await api.request(
            "POST", "/api/datasources", raw=raw, headers={"Content-Type": content_type}
        )
        assert reply.status == 400
    assert (await api.get("/api/datasources"))["total"] == 0


async def test_a_schema_tree_lists_names_then_one_tables_columns(api, pg_url):
    """What the sidebar's tree asks: names only for the listing, then one table's columns."""
    source = (await api.request("POST", DS, {"name": "tree", "url": pg_url}, expect=201)).body["id"]
    names = await api.get(f"{SCHEMA.format(id=source)}&columns=false&limit=1")
    assert set(names["items"][0]) == {"name", "kind", "row_estimate"}
    assert names["next"] is not None
    assert names["schemas"]
    full = await api.get(SCHEMA.format(id=source))
    assert "columns" in full["items"][0]  # the default is unchanged
    first = await api.get(f"{COLUMNS.format(id=source)}&table=orders&limit=2")
    assert [c["name"] for c in first["columns"]] == ["id", "customer_id"]
    assert (first["table"], first["total_columns"], first["primary_key"]) == ("orders", 4, ["id"])
    rest = await api.get(f"{COLUMNS.format(id=source)}&table=orders&limit=2&cursor={first['next']}")
    assert [c["name"] for c in rest["columns"]] == ["total", "placed_at"]
    assert rest["next"] is None

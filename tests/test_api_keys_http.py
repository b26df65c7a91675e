"""API keys over HTTP: created by a login, shown once, bounded by their scopes, revocable."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, func, select

from analytics_ext.store.models import ApiKey
from tests.support.api import ApiClient


def key_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(ApiKey)).scalar_one()
    finally:
        engine.dispose()


async def create_key(api: ApiClient, name: str, scopes: list[str], **kwargs) -> dict:
    reply = await api.request(
        "POST", "/api/auth/api-keys", {"name": name, "scopes": scopes}, **kwargs
    )
    assert reply.status == 201, reply.body
    return reply.body


async def test_key_is_shown_once_and_speaks_for_its_owner(api, as_key, db_url):
    owner = await api.get("/api/user")
    created = await create_key(api, "ci script", ["read"])
    assert created["token"].startswith("aek_")
    assert created["prefix"] == created["token"].rsplit("_", 1)[0]
    listed = await api.get("/api/auth/api-keys")
    assert [k["id"] for k in listed["items"]] == [created["id"]]
    assert "token" not in json.dumps(listed)
    assert created["token"].rsplit("_", 1)[1] not in json.dumps(listed)
    assert (await as_key(created["token"]).get("/api/user"))["id"] == owner["id"]
    me = await as_key(created["token"]).get("/api/me")
    assert me["identity"]["username"] == owner["username"]
    assert key_count(db_url) == 1


async def test_scopes_bound_what_a_key_may_do(api, as_key):
    read = as_key((await create_key(api, "reader", ["read"]))["token"])
    write = as_key((await create_key(api, "writer", ["write"]))["token"])
    admin = as_key((await create_key(api, "admin", ["admin"]))["token"])

    await read.request("PATCH", "/api/user", {"display_name": "R"}, expect=403)
    await read.request("GET", "/api/kernels", expect=403)
    await read.request("POST", "/api/auth/api-keys", {"name": "x", "scopes": ["read"]}, expect=403)

    # Header credentials need no XSRF token, like Jupyter's own token.
    assert (await write.patch("/api/user", {"display_name": "W"}))["display_name"] == "W"
    await write.request("GET", "/api/kernels", expect=403)
    await write.request(
        "POST", "/api/auth/api-keys", {"name": "y", "scopes": ["admin"]}, expect=403
    )

    await admin.request("GET", "/api/kernels", expect=200)
    await create_key(admin, "minted by admin key", ["read"])


async def test_revoked_key_stops_at_once(api, as_key):
    created = await create_key(api, "short lived", ["read"])
    key = as_key(created["token"])
    await key.get("/api/user")
    await api.request("DELETE", f"/api/auth/api-keys/{created['id']}", expect=204)
    reply = await key.request("GET", "/api/user", expect=401)
    assert reply.body["message"].startswith("authentication required")
    await api.request("DELETE", f"/api/auth/api-keys/{created['id']}", expect=404)


async def test_forged_keys_get_the_same_401(api, as_key):
    real = (await create_key(api, "real", ["read"]))["token"]
    kind, lookup, secret = real.split("_")
    forged = [
        f"{kind}_{lookup}_{'A' * len(secret)}",  # right lookup, wrong secret
        f"aer_{lookup}_{secret}",  # another kind of our secrets
        f"{kind}_{'B' * len(lookup)}_{secret}",  # unknown lookup
        "aek_short",
        real + "x",
    ]
    bodies = [
        (await as_key(token).request("GET", "/api/user", expect=401)).body for token in forged
    ]
    assert all(body == bodies[0] for body in bodies)


async def test_key_creation_is_rate_limited_with_retry_after(api, db_url):
    for number in range(10):
        await create_key(api, f"key {number}", ["read"])
    reply = await api.request(
        "POST", "/api/auth/api-keys", {"name": "one too many", "scopes": ["read"]}
    )
    assert reply.status == 429
    assert int(reply.headers["Retry-After"]) >= 1
    assert key_count(db_url) == 10


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "", "scopes": ["read"]}, ["name"]),
        ({"name": "x", "scopes": []}, ["scopes"]),
        ({"name": "x", "scopes": ["root"]}, ["scopes"]),
        ({"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}, ["expires_at"]),
        ({"name": "x", "scopes": ["read"], "expires_at": "soon"}, ["expires_at"]),
        ({"name": "x", "scopes": ["read"], "owner": "someone"}, ["owner"]),
        ({"name": "x\nInjected: 1", "scopes": ["read"]}, ["name"]),
    ],
)
async def test_bad_key_requests_are_refused_and_write_nothing(api, db_url, body, words):
    reply = await api.request("POST", "/api/auth/api-keys", body)
    assert reply.status == 422, reply.body
    for word in words:
        assert word in reply.body["message"]
    assert key_count(db_url) == 0


async def test_duplicate_live_name_conflicts(api):
    await create_key(api, "same", ["read"])
    reply = await api.request("POST", "/api/auth/api-keys", {"name": "same", "scopes": ["read"]})
    assert reply.status == 409


async def test_unknown_paths_in_our_areas_get_a_json_404(api, anonymous):
    for path in ("/api/auth/api-keys/not-an-id", "/api/user/nope", "/api/analytics/x/y"):
        reply = await api.request("GET", path, expect=404)
        assert reply.body == {"message": "no such API route", "reason": "Not Found"}
        await anonymous.request("GET", path, expect=401)

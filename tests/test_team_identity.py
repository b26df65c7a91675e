"""Team server (``multi_user = True``): who a request is, and what each kind of account may reach.

Access tokens, API keys, Jupyter's token and the login cookie all go through one
IdentityProvider; the Authorizer keeps ordinary users to analytics resources.
"""

from __future__ import annotations

import json

import pytest

from tests.support.api import ApiClient


@pytest.fixture
def multi_user() -> bool:
    return True


async def test_access_token_authenticates_our_api(create_account, login):
    await create_account("ada", display_name="Ada Lovelace")
    ada = await login("ada")
    me = await ada.get("/api/user")
    assert (me["username"], me["display_name"], me["is_admin"]) == ("ada", "Ada Lovelace", False)


async def test_jupyter_token_is_the_owner_and_admin(api: ApiClient):
    me = await api.get("/api/user")
    assert me["is_owner"]
    assert me["is_admin"]


@pytest.mark.parametrize(
    "path", ["/api/kernels", "/api/contents", "/api/terminals", "/api/sessions"]
)
async def test_ordinary_user_is_kept_from_code_and_files(create_account, login, path):
    await create_account("bob")
    bob = await login("bob")
    await bob.request("GET", path, expect=403)


@pytest.mark.parametrize(
    "path", ["/api/kernels", "/api/contents", "/api/terminals", "/api/sessions"]
)
async def test_notebook_role_reaches_code_and_files(create_account, login, path):
    await create_account("nora", notebook_role=True)
    nora = await login("nora")
    await nora.request("GET", path, expect=200)


async def test_ordinary_user_may_read_what_jupyterlab_needs(create_account, login):
    await create_account("bob")
    bob = await login("bob")
    await bob.request("GET", "/api/kernelspecs", expect=200)
    await bob.request("GET", "/api/status", expect=200)


async def test_me_permissions_report_the_same_answers(create_account, login):
    await create_account("bob")
    await create_account("nora", notebook_role=True)
    asked = json.dumps({"kernels": ["read", "execute"], "analytics_ext:users": ["read", "write"]})
    for name, kernels in (("bob", []), ("nora", ["read", "execute"])):
        client = await login(name)
        me = await client.get(f"/api/me?permissions={asked}")
        assert me["permissions"]["kernels"] == kernels, name
        assert me["permissions"]["analytics_ext:users"] == ["read", "write"], name


async def test_unknown_bearer_token_is_refused_not_passed_to_the_cookie(anonymous: ApiClient):
    reply = await anonymous.request(
        "GET", "/api/user", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    )
    assert reply.status == 401


async def test_revoked_session_loses_access_at_once(create_account, login, server_services):
    await create_account("ada", notebook_role=True)
    ada = await login("ada")
    await ada.get("/api/user")
    await server_services.run(server_services.auth.logout, ada.tokens.session_id)
    await ada.request("GET", "/api/user", expect=401)
    await ada.request("GET", "/api/kernels", expect=403)

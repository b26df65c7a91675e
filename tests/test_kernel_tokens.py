"""Kernel tokens (DESIGN.md §7): a kernel started by a user calls the API as that user with the
token the server put in its environment; the token outlives access tokens, cannot reach code
execution or key management, and is refused once the kernel has shut down."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics_ext.services import kernel_tokens
from analytics_ext.store.types import utcnow
from tests.support.kernels import execute

pytestmark = pytest.mark.timeout(180)

WHO_AM_I = """
import json, os, urllib.request
request = urllib.request.Request(
    os.environ["ANALYTICS_EXT_URL"] + "api/user",
    headers={"Authorization": "Bearer " + os.environ["ANALYTICS_EXT_TOKEN"]},
)
print(json.load(urllib.request.urlopen(request))["username"])
print(os.environ["ANALYTICS_EXT_TOKEN"])
"""


@pytest.fixture
def multi_user() -> bool:
    return True


async def test_a_users_kernel_acts_as_that_user_until_it_shuts_down(
    create_account, login, as_key, jp_http_port, jp_base_url, monkeypatch
) -> None:
    await create_account("nora", notebook_role=True)
    nora = await login("nora")
    kernel = (await nora.post("/api/kernels", {"name": "python3"}, expect=201))["id"]
    bearer = f"Bearer {nora.tokens.access_token}"

    output = await execute(jp_http_port, jp_base_url, kernel, bearer, WHO_AM_I)
    username, token = output.split()
    assert username == "nora"  # the kernel is nora, not the server's owner
    assert token.startswith("aet_")
    kernel_client = as_key(token)
    assert (await kernel_client.get("/api/user"))["username"] == "nora"

    # Sixteen minutes on, every access token of that login has expired; the kernel's has not.
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(kernel_tokens, "utcnow", lambda: later)
    assert (await kernel_client.get("/api/user"))["username"] == "nora"
    monkeypatch.undo()

    # Only the analytics API: no kernels, files or key minting with the kernel's token.
    await kernel_client.request("GET", "/api/kernels", expect=403)
    await kernel_client.request("GET", "/api/contents", expect=403)
    body = {"name": "escape", "scopes": ["read"]}
    await kernel_client.request("POST", "/api/auth/api-keys", body, expect=403)

    await nora.request("DELETE", f"/api/kernels/{kernel}", expect=204)
    await kernel_client.request("GET", "/api/user", expect=401)


async def test_a_disabled_account_s_kernel_token_stops(
    api, create_account, login, as_key, jp_http_port, jp_base_url
) -> None:
    user = await create_account("otto", notebook_role=True)
    otto = await login("otto")
    kernel = (await otto.post("/api/kernels", {"name": "python3"}, expect=201))["id"]
    bearer = f"Bearer {otto.tokens.access_token}"
    token = (await execute(jp_http_port, jp_base_url, kernel, bearer, WHO_AM_I)).split()[1]
    await as_key(token).get("/api/user")
    await api.patch(f"/api/admin/users/{user.id}", {"disabled": True})
    await as_key(token).request("GET", "/api/user", expect=401)

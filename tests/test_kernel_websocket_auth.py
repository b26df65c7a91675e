"""Code execution on a team server: kernels, contents, terminals and the kernel websocket.

Ordinary accounts reach analytics resources only; the ``notebook`` role (or admin) is needed for
anything that runs code or touches the server's files. The websocket matters most: whoever may
open ``/api/kernels/<id>/channels`` can send ``execute_request`` and run code as the server's
user, so it is tried with the same Bearer credentials a script would send.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from analytics_ext.schemas.api_keys import ApiKeyScope
from analytics_ext.services.activity import RequestOrigin
from tests.support.api import ApiClient

REPLY_TIMEOUT = 60.0


@pytest.fixture
def multi_user() -> bool:
    return True


async def start_kernel(api: ApiClient) -> str:
    """A kernel started by the owner (Jupyter's token); the test server shuts it down at the
    end (pytest-jupyter's teardown), so a failing test leaves nothing running."""
    reply = await api.request("POST", "/api/kernels", {"name": "python3"}, expect=201)
    return reply.body["id"]


@pytest.fixture
def channels(jp_http_port: int, jp_base_url: str):
    """Open the kernel's websocket with an ``Authorization`` header (or none)."""

    async def connect(kernel: str, authorization: str | None) -> WebSocketClientConnection:
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}api/kernels/{kernel}/channels"
        headers = {"Authorization": authorization} if authorization else {}
        return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))

    return connect


def _kernel_info_request() -> dict:
    msg_id = uuid.uuid4().hex
    return {
        "header": {
            "msg_id": msg_id,
            "msg_type": "kernel_info_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {},
        "channel": "shell",
        "buffers": [],
    }


async def _kernel_answers(ws: WebSocketClientConnection) -> dict:
    """Send kernel_info_request and wait for its reply: the socket really reaches the kernel."""
    request = _kernel_info_request()
    await ws.write_message(json.dumps(request))

    async def reply() -> dict:
        while True:
            raw = await ws.read_message()
            assert raw is not None, "the server closed the kernel websocket"
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") == request["header"]["msg_id"] and (
                message["header"]["msg_type"] == "kernel_info_reply"
            ):
                return message["content"]

    return await asyncio.wait_for(reply(), REPLY_TIMEOUT)


async def _refused(connect, kernel: str, authorization: str | None) -> int:
    try:
        ws = await connect(kernel, authorization)
    except HTTPClientError as refused:
        return refused.code
    ws.close()
    pytest.fail(f"the kernel websocket opened for {authorization!r}")


@pytest.mark.parametrize("path", ["/api/kernels", "/api/contents", "/api/terminals"])
async def test_ordinary_user_is_refused_code_and_files(create_account, login, path: str):
    await create_account("bob")
    bob = await login("bob")
    await bob.request("GET", path, expect=403)


async def test_ordinary_user_cannot_open_the_kernel_websocket(create_account, login, api, channels):
    kernel_id = await start_kernel(api)
    await create_account("bob")
    bob = await login("bob")
    assert await _refused(channels, kernel_id, f"Bearer {bob.tokens.access_token}") == 403
    # Nor start, interrupt or shut down a kernel over REST.
    await bob.request("POST", "/api/kernels", {"name": "python3"}, expect=403)
    await bob.request("POST", f"/api/kernels/{kernel_id}/interrupt", expect=403)
    await bob.request("DELETE", f"/api/kernels/{kernel_id}", expect=403)


async def test_no_or_forged_credentials_cannot_open_the_kernel_websocket(api, channels):
    kernel_id = await start_kernel(api)
    assert await _refused(channels, kernel_id, None) == 403
    forged = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    assert await _refused(channels, kernel_id, forged) == 403


@pytest.mark.parametrize("path", ["/api/kernels", "/api/contents", "/api/terminals"])
async def test_notebook_role_reaches_code_and_files(create_account, login, path: str):
    await create_account("nora", notebook_role=True)
    nora = await login("nora")
    await nora.request("GET", path, expect=200)


async def test_notebook_role_talks_to_the_kernel_over_its_websocket(
    create_account, login, api, channels
):
    kernel_id = await start_kernel(api)
    await create_account("nora", notebook_role=True)
    nora = await login("nora")
    ws = await channels(kernel_id, f"Bearer {nora.tokens.access_token}")
    try:
        info = await _kernel_answers(ws)
    finally:
        ws.close()
    assert info["status"] == "ok"
    assert info["language_info"]["name"] == "python"


async def test_revoked_session_cannot_open_the_kernel_websocket(
    create_account, login, api, channels, server_services
):
    kernel_id = await start_kernel(api)
    await create_account("nora", notebook_role=True)
    nora = await login("nora")
    token = f"Bearer {nora.tokens.access_token}"
    (await channels(kernel_id, token)).close()
    await server_services.run(server_services.auth.logout, nora.tokens.session_id)
    assert await _refused(channels, kernel_id, token) == 403


async def test_only_an_admin_scoped_key_opens_the_kernel_websocket(
    create_account, api, channels, server_services
):
    """A leaked ``write`` key must not be a code-execution credential, even an admin's or a
    notebook user's; only an admin's ``admin``-scoped key is."""
    kernel_id = await start_kernel(api)
    nora = await create_account("nora", notebook_role=True)
    ida = await create_account("ida", is_admin=True)

    def key(user_id: str, scope: ApiKeyScope) -> str:
        created = server_services.api_keys.create(
            user_id, f"{scope.value} key", [scope], None, RequestOrigin("127.0.0.1")
        )
        return f"Bearer {created.token}"

    for user_id in (nora.id, ida.id):
        write_key = await server_services.run(key, user_id, ApiKeyScope.WRITE)
        assert await _refused(channels, kernel_id, write_key) == 403
    admin_key = await server_services.run(key, ida.id, ApiKeyScope.ADMIN)
    ws = await channels(kernel_id, admin_key)
    try:
        assert (await _kernel_answers(ws))["status"] == "ok"
    finally:
        ws.close()

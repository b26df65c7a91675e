"""Dashboard viewers on a team server, through the real Voila process and the proxy.

A published dashboard's page renders through the proxy, executed, for its owner and for a user
granted ``view``; anyone else gets 404 before a kernel is taken (the preheated pool keeps its
kernels), a logged-out request gets no page. A kernel's websocket carries widget messages but
never code, and belongs to the viewer its page was served to. A share link opens one
dashboard in a link-session cookie and nothing else on the server, and stops at once when
revoked. A killed Voila process is back within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect
from traitlets.config import Config

from analytics_ext.auth.identity import LINK_SESSION_REFUSED
from analytics_ext.dashboards.proxy import DashboardProxy, KernelIdScanner
from analytics_ext.dashboards.viewer_registry import ViewerRegistry
from analytics_ext.handlers import dashboard_view
from tests.support.api import ApiClient
from tests.support.dashboard_team import BAR, PARAMETERS, SQL, board, sales_database
from tests.support.query_library import make_datasource, save_query
from tests.support.services import in_ci

pytestmark = pytest.mark.timeout(240)

MARKER = "Quarterly numbers for the viewers"
REPLY_SECONDS = 60


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def dashboards_dir(tmp_path: Path) -> Path:
    return tmp_path / "dashboards"


@pytest.fixture
def viewers() -> bool:
    """``dashboard_viewers`` (a test parametrizes it to turn them off)."""
    return True


@pytest.fixture
def jp_server_config(jp_server_config: Config, dashboards_dir: Path, viewers: bool) -> Config:
    jp_server_config.AnalyticsExtension.dashboard_viewers = viewers
    jp_server_config.AnalyticsExtension.dashboard_preheat = True
    jp_server_config.AnalyticsExtension.dashboard_pool_size = 1
    jp_server_config.AnalyticsExtension.dashboards_dir = str(dashboards_dir)
    return jp_server_config


@pytest.fixture
def supervisor(jp_serverapp) -> Any:
    voila = jp_serverapp.web_app.settings["analytics_ext_voila"]
    assert voila is not None
    return voila


# -- helpers -------------------------------------------------------------------------------------


async def publish(api: ApiClient, title: str = "Sales", text: str = MARKER) -> str:
    """A published dashboard of one markdown tile; its id."""
    body = {
        "title": title,
        "tiles": [{"id": "intro", "type": "markdown", "text": text}],
        "layout": [{"tile": "intro", "x": 0, "y": 0, "w": 12, "h": 2}],
    }
    made = await api.post("/api/dashboards", body, expect=201)
    await api.request("POST", f"/api/dashboards/{made['id']}/publish", expect=200)
    return made["id"]


async def pool_ready(supervisor: Any, dashboard_id: str, within: float = 90) -> None:
    """Wait until the dashboard's preheated kernel is started and rendered."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        health = await supervisor.health()
        if health["pools"].get(f"{dashboard_id}.ipynb", 0) >= 1:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no preheated kernel for {dashboard_id}: {health}")


async def fetch(jp_fetch, *parts: str, headers: dict[str, str] | None = None, **kw) -> HTTPResponse:
    """A browser-like request: HTML wanted, redirects not followed, errors returned."""
    sent = {"Accept": "text/html", **(headers or {})}
    return await jp_fetch(*parts, headers=sent, raise_error=False, follow_redirects=False, **kw)


def view(dashboard_id: str) -> tuple[str, ...]:
    return ("analytics", "dashboards", dashboard_id)


def kernel_of(page: HTTPResponse) -> str:
    scanner = KernelIdScanner()
    kernel_id = scanner.feed(page.body)
    assert kernel_id, page.body[:2000]
    return kernel_id


def bearer(client: ApiClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens.access_token}"}  # type: ignore[attr-defined]


def owner_auth(jp_serverapp) -> dict[str, str]:
    return {"Authorization": f"token {jp_serverapp.identity_provider.token}"}


async def connect(
    port: int, base_url: str, kernel_id: str, headers: dict[str, str], what: str = "channels"
) -> WebSocketClientConnection:
    path = f"api/kernels/{kernel_id}/channels" if what == "channels" else f"voila/query/{kernel_id}"
    url = f"ws://127.0.0.1:{port}{base_url}analytics/voila/{path}?session_id={uuid.uuid4().hex}"
    return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))


def message(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    text = json.dumps(
        {
            "header": {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "username": "viewer",
                "session": uuid.uuid4().hex,
                "date": datetime.now(UTC).isoformat(),
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }
    )
    return msg_id, text


async def reply_to(ws: WebSocketClientConnection, msg_id: str, kind: str) -> dict[str, Any]:
    """The first message of type ``kind`` answering ``msg_id`` (JSON or binary frames)."""

    async def read() -> dict[str, Any]:
        while True:
            raw = await ws.read_message()
            assert raw is not None, "the proxy closed the kernel websocket"
            if isinstance(raw, bytes):
                from jupyter_server.services.kernels.connection.base import (
                    deserialize_binary_message,
                )

                received = deserialize_binary_message(raw)
            else:
                received = json.loads(raw)
            if (
                received.get("parent_header", {}).get("msg_id") == msg_id
                and received["header"]["msg_type"] == kind
            ):
                return received

    return await asyncio.wait_for(read(), REPLY_SECONDS)


def link_cookies(response: HTTPResponse) -> dict[str, Any]:
    """The link-session cookies a response sets."""
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        cookies.load(header)
    return {name: cookies[name] for name in cookies if name.endswith("-share-link")}


def link_cookie(response: HTTPResponse) -> tuple[str, Any]:
    cookies = link_cookies(response)
    assert len(cookies) == 1, response.headers.get_list("Set-Cookie")
    return next(iter(cookies.items()))


# -- pages ---------------------------------------------------------------------------------------


async def test_pages_render_for_viewers_only_and_outsiders_take_no_kernel(
    api, jp_fetch, jp_serverapp, supervisor, create_account, login, dashboards_dir
) -> None:
    dashboard_id = await publish(api)
    unpublished = (await api.post("/api/dashboards", {"title": "Draft"}, expect=201))["id"]
    await supervisor.ensure_running()
    await pool_ready(supervisor, dashboard_id)

    owner = await fetch(jp_fetch, *view(dashboard_id))
    assert owner.code == 200, owner.body[:500]
    html = owner.body.decode()
    assert "jupyter-config-data" in html
    assert "application/vnd.jupyter.widget-view+json" in html
    assert "Traceback" not in html
    csp = owner.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    assert "default-src 'none'" in csp
    assert owner.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert owner.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in owner.headers or "voila" not in owner.headers["Set-Cookie"]

    await create_account("vera")
    await create_account("otto")
    vera, otto = await login("vera"), await login("otto")
    vera_id = (await vera.get("/api/user"))["id"]
    await api.post(
        "/api/dashboards/share",
        {"object_id": dashboard_id, "principal_type": "user", "principal_id": vera_id,
         "level": "view"},
        expect=201,
    )  # fmt: skip

    # Otto may not view it: 404 before Voila sees anything, so no kernel leaves the pool.
    await pool_ready(supervisor, dashboard_id)
    await asyncio.sleep(1)
    kernels = supervisor.kernel_count()
    refused = await fetch(jp_fetch, *view(dashboard_id), headers=bearer(otto))
    assert refused.code == 404
    assert MARKER not in refused.body.decode()
    await asyncio.sleep(2)
    assert supervisor.kernel_count() == kernels
    assert (await supervisor.health())["pools"][f"{dashboard_id}.ipynb"] == 1

    # Logged out: a browser goes to the login page, a script is refused; neither sees it.
    anonymous = await fetch(jp_fetch, *view(dashboard_id), headers={"Authorization": ""})
    assert anonymous.code == 302
    assert "/login" in anonymous.headers["Location"]
    script = await fetch(
        jp_fetch, *view(dashboard_id), headers={"Authorization": "", "Accept": "*/*"}
    )
    assert script.code == 403
    assert b"jupyter-config-data" not in script.body

    granted = await fetch(jp_fetch, *view(dashboard_id), headers=bearer(vera))
    assert granted.code == 200
    assert kernel_of(granted) != kernel_of(owner)

    # Not published, or nothing by that id: the same 404.
    assert (await fetch(jp_fetch, *view(unpublished))).code == 404
    assert (await fetch(jp_fetch, *view("A" * 22))).code == 404

    # Voila's assets, for viewers who were served a page; nothing else under Voila's prefix.
    asset = ("analytics", "voila", "voila", "static", "voila.js")
    assert (await fetch(jp_fetch, *asset, headers=bearer(vera))).code == 200
    assert (await fetch(jp_fetch, *asset, headers=bearer(otto))).code == 404
    for path in (
        f"voila/render/{dashboard_id}.ipynb",
        "voila/tree",
        f"voila/files/{dashboard_id}.ipynb",
        "voila/api/contents",
        "api/kernels",
        "login",
        "voila/static/..%2Frender%2Fx.ipynb",
        f"voila/static/%2e%2e/render/{dashboard_id}.ipynb",
    ):
        answer = await fetch(jp_fetch, "analytics", "voila", *path.split("/"))
        assert answer.code == 404, (path, answer.code)


@pytest.mark.parametrize("viewers", [False], ids=["off"])
async def test_viewers_turned_off_answer_404(jp_fetch, api) -> None:
    dashboard_id = await publish(api)
    answer = await fetch(jp_fetch, *view(dashboard_id))
    assert answer.code == 404
    assert b"dashboard viewers are turned off on this server" in answer.body


# -- kernels -------------------------------------------------------------------------------------


async def test_a_kernel_socket_carries_widgets_never_code_and_only_for_its_viewer(
    api, jp_fetch, jp_serverapp, jp_http_port, jp_base_url, supervisor, create_account, login,
    tmp_path,
) -> None:  # fmt: skip
    dashboard_id = await publish(api)
    await create_account("vera")
    vera = await login("vera")
    vera_id = (await vera.get("/api/user"))["id"]
    await api.post(
        "/api/dashboards/share",
        {"object_id": dashboard_id, "principal_type": "user", "principal_id": vera_id,
         "level": "view"},
        expect=201,
    )  # fmt: skip
    page = await fetch(jp_fetch, *view(dashboard_id))
    assert page.code == 200
    kernel_id = kernel_of(page)
    owner = owner_auth(jp_serverapp)

    ws = await connect(jp_http_port, jp_base_url, kernel_id, owner)
    try:
        # Code never runs: the proxy (and Voila behind it) drop execute_request.
        target = tmp_path / "written-by-a-viewer"
        code = f"open({str(target)!r}, 'w').write('pwned')"
        _, execute = message("execute_request", {"code": code, "silent": False})
        await ws.write_message(execute)
        info_id, info = message("kernel_info_request", {})
        await ws.write_message(info)
        await reply_to(ws, info_id, "kernel_info_reply")  # the shell answered after it
        assert not target.exists()

        # Widget traffic does flow: the comms of the dashboard's widgets, and their state.
        comms_id, comms = message("comm_info_request", {"target_name": "jupyter.widget"})
        await ws.write_message(comms)
        listed = (await reply_to(ws, comms_id, "comm_info_reply"))["content"]["comms"]
        assert listed, "the dashboard drew no widgets"
        texts = []
        for comm_id in listed:
            state_id, request = message(
                "comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}}
            )
            await ws.write_message(request)
            update = await reply_to(ws, state_id, "comm_msg")
            texts.append(json.dumps(update["content"]["data"].get("state", {})))
        assert any(MARKER in text for text in texts)
        assert not target.exists()

        # Another viewer of the same dashboard cannot reach this kernel.
        with pytest.raises(HTTPClientError) as other:
            await connect(jp_http_port, jp_base_url, kernel_id, bearer(vera))
        assert other.value.code == 404
        model = ("analytics", "voila", "api", "kernels", kernel_id)
        assert (await fetch(jp_fetch, *model, headers=bearer(vera))).code == 404
        assert (await fetch(jp_fetch, *model)).code == 200
        shutdown = ("analytics", "voila", "voila", "api", "shutdown", kernel_id)
        stolen = await fetch(jp_fetch, *shutdown, method="POST", body=b"", headers=bearer(vera))
        assert stolen.code == 404
    finally:
        ws.close()

    # Its own viewer's shutdown (the page's beforeunload beacon) ends it and its lease.
    shutdown = ("analytics", "voila", "voila", "api", "shutdown", kernel_id)
    ended = await fetch(jp_fetch, *shutdown, method="POST", body=b"")
    assert ended.code == 204, ended.body
    with pytest.raises(HTTPClientError) as gone:
        await connect(jp_http_port, jp_base_url, kernel_id, owner)
    assert gone.value.code == 404


# -- share links ---------------------------------------------------------------------------------


@pytest.mark.parametrize("multi_user", [True, False], ids=["team", "local"])
async def test_a_share_link_opens_its_dashboard_in_a_session_and_nothing_else(
    api, jp_fetch, jp_serverapp, jp_http_port, jp_base_url, supervisor, server_services,
    monkeypatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(dashboard_view, "ACCESS_RECHECK_SECONDS", 0.5)
    a = await publish(api, "A")
    b = await publish(api, "B", "Another board")
    link = await api.post(
        "/api/dashboards/share", {"object_id": a, "principal_type": "link"}, expect=201
    )
    nobody = {"Authorization": ""}

    # A's link on B: 404, no cookie.
    wrong = await fetch(jp_fetch, *view(b), headers=nobody, params={"share_token": link["token"]})
    assert wrong.code == 404
    assert not link_cookies(wrong)
    made_up = await fetch(jp_fetch, *view(a), headers=nobody, params={"share_token": "ael_x_y"})
    assert made_up.code == 404
    assert not link_cookies(made_up)
    # A dashboard kernel's own token views A too, but speaks for a kernel: no browser session.
    issue = server_services.sharing.issue_kernel_link
    kernel_token = await server_services.run(issue, "dashboard", a, "test", timedelta(hours=1))
    as_kernel = await fetch(
        jp_fetch, *view(a), headers=nobody, params={"share_token": kernel_token}
    )
    assert as_kernel.code == 404
    assert not link_cookies(as_kernel)

    opened = await fetch(
        jp_fetch, *view(a), headers=nobody, params={"share_token": link["token"], "tab": "1"}
    )
    assert opened.code == 302
    assert opened.headers["Location"] == f"{jp_base_url}analytics/dashboards/{a}?tab=1"
    name, cookie = link_cookie(opened)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == jp_base_url
    expires_at = datetime.fromisoformat(link["expires_at"])
    left = (expires_at - datetime.now(UTC)).total_seconds()
    assert abs(int(cookie["max-age"]) - left) < 60
    assert not cookie["secure"]  # plain http here; https gets Secure
    session = {"Authorization": "", "Cookie": f"{name}={cookie.value}"}

    page = await fetch(jp_fetch, *view(a), headers=session)
    assert page.code == 200, page.body[:300]
    kernel_id = kernel_of(page)
    assert (await fetch(jp_fetch, *view(b), headers=session)).code == 404
    asset = ("analytics", "voila", "voila", "static", "voila.js")
    plain = await fetch(jp_fetch, *asset, headers=session)
    assert plain.code == 200
    assert "immutable" not in plain.headers.get("Cache-Control", "")
    # A content-versioned asset (Voila's ``?v=<hash>``) may stay in the viewer's cache.
    versioned = await fetch(jp_fetch, *asset, headers=session, params={"v": "0123abcd"})
    assert versioned.code == 200
    assert versioned.headers["Cache-Control"] == "private, max-age=31536000, immutable"

    # Anywhere else the session is refused, and says why; the login page stays open.
    for parts in (("api", "query"), ("lab",), ("voila", "tree"), ("api", "kernels"),
                  ("api", "dashboards"), ("api", "user")):  # fmt: skip
        answer = await fetch(jp_fetch, *parts, headers=session)
        assert answer.code in (403, 404), (parts, answer.code)
        if answer.code == 403 and parts[0] == "api":
            assert LINK_SESSION_REFUSED in answer.body.decode(), parts
    assert (await fetch(jp_fetch, "lab", headers=session)).code == 403
    assert (await fetch(jp_fetch, "login", headers=session)).code == 200

    # A logged-in user with a stray link cookie stays themselves.
    mixed = {**owner_auth(jp_serverapp), "Cookie": session["Cookie"]}
    me = await fetch(jp_fetch, "api", "user", headers=mixed)
    assert me.code == 200
    assert json.loads(me.body)["is_admin"]

    # The link's kernel socket works for the session, and ends when the link is revoked.
    ws = await connect(jp_http_port, jp_base_url, kernel_id, session)
    info_id, info = message("kernel_info_request", {})
    await ws.write_message(info)
    await reply_to(ws, info_id, "kernel_info_reply")
    await api.delete(f"/api/dashboards/share/{link['id']}")
    closed = await asyncio.wait_for(_until_closed(ws), 10)
    assert closed is None
    assert (await fetch(jp_fetch, *view(a), headers=session)).code == 404
    assert (await fetch(jp_fetch, "lab", headers=session)).code == 403


async def _until_closed(ws: WebSocketClientConnection) -> None:
    while (await ws.read_message()) is not None:
        pass


# -- the Voila process -----------------------------------------------------------------------------


async def test_the_viewer_url_works_again_soon_after_voila_dies(api, jp_fetch, supervisor) -> None:
    dashboard_id = await publish(api)
    assert (await fetch(jp_fetch, *view(dashboard_id))).code == 200
    pid = supervisor.pid
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    while True:
        answer = await fetch(jp_fetch, *view(dashboard_id))
        if answer.code == 200:
            break
        assert answer.code == 503, answer.body[:300]
        assert time.monotonic() - killed < 10, "the viewer URL did not come back within 10 s"
        await asyncio.sleep(0.2)
    assert time.monotonic() - killed < 10
    assert supervisor.pid != pid
    kernel_of(answer)


# -- in a browser ------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).parent / "ui" / "screenshots" / "dashboard_viewer.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def sales_url() -> Iterator[str]:
    with sales_database() as url:
        yield url


@pytest.fixture
def chromium() -> str:
    if not CHROMIUM.is_file():
        message = "needs /usr/bin/chromium (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
        pytest.skip(message)
    return str(CHROMIUM)


async def test_a_browser_opens_a_share_link_and_runs_the_page_under_its_csp(
    api, jp_serverapp, jp_http_port, jp_base_url, supervisor, sales_url, chromium
) -> None:
    """The page's scripts, widgets, a bqplot chart and a table all run under the viewer CSP
    (only Voila's CDN stylesheets are refused), in a browser holding only a link session."""
    from playwright.async_api import async_playwright

    source = await make_datasource(api, sales_url)
    query = await save_query(api, source, SQL, parameters=PARAMETERS)
    chart = await api.post(
        "/api/chart", {"name": "by region", "query_id": query["id"], "spec": BAR}, expect=201
    )
    made = await api.post("/api/dashboards", board(query["id"], chart["id"]), expect=201)
    dashboard_id = made["id"]
    await api.request("POST", f"/api/dashboards/{dashboard_id}/publish", expect=200)
    link = await api.post(
        "/api/dashboards/share", {"object_id": dashboard_id, "principal_type": "link"}, expect=201
    )
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    refused: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "console",
                lambda entry: (
                    refused.append(entry.text) if "Content Security Policy" in entry.text else None
                ),
            )
            await page.goto(
                f"{base}analytics/dashboards/{dashboard_id}?share_token={link['token']}"
            )
            assert page.url == f"{base}analytics/dashboards/{dashboard_id}"  # token gone
            await page.get_by_text("Revenue at a glance").wait_for(timeout=60_000)
            await page.get_by_text("Rows 1 to 3 of 3").wait_for(timeout=60_000)  # the table
            await (
                page.locator(".bqplot svg").get_by_text("sum of amount").wait_for(timeout=60_000)
            )  # the chart, drawn by bqplot's scripts
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT))

            # Leaving the page sends Voila's shutdown beacon (a form post carrying the _xsrf
            # cookie's value): it passes the XSRF check and ends the kernel and its lease.
            proxy = DashboardProxy.of(jp_serverapp.web_app.settings)
            assert proxy is not None
            (lease,) = proxy.registry.leases()
            await page.goto("about:blank")
            deadline = time.monotonic() + 20
            while proxy.registry.holder(lease.kernel_id) is not None:
                assert time.monotonic() < deadline, "the shutdown beacon did not end the kernel"
                await asyncio.sleep(0.2)
        finally:
            await browser.close()
    assert refused, "expected Voila's CDN stylesheets to be refused"
    assert all("cdn.jsdelivr.net" in text for text in refused), refused


# -- the parts, alone ------------------------------------------------------------------------------


def test_the_kernel_id_is_read_from_voilas_page_config_even_split_across_chunks() -> None:
    kernel_id = "0b7d5c1e-2f3a-4b5c-8d9e-0123456789ab"
    page = (
        b"<html><head><style>" + b"x" * 70_000 + b"</style></head><body>"
        b'<script id="jupyter-config-data" type="application/json">'
        + json.dumps({"baseUrl": "/a/", "kernelId": kernel_id}).encode()
        + b"</script><div>"
        + json.dumps({"kernelId": "11111111-2222-3333-4444-555555555555"}).encode()
        + b"</div></body></html>"
    )
    for size in (1, 7, 4096, len(page)):
        scanner = KernelIdScanner()
        found = [scanner.feed(page[start : start + size]) for start in range(0, len(page), size)]
        assert [value for value in found if value] == [kernel_id], size
    assert KernelIdScanner().feed(b'id="jupyter-config-data">{"kernelId": "../x"}</script>') is None


def test_leases_end_when_unused_after_sockets_close_and_at_their_lifetime() -> None:
    now = [0.0]
    ended: list[str] = []
    registry = ViewerRegistry(
        lifetime=1000,
        connect_window=100,
        reconnect_grace=30,
        on_expire=lambda lease: ended.append(lease.kernel_id),
        clock=lambda: now[0],
    )
    assert registry.lease("k1", "alice", "d1")
    assert not registry.lease("k1", "bob", "d1")  # a kernel is served once
    registry.page_finished("k1")
    now[0] = 99
    assert registry.holder("k1") is not None
    registry.socket_opened("k1")
    now[0] = 500
    assert registry.holder("k1") is not None  # connected: no idle deadline
    registry.socket_closed("k1")
    now[0] = 529
    assert registry.holder("k1") is not None  # a reconnect may still come
    now[0] = 531
    assert registry.holder("k1") is None
    assert ended == ["k1"]

    registry.lease("k2", "alice", "d1")
    registry.page_finished("k2")
    now[0] += 101
    assert registry.holder("k2") is None  # served, never connected
    registry.lease("k3", "alice", "d1")
    registry.socket_opened("k3")
    now[0] += 1001
    assert registry.holder("k3") is None  # the lifetime ends even a connected kernel
    assert ended == ["k1", "k2", "k3"]

    registry.saw_viewer("carol")
    assert registry.has_viewer_session("carol")
    now[0] += 1001
    assert not registry.has_viewer_session("carol")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("voila/static/voila.js", True),
        ("voila/labextensions/@voila-dashboards/widgets-manager8/static/a.js", True),
        ("voila/static/../render/x.ipynb", False),
        ("voila/static/%2e%2e/render/x.ipynb", False),
        ("voila/static/..%2Frender", False),
        ("voila/static//etc/passwd", False),
        ("voila/static/a%5Cb", False),
    ],
    ids=["static", "labextension", "dots", "encoded-dots", "encoded-slash", "empty", "backslash"],
)
def test_only_plain_paths_are_relayed(path: str, ok: bool) -> None:
    assert dashboard_view.relayable_path(path) is ok


def test_message_types_are_read_in_both_kernel_protocols() -> None:
    from jupyter_server.services.kernels.connection.base import (
        serialize_binary_message,
        serialize_msg_to_ws_v1,
    )

    _, legacy = message("execute_request", {"code": "1"})
    assert dashboard_view.client_message_type(legacy, None) == "execute_request"
    header = json.dumps({"msg_type": "comm_msg", "msg_id": "1"}).encode()
    v1 = serialize_msg_to_ws_v1([header, b"{}", b"{}", b"{}"], "shell")
    assert dashboard_view.client_message_type(v1, dashboard_view.KERNEL_PROTOCOL_V1) == "comm_msg"
    legacy_binary = serialize_binary_message(
        {**json.loads(legacy), "buffers": [b"\x00\x01"], "header": {"msg_type": "comm_msg"}}
    )
    assert dashboard_view.client_message_type(legacy_binary, None) == "comm_msg"
    # Malformed frames are dropped, and quickly: a claimed part count of 2**63 (or 2**31 in
    # the legacy binary format) must not make the server loop or allocate for it.
    v1_protocol = dashboard_view.KERNEL_PROTOCOL_V1
    huge_v1 = (2**63).to_bytes(8, "little") + v1[8:]
    huge_legacy = (2**31 - 1).to_bytes(4, "big") + legacy_binary[4:]
    started = time.monotonic()
    for frame, protocol in ((b"junk", v1_protocol), (huge_v1, v1_protocol),
                            (huge_legacy, None), (b"\xff\xff\xff\xff", None),
                            ("{", None), ('{"header": []}', None)):  # fmt: skip
        assert dashboard_view.client_message_type(frame, protocol) is None
    assert time.monotonic() - started < 1

"""The Voila process that serves published dashboards, run for real (no proxy in front).

It answers only requests carrying a viewer pass signed for their exact path (no pass, another
path's, an expired one, another key's: 403 and no kernel taken); it lists and serves no
notebook; its kernel websocket carries comm messages but never code; each dashboard kernel
holds a token for its own dashboard only, revoked when the kernel shuts down and when the
process stops; pools follow what is published; a killed process is back within 10 seconds.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from sqlalchemy import select
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from analytics_ext.dashboards import viewer_pass, voila_side
from analytics_ext.dashboards.voila_process import VOILA_SETTING, VoilaSupervisor
from analytics_ext.errors import Unauthenticated
from analytics_ext.services.activity import ActivityLog
from analytics_ext.services.dashboard_publish import build_notebook
from analytics_ext.services.dashboards import DASHBOARD, LEVELS
from analytics_ext.services.sharing import SharedKind, SharingService
from analytics_ext.store import Database, upgrade_schema
from analytics_ext.store.models import Dashboard, ObjectGrant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SERVER_URL = "http://127.0.0.1:9/a%40b/"
"""Where dashboard kernels would call the Jupyter server (these notebooks never do)."""
BASE_URL = "/a%40b/"
REPLY_SECONDS = 60
KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    upgrade_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def sharing(store: Database) -> SharingService:
    service = SharingService(store, ActivityLog())
    service.register(SharedKind(DASHBOARD, Dashboard, LEVELS, linkable=True))
    return service


@pytest.fixture
def dashboards_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    return folder


@pytest.fixture
def supervisor(
    sqlite_url: str, dashboards_dir: Path, store: Database, jp_asyncio_loop
) -> Iterator[VoilaSupervisor]:
    voila = VoilaSupervisor(
        dashboards_dir=dashboards_dir,
        base_url=BASE_URL,
        server_url=SERVER_URL,
        db_url=sqlite_url,
        preheat=True,
        pool_size=1,
        kernel_lifetime=timedelta(hours=1),
    )
    yield voila
    jp_asyncio_loop.run_until_complete(voila.stop())


# -- helpers ---------------------------------------------------------------------------------


def new_dashboard(store: Database, title: str = "Sales") -> str:
    with store.transaction() as tx:
        row = Dashboard(title=title)
        tx.add(row)
        tx.flush()
        return row.id


def publish(folder: Path, dashboard_id: str, marker: str) -> Path:
    """A notebook whose output shows ``marker`` and whether its kernel holds a token (never
    the token itself)."""
    notebook = new_notebook(
        cells=[
            new_code_cell(
                "import os\n"
                f"print({marker!r}, 'token:', bool(os.environ.get('ANALYTICS_EXT_TOKEN')))"
            )
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path = folder / f"{dashboard_id}.ipynb"
    temporary = path.with_suffix(".tmp")
    nbformat.write(notebook, temporary)
    os.replace(temporary, path)  # as publishing does: Voila never reads half a notebook
    return path


def render_path(voila: VoilaSupervisor, notebook: str) -> str:
    return f"{voila.base_url}voila/render/{notebook}"


def pass_for(voila: VoilaSupervisor, path: str, **kw: Any) -> dict[str, str]:
    return {viewer_pass.HEADER: viewer_pass.sign(voila.key, "viewer-1", "Viewer", path, **kw)}


async def fetch(
    voila: VoilaSupervisor, path: str, headers: dict[str, str] | None = None, **kw: Any
) -> HTTPResponse:
    request = HTTPRequest(
        f"{voila.origin}{path}", headers=headers or {}, follow_redirects=False, **kw
    )
    return await AsyncHTTPClient().fetch(request, raise_error=False)


async def page(voila: VoilaSupervisor, notebook: str) -> HTTPResponse:
    path = render_path(voila, notebook)
    response = await fetch(voila, path, pass_for(voila, path), request_timeout=60)
    assert response.code == 200, response.body[:1000]
    return response


def kernel_of(response: HTTPResponse) -> str:
    match = KERNEL_ID.search(response.body.decode())
    assert match, response.body[:2000]
    return match[1]


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], within: float, what: str
) -> float:
    """Seconds until ``check()`` holds; AssertionError naming ``what`` after ``within``."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return time.monotonic() - start
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {within} s: {what}")


async def pools_ready(voila: VoilaSupervisor, *notebooks: str, within: float = 90) -> None:
    async def ready() -> bool:
        pools = (await voila.health())["pools"]
        return all(pools.get(name, 0) >= 1 for name in notebooks)

    await eventually(ready, within, f"preheated kernels for {notebooks}")


def kernel_processes(voila: VoilaSupervisor) -> dict[str, psutil.Process]:
    """The Voila process's kernels by kernel id (from their connection file's name)."""
    assert voila.pid is not None
    found = {}
    for child in psutil.Process(voila.pid).children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:  # ended meanwhile
            continue
        match = re.search(r"kernel-([0-9a-f-]{36})\.json", cmdline)
        if match:
            found[match[1]] = child
    return found


def environment(process: psutil.Process) -> dict[str, str]:
    raw = Path(f"/proc/{process.pid}/environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode(errors="replace") for key, _, value in pairs}


def revoked(sharing: SharingService, token: str) -> bool:
    try:
        sharing.authenticate_link(token)
    except Unauthenticated:
        return True
    return False


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def shell_message(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "viewer",
        "session": uuid.uuid4().hex,
        "date": datetime.now(UTC).isoformat(),
        "version": "5.3",
    }
    message = {
        "header": header,
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }
    return msg_id, json.dumps(message)


async def connect(voila: VoilaSupervisor, kernel_id: str, path: str | None = None) -> Any:
    """The kernel's websocket, with a pass for ``path`` (default: the websocket's own)."""
    own = f"{voila.base_url}api/kernels/{kernel_id}/channels"
    url = f"ws{voila.origin.removeprefix('http')}{own}?session_id={uuid.uuid4().hex}"
    headers = pass_for(voila, path or own)
    return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))


# -- the pass --------------------------------------------------------------------------------


async def test_only_a_valid_pass_for_the_exact_path_opens_a_page(
    supervisor: VoilaSupervisor, store: Database, dashboards_dir: Path
) -> None:
    dashboard_id, other_id = new_dashboard(store), new_dashboard(store, "Other")
    notebook, other = f"{dashboard_id}.ipynb", f"{other_id}.ipynb"
    publish(dashboards_dir, dashboard_id, "sales-marker")
    publish(dashboards_dir, other_id, "other-marker")

    origins = await asyncio.gather(*(supervisor.ensure_running() for _ in range(4)))
    assert len(set(origins)) == 1
    assert origins[0].startswith("http://127.0.0.1:")
    assert supervisor.pid is not None
    await pools_ready(supervisor, notebook, other)
    kernels_before = supervisor.kernel_count()
    assert kernels_before == 2

    path = render_path(supervisor, notebook)
    expired = time.time() - viewer_pass.LIFETIME_SECONDS - 5
    refused = {
        "no pass": {},
        "another path's pass": pass_for(supervisor, render_path(supervisor, other)),
        "a pass for the path's prefix": pass_for(supervisor, supervisor.base_url),
        "an expired pass": pass_for(supervisor, path, now=expired),
        "another key's pass": {
            viewer_pass.HEADER: viewer_pass.sign(viewer_pass.new_key(), "x", "X", path)
        },
        "a forged pass": {viewer_pass.HEADER: "e30.00"},
        "the server's token instead": {"Authorization": "token anything"},
    }
    for what, headers in refused.items():
        response = await fetch(supervisor, path, headers)
        assert response.code == 403, what
        assert b"sales-marker" not in response.body, what
        assert "Location" not in response.headers, what  # no login page
    # The pass is checked before Voila's handler: no pooled kernel was taken, none started.
    assert (await supervisor.health())["pools"] == {notebook: 1, other: 1}
    assert supervisor.kernel_count() == kernels_before

    response = await page(supervisor, notebook)
    assert "sales-marker token: True" in response.body.decode()

    # Voila's other authenticated routes refuse a request without a pass too.
    kernel_id = kernel_of(response)
    for sneaky in (
        f"{supervisor.base_url}api/kernels/{kernel_id}",
        f"{supervisor.base_url}voila/query/{kernel_id}",
        f"{supervisor.base_url}{voila_side.HEALTH_PATH}",
    ):
        assert (await fetch(supervisor, sneaky)).code == 403, sneaky
    shutdown = f"{supervisor.base_url}voila/api/shutdown/{kernel_id}"
    assert (await fetch(supervisor, shutdown, method="POST", body=b"")).code == 403
    assert kernel_id in kernel_processes(supervisor)
    # A viewer's pass does not read the supervisor's health report.
    health = f"{supervisor.base_url}{voila_side.HEALTH_PATH}"
    assert (await fetch(supervisor, health, pass_for(supervisor, health))).code == 403


async def test_no_notebook_is_listed_or_served_as_a_file(
    supervisor: VoilaSupervisor, store: Database, dashboards_dir: Path
) -> None:
    dashboard_id = new_dashboard(store)
    notebook = f"{dashboard_id}.ipynb"
    publish(dashboards_dir, dashboard_id, "sales-marker")
    (dashboards_dir / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    await supervisor.ensure_running()
    base = supervisor.base_url
    for path in (
        base,
        base.rstrip("/"),
        f"{base}voila/tree",
        f"{base}voila/tree/",
        f"{base}voila/tree/{notebook}",
        f"{base}voila/api/contents",
        f"{base}voila/api/contents/",
        f"{base}voila/api/contents/{notebook}",
        f"{base}voila/files/{notebook}",
        f"{base}voila/files/chart.png",
        f"{base}login",
        "/login",
        f"{base}logout",
    ):
        # Even with a valid pass for the very path.
        response = await fetch(supervisor, path, pass_for(supervisor, path))
        assert response.code in (403, 404), path
        assert dashboard_id.encode() not in response.body, path
        assert b"PNG" not in response.body, path
        assert "Location" not in response.headers, path


# -- the kernel websocket --------------------------------------------------------------------


async def test_the_kernel_websocket_carries_comms_but_never_code(
    supervisor: VoilaSupervisor, store: Database, dashboards_dir: Path, tmp_path: Path
) -> None:
    dashboard_id = new_dashboard(store)
    publish(dashboards_dir, dashboard_id, "sales-marker")
    await supervisor.ensure_running()
    kernel_id = kernel_of(await page(supervisor, f"{dashboard_id}.ipynb"))

    # Without a pass for the websocket's own path, no websocket.
    other_path = f"{supervisor.base_url}api/kernels/{uuid.uuid4()}/channels"
    with pytest.raises(HTTPClientError) as refused:
        await connect(supervisor, kernel_id, path=other_path)
    assert refused.value.code == 403

    proof = tmp_path / "code-ran"
    ws = await connect(supervisor, kernel_id)
    try:
        run_id, run = shell_message(
            "execute_request",
            {
                "code": f"open({str(proof)!r}, 'w').write('ran')",
                "silent": False,
                "store_history": False,
            },
        )
        await ws.write_message(run)
        info_id, info = shell_message("comm_info_request", {})
        await ws.write_message(info)
        replies = await asyncio.wait_for(read_until(ws, info_id, "comm_info_reply"), REPLY_SECONDS)
        # The kernel answered the comm request sent after the code, so it would have run the
        # code by now had it received it.
        assert replies[-1]["content"]["status"] == "ok"
        assert not any(m.get("parent_header", {}).get("msg_id") == run_id for m in replies)
        kernel_info_id, kernel_info = shell_message("kernel_info_request", {})
        await ws.write_message(kernel_info)
        more = await asyncio.wait_for(
            read_until(ws, kernel_info_id, "kernel_info_reply"), REPLY_SECONDS
        )
        assert not any(m.get("parent_header", {}).get("msg_id") == run_id for m in more)
    finally:
        ws.close()
    assert not proof.exists()


async def read_until(ws: WebSocketClientConnection, msg_id: str, kind: str) -> list[dict]:
    """Every message up to and including the reply of type ``kind`` to ``msg_id``."""
    seen = []
    while True:
        raw = await ws.read_message()
        assert raw is not None, "the kernel websocket closed"
        if isinstance(raw, bytes):
            from jupyter_server.services.kernels.connection.base import (
                deserialize_binary_message,
            )

            message = deserialize_binary_message(raw)
        else:
            message = json.loads(raw)
        seen.append(message)
        if (
            message.get("parent_header", {}).get("msg_id") == msg_id
            and message["header"]["msg_type"] == kind
        ):
            return seen


# -- kernel tokens ---------------------------------------------------------------------------


async def test_each_dashboard_kernel_holds_a_token_for_its_dashboard_until_it_ends(
    supervisor: VoilaSupervisor,
    store: Database,
    sharing: SharingService,
    dashboards_dir: Path,
) -> None:
    dashboard_id = new_dashboard(store)
    notebook = f"{dashboard_id}.ipynb"
    publish(dashboards_dir, dashboard_id, "sales-marker")
    publish(dashboards_dir, "notes", "notes-marker")  # not a dashboard's notebook
    await supervisor.ensure_running()
    await pools_ready(supervisor, notebook)

    (pooled_id, pooled), *others = kernel_processes(supervisor).items()
    assert not others  # one pool (notes.ipynb has none)
    env = environment(pooled)
    token = env["ANALYTICS_EXT_TOKEN"]
    assert token.startswith("ael_")
    assert env["ANALYTICS_EXT_URL"] == SERVER_URL
    for secret in (viewer_pass.VOILA_KEY_ENV, voila_side.ENV_DB_URL):
        assert secret not in env
    assert supervisor.key not in env.values()
    link = sharing.authenticate_link(token)
    assert (link.object_type, link.object_id) == ("dashboard", dashboard_id)
    with store.transaction() as tx:
        grant = tx.get(ObjectGrant, link.grant_id)
        assert grant is not None
        assert grant.issuer == voila_side.kernel_issuer(supervisor.instance, pooled_id)

    # A viewer takes the pooled kernel; closing the page (Voila's shutdown route) ends it,
    # and its token with it.
    response = await page(supervisor, notebook)
    assert kernel_of(response) == pooled_id
    assert "sales-marker token: True" in response.body.decode()
    shutdown = f"{supervisor.base_url}voila/api/shutdown/{pooled_id}"
    closed = await fetch(
        supervisor, shutdown, pass_for(supervisor, shutdown), method="POST", body=b""
    )
    assert closed.code == 204
    assert revoked(sharing, token)
    await eventually(lambda: gone(pooled), 15, "the kernel process ended")

    # A notebook that is not a dashboard's renders, with no token.
    assert "notes-marker token: False" in (await page(supervisor, "notes.ipynb")).body.decode()

    # The pool refilled; stopping the process revokes the new kernel's token too.
    await pools_ready(supervisor, notebook)
    refilled = [
        environment(process)["ANALYTICS_EXT_TOKEN"]
        for kernel_id, process in kernel_processes(supervisor).items()
        if environment(process).get(voila_side.ENV_NOTEBOOK) == notebook
    ]
    assert refilled
    assert not any(revoked(sharing, t) for t in refilled)
    processes = list(kernel_processes(supervisor).values())
    await supervisor.stop()
    assert supervisor.pid is None
    assert all(revoked(sharing, t) for t in refilled)
    with store.transaction() as tx:
        kernel_grants = select(ObjectGrant.id).where(ObjectGrant.principal_type == "kernel")
        assert tx.scalars(kernel_grants).all() == []
    await eventually(lambda: all(gone(p) for p in processes), 15, "kernels ended")


# -- supervision -----------------------------------------------------------------------------


async def test_a_killed_process_is_serving_again_within_ten_seconds(
    supervisor: VoilaSupervisor,
    store: Database,
    sharing: SharingService,
    dashboards_dir: Path,
) -> None:
    dashboard_id = new_dashboard(store)
    notebook = f"{dashboard_id}.ipynb"
    publish(dashboards_dir, dashboard_id, "sales-marker")
    await supervisor.ensure_running()
    await pools_ready(supervisor, notebook)
    first_pid, old_key = supervisor.pid, supervisor.key
    [old_kernel] = kernel_processes(supervisor).values()
    old_token = environment(old_kernel)["ANALYTICS_EXT_TOKEN"]
    old_path = render_path(supervisor, notebook)
    old_pass = pass_for(supervisor, old_path)

    dead = psutil.Process(first_pid)
    os.kill(first_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # (A signal takes a moment to land: until then the old process still counts as running.)
    await eventually(lambda: gone(dead), 5, "the process died")
    await supervisor.ensure_running()
    response = await page(supervisor, notebook)
    elapsed = time.monotonic() - killed_at
    assert "sales-marker" in response.body.decode()
    assert elapsed <= 10, f"the viewer page took {elapsed:.1f} s to come back"
    assert supervisor.pid not in (None, first_pid)
    # A new key per start: a pass of the dead process's key is worthless.
    assert supervisor.key != old_key
    assert (await fetch(supervisor, old_path, old_pass)).code == 403
    # The dead process's kernels and their tokens are gone.
    assert revoked(sharing, old_token)
    await eventually(lambda: gone(old_kernel), 10, "the orphan kernel ended")

    # The supervisor notices a death by itself (nobody calling ensure_running).
    second_pid = supervisor.pid
    os.kill(second_pid, signal.SIGKILL)
    back = await eventually(lambda: supervisor.pid not in (None, second_pid), 10, "restarted")
    assert back <= 10
    assert "sales-marker" in (await page(supervisor, notebook)).body.decode()


# -- pools -----------------------------------------------------------------------------------


async def test_pools_follow_what_is_published_without_a_viewer(
    supervisor: VoilaSupervisor, store: Database, dashboards_dir: Path
) -> None:
    first_id, second_id = new_dashboard(store), new_dashboard(store, "Second")
    first, second = f"{first_id}.ipynb", f"{second_id}.ipynb"
    publish(dashboards_dir, first_id, "first-v1")
    await supervisor.ensure_running()
    await pools_ready(supervisor, first)
    [first_kernel] = kernel_processes(supervisor).values()

    # Published while the process runs: preheated within seconds, no request needed.
    publish(dashboards_dir, second_id, "second-v1")
    await pools_ready(supervisor, second, within=30)
    assert supervisor.kernel_count() == 2

    # Re-published: the pooled kernel (rendered from the old notebook) is replaced.
    publish(dashboards_dir, first_id, "first-v2")
    await eventually(lambda: gone(first_kernel), 30, "old kernel replaced")
    await pools_ready(supervisor, first, within=30)
    body = (await page(supervisor, first)).body.decode()
    assert "first-v2" in body
    assert "first-v1" not in body

    # Unpublished: its pooled kernel shuts down and its pool goes.
    (dashboards_dir / second).unlink()

    async def second_gone() -> bool:
        return second not in (await supervisor.health())["pools"]

    await eventually(second_gone, 30, "the unpublished dashboard's pool removed")
    await eventually(
        lambda: (
            not any(
                environment(p).get(voila_side.ENV_NOTEBOOK) == second
                for p in kernel_processes(supervisor).values()
            )
        ),
        30,
        "the unpublished dashboard's kernel ended",
    )


async def test_pooled_kernels_are_renewed_before_their_token_ends(
    sqlite_url: str, store: Database, dashboards_dir: Path, jp_asyncio_loop
) -> None:
    dashboard_id = new_dashboard(store)
    notebook = f"{dashboard_id}.ipynb"
    publish(dashboards_dir, dashboard_id, "sales-marker")
    voila = VoilaSupervisor(
        dashboards_dir=dashboards_dir,
        base_url=BASE_URL,
        server_url=SERVER_URL,
        db_url=sqlite_url,
        preheat=True,
        pool_size=1,
        kernel_lifetime=timedelta(seconds=12),  # renewed after 6 s
    )
    try:
        await voila.ensure_running()
        await pools_ready(voila, notebook)
        [first] = kernel_processes(voila).values()
        await eventually(lambda: gone(first), 30, "the pooled kernel renewed")
        await pools_ready(voila, notebook, within=30)
    finally:
        await voila.stop()


async def test_without_preheat_each_viewer_gets_a_fresh_kernel_with_a_token(
    sqlite_url: str, store: Database, dashboards_dir: Path, sharing: SharingService
) -> None:
    dashboard_id = new_dashboard(store)
    publish(dashboards_dir, dashboard_id, "sales-marker")
    voila = VoilaSupervisor(
        dashboards_dir=dashboards_dir,
        base_url=BASE_URL,
        server_url=SERVER_URL,
        db_url=sqlite_url,
        preheat=False,
        pool_size=1,
        kernel_lifetime=timedelta(hours=1),
    )
    try:
        await voila.ensure_running()
        assert voila.kernel_count() == 0
        response = await page(voila, f"{dashboard_id}.ipynb")
        assert "sales-marker token: True" in response.body.decode()
        kernel = kernel_processes(voila)[kernel_of(response)]
        link = sharing.authenticate_link(environment(kernel)["ANALYTICS_EXT_TOKEN"])
        assert link.object_id == dashboard_id
    finally:
        await voila.stop()


# -- the server's wiring ---------------------------------------------------------------------


async def test_a_test_server_has_no_voila_process(jp_serverapp) -> None:
    assert jp_serverapp.web_app.settings[VOILA_SETTING] is None


class TestServerWithViewers:
    """``dashboard_viewers`` on: the server starts Voila at start when dashboards are already
    published (else the first viewer does), and stops it when it stops."""

    @pytest.fixture
    def jp_server_config(self, jp_server_config, tmp_path: Path, store: Database):
        jp_server_config.AnalyticsExtension.dashboard_viewers = True
        self.dashboard_id = new_dashboard(store)
        folder = Path(jp_server_config.AnalyticsExtension.dashboards_dir)
        folder.mkdir(parents=True, exist_ok=True)
        publish(folder, self.dashboard_id, "sales-marker")
        return jp_server_config

    @pytest.fixture
    def db_url(self, sqlite_url: str) -> str:
        return sqlite_url

    async def test_starts_with_the_server_and_stops_with_it(self, jp_serverapp) -> None:
        supervisor = jp_serverapp.web_app.settings[VOILA_SETTING]
        assert isinstance(supervisor, VoilaSupervisor)
        assert supervisor.base_url == f"{jp_serverapp.base_url}analytics/voila/"
        assert supervisor.server_url == jp_serverapp.connection_url
        assert supervisor.pid is None
        await jp_serverapp._post_start()  # what starting the server runs (pytest-jupyter doesn't)
        await eventually(lambda: supervisor.pid is not None, 30, "Voila started")
        await pools_ready(supervisor, f"{self.dashboard_id}.ipynb")
        process = psutil.Process(supervisor.pid)
        kernels = list(kernel_processes(supervisor).values())
        await jp_serverapp._cleanup()  # what stopping the server runs: stop_extension first
        assert supervisor.pid is None
        assert gone(process)
        assert all(gone(k) for k in kernels)


async def test_a_published_dashboard_renders_with_its_kernel_token(
    jp_serverapp, api, server_services, db_url: str, tmp_path: Path, jp_asyncio_loop
) -> None:
    """The notebook publishing writes (``show(id)``) in the Voila process, against the real
    server: the page renders the dashboard widget, and its kernel's token reads it."""
    body = {
        "title": "Sales",
        "tiles": [{"id": "intro", "type": "markdown", "text": "Quarterly numbers"}],
        "layout": [{"tile": "intro", "x": 0, "y": 0, "w": 12, "h": 2}],
    }
    made = await api.post("/api/dashboards", body, expect=201)
    published = await api.post(f"/api/dashboards/{made['id']}/publish")
    folder = tmp_path / "dashboards"
    [cell] = nbformat.read(folder / published["notebook"], as_version=4).cells
    assert cell.source == build_notebook(made["id"], 1, "Sales").cells[0].source
    voila = VoilaSupervisor(
        dashboards_dir=folder,
        base_url=jp_serverapp.base_url,
        server_url=jp_serverapp.connection_url,
        db_url=db_url,
        preheat=True,
        pool_size=1,
        kernel_lifetime=timedelta(hours=1),
    )
    try:
        await voila.ensure_running()
        await pools_ready(voila, published["notebook"])
        response = await page(voila, published["notebook"])
        html = response.body.decode()
        assert "application/vnd.jupyter.widget-view+json" in html
        assert "Traceback" not in html
        assert "There was an error when executing cell" not in html
        kernel = kernel_processes(voila)[kernel_of(response)]
        token = environment(kernel)["ANALYTICS_EXT_TOKEN"]
        link = await server_services.run(server_services.sharing.authenticate_link, token)
        assert (link.object_type, link.object_id) == ("dashboard", made["id"])
        # The server accepts it for that dashboard, as the kernel's client sends it.
        seen = await api.get(
            f"/api/dashboards/{made['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert seen["title"] == "Sales"
    finally:
        await voila.stop()

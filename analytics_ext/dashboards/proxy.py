"""Forwarding dashboard viewers to the Voila process, after the Jupyter server checked them.

The Voila process (``dashboards.voila_process``) listens on 127.0.0.1 and answers only requests
carrying a viewer pass (``dashboards.viewer_pass``) signed for the exact path. This module is
the only thing that signs them, and does so only after the viewer handlers
(``handlers.dashboard_view``) checked the caller: may they view the dashboard, is this kernel
the one their page was given (``viewer_registry``).

What crosses the proxy is kept to what Voila's page needs:

- requests carry an allowlist of headers (content negotiation and cache validators): never the
  viewer's Host, Cookie or Authorization, so no credential of this server reaches Voila;
- responses carry an allowlist of headers (no Set-Cookie, no hop-by-hop headers, no CSP of
  Voila's own: the viewer handlers set theirs) and stream through as they arrive, so a page
  that renders cell by cell shows cell by cell;
- websockets (a kernel's channels) are relayed frame by frame in both directions, text and
  binary alike; closing either side closes the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jupyter_server.utils import url_path_join
from tornado import httputil, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import PeriodicCallback
from tornado.websocket import WebSocketClientConnection, websocket_connect

from ..errors import Forbidden, NotFound, Unavailable
from ..services import Services
from ..services.sharing import PRINCIPAL_LINK
from ..store.models import ObjectGrant
from . import viewer_pass
from .urls import notebook_name, voila_base_url
from .viewer_registry import KernelLease, ViewerRegistry
from .voila_process import VOILA_SETTING

log = logging.getLogger(__name__)

PROXY_SETTING = "analytics_ext_dashboard_proxy"
"""Where the one ``DashboardProxy`` of the web application lives once created."""

DASHBOARD_KIND = "dashboard"
KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

REQUEST_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "range",
        "user-agent",
    }
)
"""What a viewer's request may tell Voila. Accept-Encoding stays out (bodies come back plain, so
no encoding has to be carried along); Host, Cookie and Authorization stay out always."""

RESPONSE_HEADERS = frozenset(
    {
        "accept-ranges",
        "cache-control",
        "content-length",
        "content-range",
        "content-type",
        "etag",
        "expires",
        "last-modified",
        "pragma",
    }
)
"""What of Voila's answer reaches the viewer."""

PAGE_TIMEOUT_SECONDS = 900.0
"""A page executes the dashboard's notebook when no preheated kernel is free; Voila sends a
heartbeat meanwhile, so only a render that never ends meets this."""
ASSET_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
SWEEP_MILLISECONDS = 10_000
MAX_PAGE_BYTES = 1 << 30
MAX_SOCKET_MESSAGE_BYTES = 1 << 26
"""A kernel message (widget state, a chart's data) can be large; Voila's own limit is higher."""


class VoilaSupervisor(Protocol):
    """What the proxy needs of ``dashboards.voila_process.VoilaSupervisor``."""

    key: str

    async def ensure_running(self) -> str: ...


@dataclass(frozen=True)
class Viewer:
    """Whom a forwarded request speaks for: their actor id (a user id or ``link:<grant>``)."""

    actor_id: str
    name: str


class ViewerGone(Exception):
    """The viewer's connection closed mid-response: stop reading Voila's answer."""


class KernelClaimed(Exception):
    """A page named a kernel already leased to another viewer: never hand it over."""


# -- access ------------------------------------------------------------------------------------


def require_viewable(
    services: Services, actor_id: str, dashboard_id: str, dashboards_dir: Path
) -> None:
    """``NotFound`` unless ``actor_id`` may view ``dashboard_id`` and it is published.

    Blocking (call through ``Services.run``): one indexed lookup of the dashboard and the
    caller's grants, then one ``stat``. A dashboard the caller may not see, and one that is not
    published, answer alike: nothing is there for them.
    """
    try:
        with services.db.transaction() as tx:
            access = services.sharing.require(tx, actor_id, DASHBOARD_KIND, dashboard_id, "view")
            published = access.obj.published_version is not None
    except Forbidden:
        raise NotFound("dashboard not found") from None
    if not published or not (dashboards_dir / notebook_name(dashboard_id)).is_file():
        raise NotFound("dashboard not found")


def is_browser_link(services: Services, grant_id: str) -> bool:
    """Whether ``grant_id`` is a share link someone made for people (not a dashboard kernel's
    own token, which speaks for a kernel and never opens a browser session). Blocking."""
    with services.db.transaction() as tx:
        grant = tx.get(ObjectGrant, grant_id)
        return grant is not None and grant.principal_type == PRINCIPAL_LINK


# -- reading the kernel id out of the page -------------------------------------------------------


class KernelIdScanner:
    """Finds the kernel id in the page config Voila writes into a dashboard page.

    Voila's templates write ``<script id="jupyter-config-data" type="application/json">`` with
    ``kernelId`` before any cell output (with a preheated kernel too), so the first such script
    is Voila's own and cannot be one a notebook printed. The page streams, so the script may
    arrive split across chunks.
    """

    MARK = b'id="jupyter-config-data"'
    SCAN_LIMIT = 64 << 20
    CONFIG_LIMIT = 8 << 20

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0
        self._done = False
        self.kernel_id: str | None = None

    def feed(self, chunk: bytes) -> str | None:
        """The kernel id, the first time the chunks so far contain it; None otherwise."""
        if self._done:
            return None
        self._scanned += len(chunk)
        self._buffer += chunk
        start = self._buffer.find(self.MARK)
        if start < 0:
            del self._buffer[: max(0, len(self._buffer) - len(self.MARK))]
            self._done = self._scanned > self.SCAN_LIMIT
            return None
        del self._buffer[:start]
        opened = self._buffer.find(b">")
        closed = self._buffer.find(b"</script>", opened + 1) if opened >= 0 else -1
        if closed < 0:
            self._done = len(self._buffer) > self.CONFIG_LIMIT
            return None
        self._done = True
        try:
            config = json.loads(bytes(self._buffer[opened + 1 : closed]))
        except ValueError:
            return None
        kernel_id = config.get("kernelId") if isinstance(config, dict) else None
        self._buffer.clear()
        if isinstance(kernel_id, str) and re.fullmatch(KERNEL_ID, kernel_id):
            self.kernel_id = kernel_id
            return kernel_id
        return None


# -- copying a response --------------------------------------------------------------------------


class ResponseRelay:
    """Copies Voila's answer to the viewer as it arrives: status, allowed headers, body.

    ``passes`` says which upstream statuses are copied; any other leaves the viewer's response
    untouched (the caller answers with its own error) and the body is dropped. ``watch`` sees
    each chunk before the viewer does (and may raise to stop the response).
    """

    def __init__(
        self,
        handler: web.RequestHandler,
        passes: Callable[[int], bool],
        watch: Callable[[bytes], None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.handler = handler
        self.passes = passes
        self.watch = watch
        self.extra_headers = headers or {}
        self.status: int | None = None
        self.started = False
        self._headers = httputil.HTTPHeaders()

    def header_line(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self.status = httputil.parse_response_start_line(line.strip()).code
            self._headers = httputil.HTTPHeaders()
        elif line.strip():
            self._headers.parse_line(line)
        elif self.status is not None and self.status >= 200:
            self._begin()

    def _begin(self) -> None:
        assert self.status is not None
        if not self.passes(self.status):
            return
        self.handler.set_status(self.status)
        for name in RESPONSE_HEADERS:
            value = self._headers.get(name)
            if value is not None:
                self.handler.set_header(name, value)
        for name, value in self.extra_headers.items():
            self.handler.set_header(name, value)
        self.started = True

    def chunk(self, data: bytes) -> None:
        if getattr(self.handler, "viewer_gone", False):
            raise ViewerGone()
        if not self.started:
            return
        if self.watch is not None:
            self.watch(data)
        self.handler.write(data)
        self.handler.flush()


# -- the proxy ---------------------------------------------------------------------------------


class DashboardProxy:
    """Signs and forwards viewer requests to the Voila process; keeps the kernel leases."""

    def __init__(self, supervisor: VoilaSupervisor, base_url: str, lifetime: float) -> None:
        self.supervisor = supervisor
        self.base_url = base_url
        self.voila_base = voila_base_url(base_url)
        self.registry = ViewerRegistry(lifetime, on_expire=self._lease_expired)
        self._client: AsyncHTTPClient | None = None
        self._sockets: dict[str, set[Any]] = {}
        self._sweeper: PeriodicCallback | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, settings: dict[str, Any]) -> DashboardProxy | None:
        """The application's proxy; None when dashboard viewers are turned off."""
        supervisor = settings.get(VOILA_SETTING)
        if supervisor is None:
            return None
        proxy = settings.get(PROXY_SETTING)
        if proxy is None or proxy.supervisor is not supervisor:
            extension = settings.get("analytics_ext")
            lifetime = float(getattr(extension, "dashboard_kernel_lifetime", 86_400))
            proxy = cls(supervisor, settings.get("base_url", "/"), lifetime)
            settings[PROXY_SETTING] = proxy
        proxy._start_sweeping()
        return proxy

    @property
    def client(self) -> AsyncHTTPClient:
        # Its own client: the shared one allows 10 requests at once, and a few slow page
        # renders would then hold up every asset of every viewer.
        if self._client is None:
            self._client = AsyncHTTPClient(force_instance=True, max_clients=256)
        return self._client

    def _start_sweeping(self) -> None:
        if self._sweeper is None:
            self._sweeper = PeriodicCallback(self.registry.sweep, SWEEP_MILLISECONDS)
            self._sweeper.start()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._client is not None:
            self._client.close()

    def upstream_path(self, relative: str) -> str:
        """``relative`` (a Voila path such as ``voila/static/x.js``) under Voila's base_url."""
        return url_path_join(self.voila_base, relative)

    def page_path(self, dashboard_id: str) -> str:
        return self.upstream_path(f"voila/render/{notebook_name(dashboard_id)}")

    def _signed(self, viewer: Viewer, path: str, headers: dict[str, str]) -> dict[str, str]:
        key = self.supervisor.key
        return {
            **headers,
            viewer_pass.HEADER: viewer_pass.sign(key, viewer.actor_id, viewer.name, path),
        }

    # -- HTTP ------------------------------------------------------------------------------------

    async def forward(
        self,
        handler: web.RequestHandler,
        viewer: Viewer,
        path: str,
        *,
        query: str = "",
        method: str = "GET",
        passes: Callable[[int], bool] = lambda status: status < 300 or status in (304, 404),
        watch: Callable[[bytes], None] | None = None,
        headers: dict[str, str] | None = None,
        request_timeout: float = ASSET_TIMEOUT_SECONDS,
    ) -> int:
        """Forward one request to Voila's ``path`` and stream a passing answer to the viewer.

        Returns the upstream status; when it does not pass, nothing was written and the caller
        answers. A connection that fails before any answer (the Voila process died and is being
        restarted) is retried once. ``Unavailable`` when Voila cannot be reached.
        """
        forwarded = {
            name: value
            for name, value in handler.request.headers.get_all()
            if name.lower() in REQUEST_HEADERS
        }
        for attempt in (1, 2):
            origin = await self.supervisor.ensure_running()
            relay = ResponseRelay(handler, passes, watch, headers)
            url = f"{origin}{path}" + (f"?{query}" if query else "")
            request = HTTPRequest(
                url,
                method=method,
                headers=self._signed(viewer, path, forwarded),
                body=b"" if method == "POST" else None,
                follow_redirects=False,
                decompress_response=False,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                request_timeout=request_timeout,
                header_callback=relay.header_line,
                streaming_callback=relay.chunk,
            )
            try:
                response = await self.client.fetch(request, raise_error=False)
            except ViewerGone:
                return relay.status or 499  # tornado closes the viewer's side itself
            except (OSError, HTTPClientError) as error:
                if relay.started:
                    # Too late for an error status: end the viewer's response where Voila's did.
                    log.warning("dashboard proxy: %s broke off mid-answer: %s", path, error)
                    handler.request.connection.close()
                    return relay.status or 502
                if attempt == 1:
                    continue
                raise Unavailable("the dashboard server is not answering; try again") from None
            if relay.started:
                handler.finish()
            return response.code
        raise AssertionError("unreachable")

    async def serve_page(
        self, handler: web.RequestHandler, viewer: Viewer, dashboard_id: str
    ) -> int:
        """Stream the dashboard's page, leasing the kernel it names to ``viewer``."""
        self.registry.saw_viewer(viewer.actor_id)
        scanner = KernelIdScanner()
        leased: list[str] = []

        def watch(chunk: bytes) -> None:
            kernel_id = scanner.feed(chunk)
            if kernel_id is None:
                return
            if not self.registry.lease(kernel_id, viewer.actor_id, dashboard_id):
                log.error(
                    "dashboard proxy: kernel %s was already served to another viewer", kernel_id
                )
                raise KernelClaimed(kernel_id)
            leased.append(kernel_id)

        status = 0
        try:
            status = await self.forward(
                handler,
                viewer,
                self.page_path(dashboard_id),
                passes=lambda code: code == 200,
                watch=watch,
                headers={"Cache-Control": "no-store"},
                request_timeout=PAGE_TIMEOUT_SECONDS,
            )
        except KernelClaimed:
            handler.request.connection.close()  # the rest of that page is not this viewer's
        finally:
            for kernel_id in leased:
                self.registry.page_finished(kernel_id)
        if status == 200 and not leased:
            log.warning("dashboard proxy: no kernel id in the page of dashboard %s", dashboard_id)
        return status

    async def shutdown_kernel(self, kernel_id: str, viewer: Viewer) -> None:
        """Ask Voila to shut ``kernel_id`` down (Voila then revokes the kernel's token)."""
        path = self.upstream_path(f"voila/api/shutdown/{kernel_id}")
        try:
            origin = await self.supervisor.ensure_running()
            request = HTTPRequest(
                f"{origin}{path}",
                method="POST",
                body=b"",
                headers=self._signed(viewer, path, {}),
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                request_timeout=ASSET_TIMEOUT_SECONDS,
            )
            await self.client.fetch(request, raise_error=False)
        except (OSError, HTTPClientError, Unavailable) as error:
            log.info("dashboard proxy: kernel %s not shut down: %s", kernel_id, error)

    def end_kernel(self, kernel_id: str) -> None:
        """The viewer's page shut ``kernel_id`` down: forget its lease, close its sockets."""
        self.registry.release(kernel_id)
        for socket in list(self._sockets.pop(kernel_id, ())):
            socket.close()

    def _lease_expired(self, lease: KernelLease) -> None:
        for socket in list(self._sockets.pop(lease.kernel_id, ())):
            socket.close()
        viewer = Viewer(lease.actor_id, "expired lease")
        task = asyncio.ensure_future(self.shutdown_kernel(lease.kernel_id, viewer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- websockets --------------------------------------------------------------------------

    async def connect_socket(
        self, viewer: Viewer, path: str, query: str, subprotocols: list[str]
    ) -> WebSocketClientConnection:
        """Open Voila's side of a relayed websocket (``HTTPClientError`` carries Voila's
        refusal, e.g. 404 for a kernel that is gone)."""
        for attempt in (1, 2):
            origin = await self.supervisor.ensure_running()
            url = "ws" + origin.removeprefix("http") + path + (f"?{query}" if query else "")
            request = HTTPRequest(
                url,
                headers=self._signed(viewer, path, {}),
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                request_timeout=CONNECT_TIMEOUT_SECONDS,
            )
            try:
                return await websocket_connect(
                    request,
                    subprotocols=subprotocols or None,
                    ping_interval=30,
                    max_message_size=MAX_SOCKET_MESSAGE_BYTES,
                )
            except OSError:
                if attempt == 2:
                    raise Unavailable("the dashboard server is not answering; try again") from None
        raise AssertionError("unreachable")

    def socket_opened(self, kernel_id: str, socket: Any) -> None:
        self._sockets.setdefault(kernel_id, set()).add(socket)
        self.registry.socket_opened(kernel_id)

    def socket_closed(self, kernel_id: str, socket: Any) -> None:
        sockets = self._sockets.get(kernel_id)
        if sockets is not None and socket in sockets:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[kernel_id]
            self.registry.socket_closed(kernel_id)

    def open_sockets(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())


def close_code(code: int | None) -> int | None:
    """A close code that may be sent on (1005/1006 and other reserved codes may not)."""
    if code is not None and (
        code in (1000, 1001, 1003, 1007, 1008, 1009, 1011) or 3000 <= code < 5000
    ):
        return code
    return None

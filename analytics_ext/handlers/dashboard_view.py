"""The viewer pages of published dashboards, and the Voila paths they need, on this server.

``GET {base_url}analytics/dashboards/<id>`` is a dashboard's page: the caller must be allowed to
view the dashboard, and it must be published, *before* anything reaches the Voila process (so
nobody without access takes a kernel, preheated or not). Opened with ``?share_token=ael_...``
for that dashboard, it starts a share-link session instead (``auth.identity.set_link_session``)
and sends the browser back to the same address without the token.

``{base_url}analytics/voila/...`` is the Voila process's own base_url, forwarded unchanged, for
an allowlist of paths only:

- assets (``voila/static``, ``voila/templates/<name>/static``, ``voila/labextensions``,
  ``voila/api/themes``): for a viewer with a live viewer session (a page served recently);
- a kernel's model, websocket (``api/kernels/<id>``, ``.../channels``), request-info socket
  (``voila/query/<id>``) and shutdown (``voila/api/shutdown/<id>``): only for the viewer that
  kernel's page was served to, while they may still view its dashboard;
- nothing else: the tree, direct renders, contents, files, the kernel list and login are 404.

These are pages, not REST routes: logged-out browsers are sent to the login page, as for other
Jupyter pages, and no OpenAPI operation describes them. Every verb is authorized as
``DASHBOARDS`` explicitly (``@authorized`` would otherwise cache the first resource it saw);
they are the only non-REST routes that accept share links.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from http.client import responses
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlencode

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.httpclient import HTTPClientError
from tornado.ioloop import PeriodicCallback
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, WebSocketHandler

from ..auth import resources as res
from ..auth.identity import SHARE_TOKEN_ARGUMENT, AnalyticsUser, analytics_user, set_link_session
from ..dashboards.proxy import (
    DASHBOARD_KIND,
    KERNEL_ID,
    DashboardProxy,
    Viewer,
    close_code,
    is_browser_link,
    require_viewable,
)
from ..errors import AnalyticsError, Unauthenticated, Unavailable
from ..services import SETTINGS_KEY, Services
from ..store.types import ID_LENGTH

P = ParamSpec("P")
T = TypeVar("T")

DASHBOARD_ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
VIEWERS_OFF = "dashboard viewers are turned off on this server"
NOT_FOUND = "dashboard not found"
RETRY_AFTER_SECONDS = "5"

VIEWER_CSP = "; ".join(
    [
        "default-src 'none'",
        # Voila's page runs inline bootstrap scripts (cell-by-cell progress, its app's start)
        # and its bundles, all from this server under our prefix; nothing from elsewhere.
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "media-src 'self' data: blob:",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        # JupyterLab shows the page in a tab (an iframe of this server); nobody else may.
        "frame-ancestors 'self'",
    ]
)

KERNEL_MESSAGES = frozenset(
    {
        "comm_open",
        "comm_close",
        "comm_msg",
        "comm_info_request",
        "kernel_info_request",
        "shutdown_request",
    }
)
"""What a viewer's browser may send a dashboard kernel: widget traffic, never code. The Voila
process drops anything else too; checking here as well keeps that true even if it did not."""
KERNEL_PROTOCOL_V1 = "v1.kernel.websocket.jupyter.org"
ACCESS_RECHECK_SECONDS = 30.0
"""How often an open kernel socket re-checks that its viewer may still view the dashboard
(a revoked grant or link then ends the socket and the kernel within this time)."""


def relayable_path(path: str) -> bool:
    """Whether a Voila path may be forwarded as it is: no dot segments, empty segments or
    encoded separators that Voila's router might read differently from ours."""
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path or "\x00" in path:
        return False
    segments = unquote(path).split("/")
    return all(segment not in ("", ".", "..") for segment in segments)


def client_message_type(message: str | bytes, subprotocol: str | None) -> str | None:
    """The ``msg_type`` of a message a browser sends a kernel (None if it is malformed)."""
    try:
        if subprotocol == KERNEL_PROTOCOL_V1:
            if not isinstance(message, bytes):
                return None
            header = json.loads(_v1_header(message))
        elif isinstance(message, bytes):
            header = json.loads(_legacy_binary_message(message))["header"]
        else:
            header = json.loads(message)["header"]
        msg_type = header["msg_type"]
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError):
        return None
    return msg_type if isinstance(msg_type, str) else None


def _v1_header(message: bytes) -> bytes:
    """The header part of a ``v1.kernel.websocket.jupyter.org`` frame, read with bounds.

    jupyter_server's ``deserialize_msg_from_ws_v1`` trusts the frame's part count (a crafted
    count of 2**63 would loop on the event loop for ever): here the count is capped and every
    offset must lie inside the frame, in order.
    """
    count = int.from_bytes(message[:8], "little")
    if not 3 <= count <= 64 or len(message) < 8 * (count + 1):
        raise ValueError("malformed kernel message")
    offsets = [int.from_bytes(message[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets != sorted(offsets) or offsets[0] < 8 * (count + 1) or offsets[-1] > len(message):
        raise ValueError("malformed kernel message")
    return message[offsets[1] : offsets[2]]  # offsets[0:1] is the channel, then the header


def _legacy_binary_message(message: bytes) -> bytes:
    """The JSON part of a legacy binary frame (a message with buffers), read with bounds (as
    ``_v1_header``: ``deserialize_binary_message`` would build a format string as long as the
    frame's claimed part count)."""
    count = int.from_bytes(message[:4], "big", signed=True)
    if not 1 <= count <= 1024 or len(message) < 4 * (count + 1):
        raise ValueError("malformed kernel message")
    offsets = [int.from_bytes(message[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    ends = [*offsets[1:], len(message)]
    if offsets != sorted(offsets) or offsets[0] < 4 * (count + 1) or ends[-1] < offsets[-1]:
        raise ValueError("malformed kernel message")
    return message[offsets[0] : ends[0]]


class ViewerHandler(JupyterHandler):
    """What every viewer route shares: the proxy, the viewer, errors, and the headers."""

    auth_resource = res.DASHBOARDS
    accepts_share_links = True
    viewer_gone = False

    @property
    def services(self) -> Services:
        return self.settings[SETTINGS_KEY]

    @property
    def proxy(self) -> DashboardProxy:
        proxy = DashboardProxy.of(self.settings)
        if proxy is None:
            raise web.HTTPError(404, VIEWERS_OFF)
        return proxy

    @property
    def dashboards_dir(self) -> Path:
        return Path(self.settings["analytics_ext"].dashboards_dir)

    async def viewer(self) -> Viewer:
        """The caller as the Voila process will know them."""
        user = self.current_user
        if not isinstance(user, AnalyticsUser) or not user.user_id:
            user = await self._external_user(user)
        return Viewer(user.user_id, user.display_name or user.username)

    async def _external_user(self, user: Any) -> AnalyticsUser:
        """Another IdentityProvider's user (JupyterHub's): the account of the same username,
        as every analytics route maps it (``handlers.base``)."""
        if (
            user is None
            or not getattr(user, "username", "")
            or isinstance(self.identity_provider, PasswordIdentityProvider)
        ):
            # Jupyter's stock token provider names each browser "Anonymous <moon>": nobody to map.
            raise web.HTTPError(403, "this server's identity provider does not map users")
        hub_user = getattr(user, "hub_user", None)
        is_admin = bool(hub_user.get("admin")) if isinstance(hub_user, dict) else False
        account = await self.run(
            self.services.users.ensure_external,
            user.username,
            user.display_name or user.name or user.username,
            is_admin,
        )
        if self.services.revocations.account(account.id) is None:
            raise web.HTTPError(403, "this analytics account is disabled; ask an administrator")
        return analytics_user(account, self)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A blocking service call off the event loop; domain errors become statuses."""
        try:
            return await self.services.run(fn, *args, **kwargs)
        except AnalyticsError as error:
            raise web.HTTPError(error.status, error.message) from None

    async def check_viewable(self, actor_id: str, dashboard_id: str) -> None:
        await self.run(require_viewable, self.services, actor_id, dashboard_id, self.dashboards_dir)

    async def relay(self, forwarding: Awaitable[int], passes: Callable[[int], bool]) -> None:
        """Await a forward; answer for a status Voila gave that was not passed on."""
        try:
            status = await forwarding
        except Unavailable as error:
            raise web.HTTPError(503, error.message) from None  # write_error adds Retry-After
        if passes(status) or self._finished or self.viewer_gone:
            return
        if status == 404:
            raise web.HTTPError(404, NOT_FOUND)
        self.log.warning("dashboard proxy: Voila answered %s for %s", status, self.request.path)
        raise web.HTTPError(502, "the dashboard server could not answer; try again")

    # -- pages, not an API ---------------------------------------------------------------------

    def get_login_url(self) -> str:
        """Browsers go to the login page; scripts (anything not asking for HTML) get 403."""
        if "text/html" not in self.request.headers.get("Accept", ""):
            raise web.HTTPError(403, "authentication required")
        return super().get_login_url()

    @property
    def content_security_policy(self) -> str:
        return VIEWER_CSP

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Frame-Options", "SAMEORIGIN")
        self.set_header("Referrer-Policy", "same-origin")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's error page, with our message (its 404 page would hide why: "viewers are
        turned off" is worth saying); never a traceback."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.log_message if isinstance(error, web.HTTPError) else None
        if status_code == 503:
            self.set_header("Retry-After", RETRY_AFTER_SECONDS)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(
            self.render_template(
                "error.html",
                status_code=status_code,
                status_message=responses.get(status_code, "Unknown"),
                message=message or "",
                exception=None,
            )
        )

    def compute_etag(self) -> None:
        return None  # Voila's own validators travel through; never one of a streamed body

    def on_connection_close(self) -> None:
        self.viewer_gone = True
        super().on_connection_close()


class DashboardPageHandler(ViewerHandler):
    """``GET /analytics/dashboards/<id>``: the dashboard's page, rendered by Voila."""

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    async def get(self, dashboard_id: str) -> None:
        proxy = self.proxy
        token = self.get_query_argument(SHARE_TOKEN_ARGUMENT, None)
        if token is not None:
            await self._open_link_session(dashboard_id, token.strip())
            return
        viewer = await self.viewer()
        await self.check_viewable(viewer.actor_id, dashboard_id)
        self.xsrf_token  # noqa: B018 -- sets the _xsrf cookie Voila's shutdown beacon sends back
        await self.relay(proxy.serve_page(self, viewer, dashboard_id), lambda code: code == 200)

    async def _open_link_session(self, dashboard_id: str, token: str) -> None:
        """Remember a share link of this dashboard in a cookie and drop it from the address,
        so it leaves the address bar and the browser's history. A link of anything else (or
        none that works) answers 404 and sets nothing."""
        try:
            link = await self.services.run(self.services.sharing.authenticate_link, token)
        except Unauthenticated:
            raise web.HTTPError(404, NOT_FOUND) from None
        if link.object_type != DASHBOARD_KIND or link.object_id != dashboard_id:
            raise web.HTTPError(404, NOT_FOUND)
        if not await self.run(is_browser_link, self.services, link.grant_id):
            raise web.HTTPError(404, NOT_FOUND)
        await self.check_viewable(link.actor_id, dashboard_id)
        set_link_session(self, token, link.expires_at)
        rest = [
            (name, self.decode_argument(value, name))
            for name, values in self.request.query_arguments.items()
            if name != SHARE_TOKEN_ARGUMENT
            for value in values
        ]
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.redirect(self.request.path + (f"?{urlencode(rest)}" if rest else ""))


class VoilaAssetHandler(ViewerHandler):
    """Voila's static files, template assets, labextensions and themes."""

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    async def get(self, path: str) -> None:
        proxy = self.proxy
        viewer = await self.viewer()
        if not proxy.registry.has_viewer_session(viewer.actor_id) or not relayable_path(path):
            raise web.HTTPError(404, NOT_FOUND)
        passes: Callable[[int], bool] = lambda code: code < 300 or code == 304  # noqa: E731
        # Voila names each build's assets with a content hash (``?v=<hash>``) but serves its
        # labextensions uncacheable, so every page load fetched ~100 files again; a versioned
        # URL never changes content, so the viewer's browser may keep it (privately).
        cache = {"Cache-Control": VERSIONED_ASSET_CACHE} if self.get_argument("v", "") else None
        forwarding = proxy.forward(
            self, viewer, self.request.path, query=self.request.query, headers=cache
        )
        await self.relay(forwarding, passes)


VERSIONED_ASSET_CACHE = "private, max-age=31536000, immutable"


class KernelRouteMixin:
    """The lease check of every route that names a kernel."""

    async def leased_viewer(self: Any, kernel_id: str) -> Viewer:
        """The caller, if ``kernel_id``'s page was served to them and they may still view its
        dashboard; 404 otherwise, as for a kernel that does not exist."""
        proxy: DashboardProxy = self.proxy
        viewer: Viewer = await self.viewer()
        lease = proxy.registry.holder(kernel_id)
        if lease is None or lease.actor_id != viewer.actor_id:
            raise web.HTTPError(404, "kernel not found")
        try:
            await self.check_viewable(viewer.actor_id, lease.dashboard_id)
        except web.HTTPError:
            proxy.registry.end_leases(viewer.actor_id, lease.dashboard_id)  # kernels shut down
            raise
        return viewer


class KernelModelHandler(KernelRouteMixin, ViewerHandler):
    """``GET api/kernels/<id>``: the kernel model Voila's widget manager loads first."""

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    async def get(self, path: str, kernel_id: str) -> None:
        viewer = await self.leased_viewer(kernel_id)
        forwarding = self.proxy.forward(self, viewer, self.request.path)
        await self.relay(forwarding, lambda code: code == 200)


class KernelShutdownHandler(KernelRouteMixin, ViewerHandler):
    """``POST voila/api/shutdown/<id>``: the page's ``beforeunload`` beacon ends its kernel."""

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    async def post(self, path: str, kernel_id: str) -> None:
        viewer = await self.leased_viewer(kernel_id)
        proxy = self.proxy
        forwarding = proxy.forward(self, viewer, self.request.path, method="POST")
        try:
            await self.relay(forwarding, lambda code: code < 300)
        finally:
            proxy.end_kernel(kernel_id)


class VoilaSocketHandler(KernelRouteMixin, WebSocketMixin, WebSocketHandler, ViewerHandler):
    """A kernel's websocket (``api/kernels/<id>/channels``) or Voila's request-info socket
    (``voila/query/<id>``), relayed frame by frame to the Voila process."""

    upstream: WebSocketClientConnection | None = None
    kernel_id = ""
    dashboard_id = ""
    actor_id = ""
    _pump: Any = None
    _recheck: PeriodicCallback | None = None
    _dropped = False

    def set_default_headers(self) -> None:
        """No page headers on a websocket handshake (as jupyter_server's kernel socket)."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    @ws_authenticated
    @authorized(resource=res.DASHBOARDS)
    async def get(self, path: str, kernel_id: str) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, "a websocket is expected here")
        viewer = await self.leased_viewer(kernel_id)
        lease = self.proxy.registry.holder(kernel_id)
        assert lease is not None
        offered = [
            protocol.strip()
            for protocol in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if protocol.strip()
        ]
        try:
            self.upstream = await self.proxy.connect_socket(
                viewer, self.request.path, self.request.query, offered
            )
        except HTTPClientError as error:
            raise web.HTTPError(404 if error.code == 404 else 502, "kernel not found") from None
        except Unavailable as error:
            raise web.HTTPError(503, error.message) from None
        self.kernel_id, self.dashboard_id, self.actor_id = (
            kernel_id,
            lease.dashboard_id,
            viewer.actor_id,
        )
        try:
            await super().get(path=path, kernel_id=kernel_id)
        finally:
            self._close_upstream()

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        chosen = self.upstream.selected_subprotocol if self.upstream is not None else None
        return chosen if chosen in subprotocols else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()
        self.proxy.socket_opened(self.kernel_id, self)
        self._pump = asyncio.ensure_future(self.upstream_pump())
        self._recheck = PeriodicCallback(self._recheck_access, ACCESS_RECHECK_SECONDS * 1000)
        self._recheck.start()

    async def upstream_pump(self) -> None:
        """Voila → viewer, until either side closes."""
        upstream = self.upstream
        assert upstream is not None
        while True:
            message = await upstream.read_message()
            if message is None:
                break
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except WebSocketClosedError:
                break
        self.close(close_code(upstream.close_code), upstream.close_reason)

    async def on_message(self, message: str | bytes) -> None:
        """Viewer → Voila: widget messages of a kernel socket; nothing on the query socket."""
        if self.upstream is None or not self.request.path.endswith("/channels"):
            return
        msg_type = client_message_type(message, self.selected_subprotocol)
        if msg_type not in KERNEL_MESSAGES:
            # Once per socket at warning level: a viewer's page never sends these by itself.
            log = self.log.debug if self._dropped else self.log.warning
            log("dashboard viewer %s sent a %r message; dropped", self.actor_id, msg_type)
            self._dropped = True
            return
        try:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))
        except WebSocketClosedError:
            self.close()

    async def _recheck_access(self) -> None:
        try:
            await self.check_viewable(self.actor_id, self.dashboard_id)
        except web.HTTPError:
            self.proxy.registry.end_leases(self.actor_id, self.dashboard_id)
            self.close(4403, "access to this dashboard has ended")

    def on_close(self) -> None:
        if self._recheck is not None:
            self._recheck.stop()
        self._close_upstream()
        self.proxy.socket_closed(self.kernel_id, self)

    def _close_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close(close_code(self.close_code), self.close_reason)


class ViewerNotFoundHandler(ViewerHandler):
    """Every other path under the Voila prefix: not served, whoever asks."""

    def _not_found(self, *args: Any, **kwargs: Any) -> None:
        raise web.HTTPError(404, "not found")

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    def get(self, rest: str) -> None:
        self._not_found()

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    def post(self, rest: str) -> None:
        self._not_found()

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    def put(self, rest: str) -> None:
        self._not_found()

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    def patch(self, rest: str) -> None:
        self._not_found()

    @web.authenticated
    @authorized(resource=res.DASHBOARDS)
    def delete(self, rest: str) -> None:
        self._not_found()


_VOILA = "/analytics/voila/"
_KERNEL = rf"(?P<kernel_id>{KERNEL_ID})"
_ASSETS = r"voila/(?:static|labextensions|api/themes)/.+|voila/templates/[A-Za-z0-9_.-]+/static/.+"

ROUTES: list[tuple[str, type[JupyterHandler]]] = [
    (rf"/analytics/dashboards/(?P<dashboard_id>{DASHBOARD_ID})", DashboardPageHandler),
    (rf"{_VOILA}(?P<path>api/kernels/{_KERNEL}/channels)", VoilaSocketHandler),
    (rf"{_VOILA}(?P<path>voila/query/{_KERNEL})", VoilaSocketHandler),
    (rf"{_VOILA}(?P<path>api/kernels/{_KERNEL})", KernelModelHandler),
    (rf"{_VOILA}(?P<path>voila/api/shutdown/{_KERNEL})", KernelShutdownHandler),
    (rf"{_VOILA}(?P<path>{_ASSETS})", VoilaAssetHandler),
    (rf"{_VOILA}(?P<rest>.*)", ViewerNotFoundHandler),
]
"""The viewer routes (relative to ``base_url``), most specific first."""

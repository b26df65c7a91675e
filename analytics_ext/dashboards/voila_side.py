"""Code that runs inside the Voila process serving published dashboards (DESIGN.md §8).

The supervisor (``dashboards.voila_process``) starts ``python -m voila <dashboards_dir>`` with a
config file naming the three classes here:

- ``ViewerPassIdentityProvider``: a request gets in only with a viewer pass (``viewer_pass``)
  that the Jupyter server signed for that exact path after checking the viewer's access. Without
  one the answer is 403 before any Voila handler runs, so no kernel starts for it, and there is
  no login page and no token login. It also shadows the Voila routes viewers must never reach
  (the notebook tree, the contents API, ``/voila/files``) and puts a pass in front of the
  preheat request-info websocket, which Voila serves with no authentication at all.
- ``ViewerPassAuthorizer``: a pass admits kernel use (the page's kernel websocket, kernel
  model, shutdown) and nothing else; the supervisor's health route needs the supervisor's pass.
- ``DashboardKernelManager``: the base class Voila wraps with its preheat pool. Every kernel
  started for ``<dashboard id>.ipynb`` gets ``ANALYTICS_EXT_URL`` and a view-only token for that
  dashboard (``SharingService.issue_kernel_link``) in its environment, revoked when the kernel
  shuts down; pools are filled for newly published notebooks without waiting for a viewer,
  emptied when a notebook is re-published or unpublished, and renewed before their tokens end.

The store URL and the pass key reach this process through its environment and are removed
from ``os.environ`` on first use, so the kernels it starts never inherit them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import unquote

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from tornado import web
from voila.request_info_handler import RequestInfoSocketHandler
from voila.utils import ENV_VARIABLE

from ..auth.kernel_env import ENV_TOKEN, ENV_URL
from ..errors import NotFound
from ..services.activity import ActivityLog
from ..services.dashboards import DASHBOARD, LEVELS
from ..services.sharing import SharedKind, SharingService
from ..store import Database
from ..store.models import Dashboard
from . import viewer_pass

T = TypeVar("T")

ENV_DB_URL = "ANALYTICS_EXT_DB_URL"
ENV_INSTANCE = "ANALYTICS_EXT_VOILA_INSTANCE"
"""Names this process's kernel tokens: each kernel's issuer is ``<instance>:<kernel id>``."""
ENV_KERNEL_LIFETIME = "ANALYTICS_EXT_VOILA_KERNEL_LIFETIME"
"""Seconds a kernel token lasts at most."""
ENV_PARENT_PID = "ANALYTICS_EXT_VOILA_PARENT_PID"
"""The Jupyter server's pid: this process stops when it is gone."""
ENV_NOTEBOOK = "ANALYTICS_EXT_DASHBOARD_NOTEBOOK"
"""Set in a pooled kernel's environment: the notebook the pool renders (see ``_pool_config``)."""
SECRET_ENV = (viewer_pass.VOILA_KEY_ENV, ENV_DB_URL)
"""Read once, then removed from this process's environment (kernels inherit it)."""

NOTEBOOK_NAME = re.compile(r"(?P<dashboard_id>[A-Za-z0-9_-]{22})\.ipynb")
"""A published dashboard's notebook: ``<dashboard id>.ipynb`` (ids are 22 url-safe chars)."""

HEALTH_PATH = "voila/analytics-health"
HEALTH_RESOURCE = "analytics_ext:voila_health"
KERNEL_ACTIONS = frozenset({"read", "write", "execute"})
"""What a pass may do to kernels: open the page's kernel websocket (execute; Voila's kernel
manager still lets only comm and kernel-info messages through), read its model, shut it down."""

POOL_REFRESH_SECONDS = 2.0
FAILED_POOL_RETRY_SECONDS = 30.0
PARENT_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class ProcessSettings:
    key: str
    db_url: str
    instance: str
    server_url: str
    kernel_lifetime: timedelta
    parent_pid: int | None


@functools.cache
def process_settings() -> ProcessSettings:
    """This process's settings, read from the environment the supervisor gave it (once: the
    secrets are removed from ``os.environ`` so that no kernel inherits them)."""
    missing = [
        name
        for name in (*SECRET_ENV, ENV_INSTANCE, ENV_KERNEL_LIFETIME, ENV_URL)
        if not os.environ.get(name)
    ]
    if missing:
        raise RuntimeError(
            f"the dashboard Voila process needs {', '.join(missing)} in its environment "
            "(it is started by the analytics_ext server extension)"
        )
    parent = os.environ.get(ENV_PARENT_PID, "")
    settings = ProcessSettings(
        key=os.environ[viewer_pass.VOILA_KEY_ENV],
        db_url=os.environ[ENV_DB_URL],
        instance=os.environ[ENV_INSTANCE],
        server_url=os.environ[ENV_URL],
        kernel_lifetime=timedelta(seconds=int(os.environ[ENV_KERNEL_LIFETIME])),
        parent_pid=int(parent) if parent.isdigit() else None,
    )
    for name in SECRET_ENV:
        os.environ.pop(name, None)
    return settings


def dashboard_of(notebook: str | None) -> str | None:
    """The dashboard id of a published notebook's name (relative to the dashboards folder)."""
    match = NOTEBOOK_NAME.fullmatch(notebook or "")
    return match["dashboard_id"] if match else None


def kernel_issuer(instance: str, kernel_id: str) -> str:
    return f"{instance}:{kernel_id}"


# -- identity and authorization -------------------------------------------------------------


def _granted_pass(request: Any) -> viewer_pass.ViewerPass | None:
    value = request.headers.get(viewer_pass.HEADER, "")
    if not value:
        return None
    return viewer_pass.verify(process_settings().key, value, request.path)


class ViewerPassIdentityProvider(IdentityProvider):
    """Admits a request only with a viewer pass signed for its exact path.

    A request without a valid pass (none, another path's, expired, another key's) is answered
    403 here, in ``prepare``, before Voila's handler runs: no page, no kernel, no redirect to a
    login page. There is no login or logout route and no token login.
    """

    @property
    def login_available(self) -> bool:
        return False

    @property
    def logout_available(self) -> bool:
        return False

    def get_user(self, handler: web.RequestHandler) -> User | None:
        granted = _granted_pass(handler.request)
        if granted is None:
            # Answer 403 here rather than return None, which would redirect a page request to
            # a login page; the error page reads current_user, so set it first.
            handler.current_user = handler._jupyter_current_user = None  # type: ignore[attr-defined]
            raise web.HTTPError(403, "a viewer pass from the Jupyter server is required")
        # The pass is a header credential the proxy adds, never something a browser sends by
        # itself: no XSRF cookie or Origin check applies (jupyter_server skips both for
        # token-authenticated requests).
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return User(username=granted.actor, name=granted.name, display_name=granted.name)

    def get_handlers(self) -> list[tuple[str, Any]]:
        """Routes placed before Voila's own (Voila adds these right after its kernel and
        static routes, ahead of the tree, render, contents, files and request-info routes),
        so the first matching rule is ours."""
        base = getattr(self.parent, "server_url", None) or "/"
        prefix = re.escape(url_path_join(base, "/"))
        handlers: list[tuple[str, Any]] = [
            (re.escape(base.rstrip("/")) + "/?", NotServedHandler),
            (prefix + r"voila/tree(?:/.*)?", NotServedHandler),
            (prefix + r"voila/api/contents(?:/.*)?", NotServedHandler),
            (prefix + r"voila/files(?:/.*)?", NotServedHandler),
            (prefix + re.escape(HEALTH_PATH), HealthHandler),
            (prefix + r"voila/query/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)", PassRequestInfoHandler),
        ]
        return handlers


class ViewerPassAuthorizer(Authorizer):
    """A pass holder may use kernels (the dashboard page's kernel) and nothing else; the
    supervisor's health route is for the supervisor's pass only."""

    def is_authorized(
        self, handler: JupyterHandler, user: User, action: str, resource: str
    ) -> bool:
        if user is None:
            return False
        if resource == HEALTH_RESOURCE:
            return user.username == viewer_pass.SUPERVISOR_ACTOR and action == "read"
        return resource == "kernels" and action in KERNEL_ACTIONS


class NotServedHandler(web.RequestHandler):
    """The notebook tree, the contents API and the files route: viewers must not list or
    download the published notebooks, so these answer 404 to everyone."""

    def prepare(self) -> None:
        raise web.HTTPError(404)


class PassRequestInfoHandler(RequestInfoSocketHandler):
    """Voila's preheat request-info websocket (it tells a pooled kernel's page about the
    request), which Voila serves with no authentication: here it needs a pass too."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if _granted_pass(self.request) is None:
            raise web.HTTPError(403, "a viewer pass from the Jupyter server is required")
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        # The pass (a header the proxy adds) is the credential; the browser's Origin names the
        # Jupyter server, not this process.
        return True


class HealthHandler(JupyterHandler):
    """The supervisor's readiness check: ready pool kernels per notebook, and live kernels."""

    @web.authenticated
    @authorized("read", resource=HEALTH_RESOURCE)
    def get(self) -> None:
        km = self.kernel_manager
        pools = km.pool_status() if isinstance(km, DashboardKernelManager) else {}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"pools": pools, "kernels": len(km.list_kernel_ids())}))


# -- the kernel manager -----------------------------------------------------------------------


class DashboardKernelManager(AsyncMappingKernelManager):
    """Gives each dashboard kernel its own view-only token and keeps preheated pools fresh.

    Voila wraps this class with ``voila_kernel_manager_factory`` (``VoilaKernelManager`` when
    preheating), so the pool methods live in the subclass; the pool hooks used here are
    Voila 0.5's: ``kernel_pools_config`` (per-notebook kernel environment, read by every pool
    fill), ``fill_if_needed``, ``_pools`` (notebook → tasks resolving to ``{"kernel_id",
    "task", "renderer"}``), ``notebook_data`` and ``preheat_denylist``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = process_settings()
        self._sharing = SharingService(Database(self._settings.db_url), ActivityLog())
        # The one kind it issues tokens for, as DashboardService registers it on the server.
        self._sharing.register(SharedKind(DASHBOARD, Dashboard, LEVELS, linkable=True))
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="analytics-voila")
        self._started_at: dict[str, float] = {}
        self._tokens: set[str] = set()
        """Kernels holding a token (revoked at shutdown)."""
        self._seen: dict[str, tuple[int, int, int]] = {}
        self._retry_at: dict[str, float] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self.preheats = hasattr(self, "fill_if_needed")
        if self.preheats:
            # Voila pools every *.ipynb under the root when it starts (matching this list
            # against absolute paths): only dashboards directly in the root here.
            root = re.escape(str(self.parent.root_dir).rstrip(os.sep) + os.sep)
            self.preheat_denylist = [rf"^(?!(?:{root})?{NOTEBOOK_NAME.pattern}$)"]
            for name, signature in self._published().items():
                self._seen[name] = signature
                self._pool_config(name)
        # Voila builds this manager before its loop runs and schedules its own pool fills the
        # same way: tasks on the loop tornado is about to start.
        loop = asyncio.get_event_loop()
        if self.preheats:
            self._keep(loop.create_task(self._keep_pools_fresh()))
        if self._settings.parent_pid is not None:
            self._keep(loop.create_task(self._watch_parent(self._settings.parent_pid)))

    # -- kernels and their tokens

    async def start_kernel(self, *, kernel_id: str | None = None, **kwargs: Any) -> str:
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(kernel_id=kernel_id, **kwargs)
        env = {
            key: value
            for key, value in (kwargs.get("env") or os.environ).items()
            if key not in SECRET_ENV and key != ENV_TOKEN
        }
        env[ENV_URL] = self._settings.server_url
        notebook = self._notebook_of(env)
        dashboard_id = dashboard_of(notebook)
        kernel_id = kernel_id or str(uuid.uuid4())
        if dashboard_id is not None:
            issuer = kernel_issuer(self._settings.instance, kernel_id)
            try:
                env[ENV_TOKEN] = await self._blocking(
                    self._sharing.issue_kernel_link,
                    DASHBOARD,
                    dashboard_id,
                    issuer,
                    self._settings.kernel_lifetime,
                )
            except NotFound:
                raise web.HTTPError(404, "dashboard not found") from None
            self._tokens.add(kernel_id)
        else:
            self.log.warning("kernel for %r: not a published dashboard, no token", notebook)
        kwargs["env"] = env
        try:
            started = await super().start_kernel(kernel_id=kernel_id, **kwargs)
        except BaseException:
            await self._revoke(kernel_id)
            raise
        self._started_at[started] = time.monotonic()
        return started

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> Any:
        restart = kwargs.get("restart", args[1] if len(args) > 1 else False)
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            if not restart:  # a restarted kernel keeps its environment, and its token
                self._started_at.pop(kernel_id, None)
                await self._revoke(kernel_id)

    async def shutdown_all(self, *args: Any, **kwargs: Any) -> None:
        for future in list(self._background):
            future.cancel()
        try:
            await super().shutdown_all(*args, **kwargs)
        finally:
            # jupyter_client's shutdown_all bypasses shutdown_kernel: end every token at once.
            self._tokens.clear()
            try:
                await self._blocking(
                    self._sharing.revoke_issued,
                    kernel_issuer(self._settings.instance, ""),
                    prefix=True,
                )
            except Exception:
                self.log.exception("could not revoke this Voila process's kernel tokens")

    async def _revoke(self, kernel_id: str) -> None:
        if kernel_id not in self._tokens:
            return
        self._tokens.discard(kernel_id)
        try:
            await self._blocking(
                self._sharing.revoke_issued, kernel_issuer(self._settings.instance, kernel_id)
            )
        except Exception:
            self.log.exception("could not revoke the token of dashboard kernel %s", kernel_id)

    def _notebook_of(self, env: dict[str, str]) -> str | None:
        """The notebook a kernel is started for. Pool fills carry it in ``ENV_NOTEBOOK`` (from
        ``kernel_pools_config``); a kernel started for a request (no pool, or an empty one)
        has Voila's CGI-style ``SCRIPT_NAME``, the ``/voila/render/<notebook>`` path."""
        if env.get(ENV_NOTEBOOK):
            return env[ENV_NOTEBOOK]
        render = url_path_join(getattr(self.parent, "server_url", "/"), "voila/render/")
        script = env.get(ENV_VARIABLE.SCRIPT_NAME, "")
        return unquote(script[len(render) :]) if script.startswith(render) else None

    async def _blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _keep(self, future: asyncio.Future[Any]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    # -- pools

    def pool_status(self) -> dict[str, int]:
        """Ready (started and rendered) pooled kernels per notebook."""
        return {
            name: sum(1 for task in pool if _pooled_kernel(task) is not None)
            for name, pool in getattr(self, "_pools", {}).items()
        }

    def _published(self) -> dict[str, tuple[int, int, int]]:
        """Published notebooks directly in the dashboards folder, with what changes when one
        is re-published (a new file, new time)."""
        published = {}
        with os.scandir(self.parent.root_dir) as entries:
            for entry in entries:
                if dashboard_of(entry.name) is None or not entry.is_file():
                    continue
                stat = entry.stat()
                published[entry.name] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        return published

    def _pool_config(self, name: str) -> None:
        """Every pool fill reads its notebook's entry: its kernels' environment names the
        notebook, which is how ``start_kernel`` knows which dashboard to issue a token for."""
        default = self.kernel_pools_config.get("default", {})
        self.kernel_pools_config[name] = {
            "pool_size": default.get("pool_size", 1),
            "kernel_env_variables": {
                **default.get("kernel_env_variables", {}),
                ENV_NOTEBOOK: name,
            },
        }

    async def _keep_pools_fresh(self) -> None:
        while True:
            await asyncio.sleep(POOL_REFRESH_SECONDS)
            try:
                await self.refresh_pools()
            except Exception:
                self.log.exception("could not refresh the dashboard kernel pools")

    async def refresh_pools(self) -> None:
        """Fill a pool for every published notebook (a newly published one gets its kernels
        before its first viewer), empty the pool of a notebook that changed or disappeared,
        and replace pooled kernels that have used half their token's lifetime."""
        published = await self._blocking(self._published)
        for name, signature in list(self._seen.items()):
            if published.get(name) == signature:
                continue
            self.log.info(
                "dashboard notebook %s %s", name, "changed" if name in published else "removed"
            )
            self._drain(name, self._pools.pop(name, []))
            self._retry_at.pop(name, None)
            del self._seen[name]
            if name not in published:
                self.kernel_pools_config.pop(name, None)
                self.notebook_data.pop(name, None)
        renew_after = self._settings.kernel_lifetime.total_seconds() / 2
        now = time.monotonic()
        for name, signature in published.items():
            self._seen[name] = signature
            self._pool_config(name)
            pool = self._pools.setdefault(name, [])
            keep, stale = [], []
            for task in pool:
                if task.done() and (task.cancelled() or task.exception() is not None):
                    error = "cancelled" if task.cancelled() else task.exception()
                    self.log.warning("a pooled kernel for %s failed to start: %s", name, error)
                    self._retry_at[name] = now + FAILED_POOL_RETRY_SECONDS
                    continue
                kernel_id = _pooled_kernel(task)
                old = (
                    kernel_id is not None
                    and now - self._started_at.get(kernel_id, now) > renew_after
                )
                (stale if old else keep).append(task)
            pool[:] = keep
            self._drain(name, stale)
            if self._retry_at.get(name, 0) <= now:
                self._retry_at.pop(name, None)
                self.fill_if_needed(delay=0, notebook_name=name)

    def _drain(self, name: str, tasks: list[asyncio.Task]) -> None:
        """Shut down pooled kernels no viewer will get (their task may still be rendering)."""
        for task in tasks:
            self._keep(asyncio.ensure_future(self._discard(name, task)))

    async def _discard(self, name: str, task: asyncio.Task) -> None:
        try:
            content = await task
        except Exception:
            return
        render = content.get("task")
        if render is not None and not render.done():
            render.cancel()
        kernel_id = content["kernel_id"]
        if kernel_id in self:
            self.log.info("shutting down pooled kernel %s of %s", kernel_id, name)
            await self.shutdown_kernel(kernel_id)

    async def _watch_parent(self, parent_pid: int) -> None:
        """Stop (as on SIGTERM: kernels shut down, tokens revoked) once the Jupyter server that
        started this process is gone, instead of serving on as an orphan."""
        while True:
            await asyncio.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:
                break
        self.log.warning("the Jupyter server (pid %s) is gone; stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)


def _pooled_kernel(task: asyncio.Task) -> str | None:
    """The kernel id of a finished, successful pool task."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result().get("kernel_id")

"""The standalone Voila process that serves published dashboards, and its supervisor.

Viewers are served by ``python -m voila <dashboards_dir>`` rather than Voila as a server
extension, because only the standalone app keeps preheated kernels and filters what a viewer's
browser may send to its kernel (no ``execute_request``) — see DESIGN.md §8. It listens on
127.0.0.1 under ``urls.voila_base_url(base_url)``, so the Jupyter server's proxy forwards paths
unchanged, and it admits only requests carrying a viewer pass signed with ``key``
(``voila_side.ViewerPassIdentityProvider``).

``VoilaSupervisor`` starts the process on first use (or at server start when dashboards are
published), restarts it when it dies, and stops it with the server. Each start gets a new pass
key and a new instance name under which its kernels' tokens are issued, so the tokens of a
process that died or stopped are revoked as one group. Secrets (the key, the store URL) travel
in the child's environment and a private config file, never on its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..auth.kernel_env import ENV_TOKEN, ENV_URL
from ..errors import Unavailable
from ..services.activity import ActivityLog
from ..services.sharing import SharingService
from ..store import Database
from . import viewer_pass, voila_side
from .urls import voila_base_url

VOILA_SETTING = "analytics_ext_voila"
"""The tornado settings key holding the server's ``VoilaSupervisor`` (None: viewers are off)."""

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
RESTART_BACKOFF_SECONDS = (0.2, 1.0, 2.0, 5.0)
"""Waits before restarting a process that died (longer when it keeps dying), short enough
that a viewer is served again within 10 s."""
STABLE_SECONDS = 60.0
"""A process that ran this long before dying is restarted after the shortest backoff again."""
OUTPUT_LINE_LIMIT = 4000
IDLE_KERNEL_SECONDS = 3600
"""A viewer's kernel nobody is connected to is culled after this long (a closed laptop never
calls Voila's shutdown route)."""

STRIPPED_ENV = frozenset(
    {ENV_TOKEN, "JUPYTER_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTER_PASSWORD"}
)
"""Credentials of the Jupyter server's own environment that dashboard kernels must not hold."""

_SIDE = voila_side.__name__


class VoilaSupervisor:
    """Starts, watches, restarts and stops the Voila process; never blocks the event loop."""

    def __init__(
        self,
        *,
        dashboards_dir: Path,
        base_url: str,
        server_url: str,
        db_url: str,
        preheat: bool,
        pool_size: int,
        kernel_lifetime: timedelta,
        port: int = 0,
        log: logging.Logger | None = None,
    ) -> None:
        self.dashboards_dir = Path(dashboards_dir).absolute()
        self.base_url = voila_base_url(base_url)
        """Voila's own base_url: the prefix of every path it serves."""
        self.server_url = server_url
        self.preheat = preheat and pool_size > 0
        self.pool_size = pool_size
        self.kernel_lifetime = kernel_lifetime
        self.log = log or logging.getLogger(__name__)
        self._db_url = db_url
        self._port = port
        self.key = viewer_pass.new_key()
        """The viewer-pass key of the running process (a new one per start)."""
        self.instance = ""
        """The running process's token issuer prefix (``voila_side.kernel_issuer``)."""
        self._proc: asyncio.subprocess.Process | None = None
        self._origin: str | None = None
        self._workdir: Path | None = None
        self._starting: asyncio.Task[str] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._failures = 0
        self._output: deque[str] = deque(maxlen=40)
        self._db: Database | None = None

    # -- the API the proxy uses

    @property
    def pid(self) -> int | None:
        """The Voila process's pid while it runs."""
        return self._proc.pid if self._running() else None

    @property
    def origin(self) -> str | None:
        """``http://127.0.0.1:<port>`` while the process answers, else None."""
        return self._origin if self._running() else None

    async def ensure_running(self) -> str:
        """The upstream origin, starting the process first if it is not running (concurrent
        callers share one start). ``Unavailable`` if it does not answer within 30 s."""
        if self._stopping:
            raise Unavailable("the dashboard viewer is shutting down")
        if self._running() and self._origin is not None:
            return self._origin
        if self._starting is None or self._starting.done():
            self._starting = asyncio.create_task(self._start())
            self._starting.add_done_callback(_retrieve)
        return await asyncio.shield(self._starting)

    def start_in_background(self) -> None:
        """Start the process without waiting (the server's start); a failure is logged and the
        next viewer's ``ensure_running`` tries again."""

        async def start() -> None:
            try:
                await self.ensure_running()
            except Unavailable as error:
                self.log.error("analytics_ext: %s", error)

        self._keep(asyncio.create_task(start()))

    def has_published(self) -> bool:
        """Whether the folder holds a published dashboard (a quick look, no store access)."""
        try:
            with os.scandir(self.dashboards_dir) as entries:
                return any(voila_side.dashboard_of(entry.name) for entry in entries)
        except OSError:
            return False

    def kernel_count(self) -> int:
        """Kernel processes the Voila process runs now (pooled and viewers')."""
        pid = self.pid
        if pid is None:
            return 0
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            return 0
        return sum(1 for child in children if _is_kernel(child))

    async def health(self) -> dict[str, Any]:
        """The process's own report: ``{"pools": {notebook: ready kernels}, "kernels": n}``."""
        origin = await self.ensure_running()
        return await self._health(origin, self.key)

    async def stop(self) -> None:
        """Stop the process (SIGTERM: Voila shuts its kernels down; SIGKILL after 15 s) and
        revoke every kernel token it issued."""
        self._stopping = True
        for task in (self._restarting, self._starting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        proc, instance, workdir = self._proc, self.instance, self._workdir
        self._proc = self._origin = self._workdir = None
        if proc is not None:
            await self._terminate(proc)
        await self._clean_up(instance, workdir)
        for task in list(self._tasks):
            task.cancel()
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.dispose)

    # -- starting

    def _running(self) -> bool:
        proc = self._proc
        # A process that died is a zombie until asyncio's child watcher reaps it (a moment
        # later): not running already, so a viewer is not sent to its closed port.
        return proc is not None and proc.returncode is None and _alive(proc.pid)

    async def _start(self) -> str:
        attempts = 1 if self._port else 3  # a free port may be taken before Voila binds it
        for attempt in range(attempts):
            try:
                return await self._launch()
            except _PortTaken:
                if attempt == attempts - 1:
                    raise Unavailable("the dashboard viewer found no free port") from None
        raise AssertionError("unreachable")

    async def _launch(self) -> str:
        key = viewer_pass.new_key()
        instance = f"voila-{os.getpid()}-{secrets.token_hex(6)}"
        port = self._port or await asyncio.to_thread(_free_port)
        workdir = await asyncio.to_thread(self._prepare, port)
        self._output.clear()
        # Voila's output goes to a pipe of our own rather than asyncio's: its kernels inherit
        # it, and asyncio's Process.wait() waits for its pipes to close, which an orphaned
        # kernel would delay past the process's death.
        output, child_output = os.pipe()
        try:
            proc = await self._spawn(port, workdir, key, instance, child_output)
        except BaseException:
            os.close(output)
            await asyncio.to_thread(shutil.rmtree, workdir, True)
            raise
        finally:
            os.close(child_output)
        self._keep(asyncio.create_task(self._log_output(proc.pid, output)))
        origin = f"http://127.0.0.1:{port}"
        try:
            await self._wait_until_ready(proc, origin, key)
        except BaseException:
            await self._terminate(proc)
            await self._clean_up(instance, workdir)
            raise
        self._proc, self._origin, self._workdir = proc, origin, workdir
        self.key, self.instance = key, instance
        self.log.info(
            "analytics_ext: dashboard viewer (Voila, pid %s) serving %s at %s%s",
            proc.pid,
            self.dashboards_dir,
            origin,
            self.base_url,
        )
        self._keep(asyncio.create_task(self._watch(proc, instance, workdir, time.monotonic())))
        return origin

    async def _spawn(
        self, port: int, workdir: Path, key: str, instance: str, output: int
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voila",
            str(self.dashboards_dir),
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
            f"--Voila.base_url={self.base_url}",
            f"--Voila.root_dir={self.dashboards_dir}",
            f"--Voila.config_file_paths={workdir}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=self._environment(key, instance),
            cwd=workdir,
            start_new_session=True,  # the server's Ctrl-C is the server's to handle
        )

    def _prepare(self, port: int) -> Path:
        """The private (0700) folder holding the config file and kernel connection files."""
        self.dashboards_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="analytics-voila-"))
        config = {
            "Voila": {
                "identity_provider_class": f"{_SIDE}.ViewerPassIdentityProvider",
                "authorizer_class": f"{_SIDE}.ViewerPassAuthorizer",
                "token": "",
                "open_browser": False,
                "port_retries": 0,
                "connection_dir_root": str(workdir),
            },
            "VoilaConfiguration": {
                "multi_kernel_manager_class": f"{_SIDE}.DashboardKernelManager",
                "preheat_kernel": self.preheat,
                "default_pool_size": max(self.pool_size, 0),
                "file_allowlist": [],
                "file_denylist": [".*"],
                "progressive_rendering": False,
                "show_tracebacks": False,
                "http_header_envs": [],
                "allow_template_override": "NO",
                "allow_theme_override": "NO",
            },
            "MappingKernelManager": {
                "cull_idle_timeout": IDLE_KERNEL_SECONDS,
                "cull_interval": 300,
                "cull_connected": False,
            },
        }
        path = workdir / "voila.json"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            json.dump(config, f, indent=1)
        return workdir

    def _environment(self, key: str, instance: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in STRIPPED_ENV}
        env.update(
            {
                viewer_pass.VOILA_KEY_ENV: key,
                voila_side.ENV_DB_URL: self._db_url,
                voila_side.ENV_INSTANCE: instance,
                voila_side.ENV_KERNEL_LIFETIME: str(int(self.kernel_lifetime.total_seconds())),
                voila_side.ENV_PARENT_PID: str(os.getpid()),
                ENV_URL: self.server_url,
            }
        )
        # Voila finds its templates on the Jupyter path; without the environment's own share
        # folder first it renders with a template that does not execute the notebook.
        share = str(Path(sys.prefix) / "share" / "jupyter")
        paths = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != share]
        env["JUPYTER_PATH"] = os.pathsep.join([share, *paths])
        return env

    async def _wait_until_ready(
        self, proc: asyncio.subprocess.Process, origin: str, key: str
    ) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                await asyncio.sleep(0.1)  # let the last lines of its output be logged
                tail = " | ".join(list(self._output)[-3:])
                self.log.warning(
                    "analytics_ext: the dashboard viewer (Voila) exited with code %s at start: %s",
                    proc.returncode,
                    tail,
                )
                if any("no available port" in line for line in self._output):
                    raise _PortTaken()
                raise Unavailable(
                    f"the dashboard viewer exited at start (code {proc.returncode}); "
                    "see the server log"
                )
            try:
                await self._health(origin, key)
                return
            except (OSError, HTTPClientError):
                await asyncio.sleep(0.1)
        self.log.warning(
            "analytics_ext: the dashboard viewer (Voila) did not answer within %.0f s: %s",
            START_TIMEOUT_SECONDS,
            " | ".join(list(self._output)[-3:]),
        )
        raise Unavailable(
            f"the dashboard viewer did not start within {START_TIMEOUT_SECONDS:.0f} seconds"
        )

    async def _health(self, origin: str, key: str) -> dict[str, Any]:
        path = self.base_url + voila_side.HEALTH_PATH
        supervisor = viewer_pass.SUPERVISOR_ACTOR
        request = HTTPRequest(
            origin + path,
            headers={viewer_pass.HEADER: viewer_pass.sign(key, supervisor, supervisor, path)},
            connect_timeout=2,
            request_timeout=5,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body)

    # -- watching and stopping

    async def _log_output(self, pid: int, fd: int) -> None:
        """Voila's (and its kernels') output lines into the server log, at debug; the last
        lines are kept for the warning when it fails to start."""
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
        )
        pending = b""
        try:
            # Chunks, not readline(): an overlong line must not stop the reading (a full pipe
            # would block Voila's next write).
            while chunk := await reader.read(1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > OUTPUT_LINE_LIMIT:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    text = line[:OUTPUT_LINE_LIMIT].decode(errors="replace").rstrip()
                    self._output.append(text)
                    self.log.debug("voila[%s]: %s", pid, text)
        finally:
            transport.close()

    async def _watch(
        self, proc: asyncio.subprocess.Process, instance: str, workdir: Path, started: float
    ) -> None:
        """Notice the process dying and bring it back (with a short backoff if it keeps
        dying), so a viewer's URL works again within seconds."""
        code = await proc.wait()
        if self._stopping:
            return  # stop() cleans up after the process it stopped
        current = self._proc is proc  # else a viewer's ensure_running already replaced it
        if current:
            self._proc = self._origin = self._workdir = None
        self.log.warning(
            "analytics_ext: the dashboard viewer (Voila, pid %s) exited with code %s; restarting",
            proc.pid,
            code,
        )
        if time.monotonic() - started > STABLE_SECONDS:
            self._failures = 0
        await self._clean_up(instance, workdir)
        if current and not self._stopping:
            self._restarting = asyncio.create_task(self._restart())

    async def _restart(self) -> None:
        while not self._stopping and not self._running():
            delay = RESTART_BACKOFF_SECONDS[min(self._failures, len(RESTART_BACKOFF_SECONDS) - 1)]
            self._failures += 1
            await asyncio.sleep(delay)
            try:
                await self.ensure_running()
            except Unavailable as error:
                self.log.error("analytics_ext: restarting the dashboard viewer: %s", error)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self.log.warning("analytics_ext: the dashboard viewer did not stop; killing it")
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def _clean_up(self, instance: str, workdir: Path | None) -> None:
        """After a process ended: kill kernels it left behind (each runs in its own session,
        with its connection file in ``workdir``), revoke its tokens, remove ``workdir``."""
        if workdir is not None:
            await asyncio.to_thread(_kill_kernels_of, workdir)
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        if instance:
            try:
                revoked = await asyncio.to_thread(self._revoke, instance)
            except Exception:
                self.log.exception("analytics_ext: could not revoke dashboard kernel tokens")
            else:
                if revoked:
                    self.log.info("analytics_ext: revoked %d dashboard kernel tokens", revoked)

    def _revoke(self, instance: str) -> int:
        if self._db is None:
            self._db = Database(self._db_url)
        sharing = SharingService(self._db, ActivityLog())
        return sharing.revoke_issued(voila_side.kernel_issuer(instance, ""), prefix=True)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _PortTaken(Exception):
    pass


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a shared start's failure as seen (its callers got it, or there were none)."""
    if not task.cancelled():
        task.exception()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _is_kernel(process: psutil.Process) -> bool:
    try:
        return any("ipykernel" in part for part in process.cmdline())
    except psutil.Error:
        return False


def _kill_kernels_of(workdir: Path) -> None:
    marker = str(workdir)
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(marker in part for part in cmdline):
            with contextlib.suppress(psutil.Error):
                process.kill()

"""JupyterLab with the extension in a subprocess.

pytest-jupyter runs its server on the test's own event loop, so a synchronous client in the same
process (schemathesis, Playwright's sync API, nbclient) would deadlock against it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from analytics_ext.schemas.users import UserOut


@dataclass(frozen=True)
class LiveServer:
    url: str  # with trailing slash, base_url included
    token: str
    root: Path
    log: Path

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(
    port: int, token: str, root: Path, base_url: str = "/", extra_args: Sequence[str] = ()
) -> list[str]:
    """The JupyterLab command line; ``extra_args`` come last, so they override the defaults
    (e.g. ``--AnalyticsExtension.multi_user=True``, ``--AnalyticsExtension.db_url=...``)."""
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.token={token}", f"--ServerApp.base_url={base_url}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_unauthenticated_access=False",
        "--ServerApp.jpserver_extensions=analytics_ext=True",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    command.extend(extra_args)
    return command


@contextmanager
def start_live_server(
    workdir: Path,
    *,
    base_url: str = "/",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    extra_args: Sequence[str] = (),
) -> Iterator[LiveServer]:
    """A server in a subprocess, healthy when yielded and stopped afterwards.

    ``extra_args`` are further server options, such as a team server's
    ``--AnalyticsExtension.multi_user=True`` with a shared ``db_url``, ``redis_url`` and
    ``jwt_signing_key``. Several servers may run at once, each with its own ``workdir``.
    """
    port, token = free_port(), secrets.token_hex(16)
    root = workdir / "notebooks"
    root.mkdir(parents=True, exist_ok=True)
    log = workdir / "server.log"
    lab_settings = workdir / "lab-settings" / "@jupyterlab" / "apputils-extension"
    lab_settings.mkdir(parents=True, exist_ok=True)
    # No "get Jupyter news?" popup over the page in browser tests and screenshots.
    (lab_settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(workdir / "config"),
        "JUPYTER_DATA_DIR": str(workdir / "data"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "JUPYTERLAB_SETTINGS_DIR": str(workdir / "lab-settings"),
        **(env or {}),
    }
    url = f"http://127.0.0.1:{port}{base_url}"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            server_command(port, token, root, base_url, extra_args),
            env=environment, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir,
        )  # fmt: skip
        try:
            wait_until_healthy(url, process, log, timeout)
            yield LiveServer(url=url, token=token, root=root, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{url}api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not healthy after {timeout}s:\n{log.read_text()[-4000:]}")


def seed_account(db_url: str, username: str, password: str, **fields: object) -> UserOut:
    """Create an account in the store at ``db_url`` (migrated first) before a server starts.

    The one account-creation path (``AccountService.create``), as the admin CLI uses it: the
    password policy, canonical names and the activity record all apply. ``fields`` are further
    ``NewAccount`` fields (``email``, ``notebook_role``, ``is_admin``, ``verified``...).
    """
    import asyncio

    from analytics_ext.auth.passwords import PasswordHasher
    from analytics_ext.services.accounts import AccountService, NewAccount
    from analytics_ext.services.activity import ActivityLog
    from analytics_ext.store import Database, upgrade_schema

    db = Database(db_url)
    hasher = PasswordHasher()
    try:
        upgrade_schema(db)
        accounts = AccountService(db, ActivityLog(), hasher, asyncio.to_thread)
        new = NewAccount(username=username, password=password, **fields)  # type: ignore[arg-type]
        return asyncio.run(accounts.create(new))
    finally:
        hasher.close()
        db.dispose()


def create_user_with_cli(
    workdir: Path, db_url: str, username: str, password: str, *options: str
) -> str:
    """``jupyter analytics users create`` (as ``python -m analytics_ext.app``) against ``db_url``,
    the way an admin seeds a team server before starting it; returns what it printed.

    ``options`` are the command's own (``--email=...``, ``--display-name=...``, ``--admin``,
    ``--notebook``); the password goes through ``--password-stdin``. Jupyter's config and data
    paths point into ``workdir``, so the developer's own configuration is never read.
    """
    command = [
        sys.executable, "-m", "analytics_ext.app", "users", "create", username,
        "--password-stdin", f"--AnalyticsExtension.db_url={db_url}", *options,
    ]  # fmt: skip
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(workdir / "config"),
        "JUPYTER_DATA_DIR": str(workdir / "data"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
    }
    result = subprocess.run(
        command, input=password + "\n", capture_output=True, text=True, env=environment,
        timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"users create {username} failed: {result.stderr or result.stdout}")
    return result.stdout

"""The wheel, installed into a brand-new venv outside the checkout, enables both extensions.

This is what a user gets from ``pip install analytics_ext``: no `jupyter ... enable` step, the
prebuilt JupyterLab extension, and migrations shipped inside the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def clean_source(dest: Path) -> Path:
    """The tracked files only, as a fresh clone has them: no stale build output rides along."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = clean_source(work / "source")
    # The build hook runs jlpm and jupyter from this environment: a production frontend build.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = ["-m", "build", "--wheel", "--no-isolation", "--outdir", work / "dist", source]
    run(sys.executable, *command, cwd=work, env=env)
    (wheel,) = (work / "dist").glob("analytics_ext-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=work)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=work)
    return venv


def isolated_env(venv: Path, home: Path) -> dict[str, str]:
    """No user-level Jupyter config or data: only what the wheel installed into the venv."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }


@pytest.mark.slow
def test_wheel_enables_server_and_lab_extensions(wheel_venv: Path, tmp_path: Path):
    env = isolated_env(wheel_venv, tmp_path)
    server = run(
        wheel_venv / "bin" / "jupyter", "server", "extension", "list", cwd=tmp_path, env=env
    )
    assert "analytics_ext \x1b[32menabled" in server or "analytics_ext enabled" in server, server
    assert "analytics_ext 0.1.0 \x1b[32mOK" in server or "analytics_ext 0.1.0 OK" in server, server
    lab = run(wheel_venv / "bin" / "jupyter", "labextension", "list", cwd=tmp_path, env=env)
    assert "analytics-ext v0.1.0" in lab, lab
    assert "enabled" in lab.split("analytics-ext v0.1.0")[1].splitlines()[0], lab


@pytest.mark.slow
def test_installed_server_answers_with_the_packaged_store(wheel_venv: Path, tmp_path: Path):
    env = isolated_env(wheel_venv, tmp_path)
    port = free_port()
    command = [
        str(wheel_venv / "bin" / "jupyter"), "server", "--no-browser", f"--port={port}",
        "--IdentityProvider.token=wheel-token", f"--ServerApp.root_dir={tmp_path}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_until_healthy(url, process, log, timeout=60)
            user = httpx.get(
                f"{url}api/user", headers={"Authorization": "token wheel-token"}
            ).json()
            assert user["is_owner"] is True
            # Package data (the OpenAPI fragments, the migrations) shipped in the wheel.
            document = httpx.get(
                f"{url}api/analytics/openapi.json", headers={"Authorization": "token wheel-token"}
            ).json()
            assert "/api/auth/api-keys" in document["paths"]
            assert (tmp_path / "data" / "analytics_ext" / "analytics.sqlite").exists()
        finally:
            process.terminate()
            process.wait(timeout=15)

"""`make demo`, the README's first command, serves JupyterLab with the extension and demo data."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def test_make_demo_serves_lab_api_and_demo_data(demo_server) -> None:
    token = {"Authorization": f"token {demo_server.token}"}
    assert httpx.get(f"{demo_server.url}lab", headers=token, timeout=30).status_code == 200
    user = httpx.get(f"{demo_server.url}api/user", headers=token, timeout=10)
    assert user.status_code == 200
    assert user.json()["is_owner"] is True
    assert httpx.get(f"{demo_server.url}api/user", timeout=10).status_code == 401
    health = httpx.get(f"{demo_server.url}api/health", timeout=10)
    assert health.json() == {"status": "ok"}
    demo_dir = demo_server.root.parent / "data" / "analytics_ext" / "demo"
    assert (demo_dir / "retail.duckdb").is_file()
    assert (demo_dir / "retail.sqlite").is_file()

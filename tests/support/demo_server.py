"""A live server (subprocess) over freshly generated demo data, with an API key for the owner.

What the magic, notebook and browser tests share: the server registers its ``demo`` datasource
at start (``AnalyticsExtension.demo_datasource``), and a client outside the server uses
``ANALYTICS_EXT_URL`` plus an API key made through the REST API, as a user's script would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from analytics_ext.demo import write_demo_data
from tests.support.live_server import LiveServer, start_live_server

DEMO_SCALE = 0.01


@dataclass(frozen=True)
class DemoServer:
    server: LiveServer
    api_key: str
    demo_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def duckdb_path(self) -> Path:
        return self.demo_dir / "retail.duckdb"

    def client_env(self) -> dict[str, str]:
        """The environment of a kernel that talks to this server with the API key."""
        return {"ANALYTICS_EXT_URL": self.server.url, "ANALYTICS_EXT_API_KEY": self.api_key}


def create_api_key(
    server: LiveServer, name: str = "tests", scopes: tuple[str, ...] = ("write",)
) -> str:
    """A new API key of the owner, through ``POST /api/auth/api-keys``; its secret."""
    response = httpx.post(
        f"{server.url}api/auth/api-keys",
        json={"name": name, "scopes": list(scopes)},
        headers=server.auth_header,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


@contextmanager
def start_demo_server(workdir: Path, extra_args: tuple[str, ...] = ()) -> Iterator[DemoServer]:
    """Demo data at ``DEMO_SCALE`` (DuckDB and SQLite) in ``workdir``/demo and a server whose
    ``demo_data_dir`` is that folder, so the ``demo`` datasource exists when it is yielded."""
    demo_dir = workdir / "demo"
    write_demo_data(demo_dir, scale=DEMO_SCALE)
    args = (f"--AnalyticsExtension.demo_data_dir={demo_dir}", *extra_args)
    with start_live_server(workdir / "server", extra_args=args) as server:
        yield DemoServer(server=server, api_key=create_api_key(server), demo_dir=demo_dir)

"""Fixtures: an in-process Jupyter server with the extension (pytest-jupyter), stores on SQLite
and PostgreSQL, and a subprocess server for synchronous clients (schemathesis, Playwright)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from traitlets.config import Config

from analytics_ext.store import Database, upgrade_schema
from tests.support.api import ApiClient
from tests.support.live_server import LiveServer, start_live_server
from tests.support.services import require_service

pytest_plugins = ("pytest_jupyter.jupyter_server",)

PG_ADMIN_URL = os.environ.get(
    "ANALYTICS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def _jupyter_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-jupyter isolates Jupyter paths; kernels, Voila and labextensions live in sys.prefix.
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    require_service("postgresql")
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once per supported store backend."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    """A migrated store, once per backend, for service-level tests."""
    database = Database(store_url)
    upgrade_schema(database)
    yield database
    database.dispose()


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The store the test server uses; override (or request ``store_url``) for PostgreSQL."""
    return sqlite_url


@pytest.fixture
def jp_server_config(db_url: str, tmp_path: Path) -> Config:
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"analytics_ext": True},
                "allow_unauthenticated_access": False,
                "reraise_server_extension_failures": True,
            },
            "AnalyticsExtension": {
                "db_url": db_url,
                "secrets_dir": str(tmp_path / "secrets"),
            },
        }
    )


@pytest.fixture
def api(jp_fetch, jp_serverapp) -> ApiClient:
    """The API as the server owner (pytest-jupyter sends the server token)."""
    return ApiClient(jp_fetch)


@pytest.fixture
def anonymous(jp_fetch, jp_serverapp) -> ApiClient:
    """The API with no credentials at all."""
    return ApiClient(jp_fetch, headers={"Authorization": ""})


@pytest.fixture
def as_key(jp_fetch, jp_serverapp):
    """The API as the holder of an API key (``Authorization: Bearer <key>``)."""

    def client(token: str) -> ApiClient:
        return ApiClient(jp_fetch, headers={"Authorization": f"Bearer {token}"})

    return client


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """JupyterLab with the extension in a subprocess, for synchronous clients."""
    with start_live_server(tmp_path_factory.mktemp("live")) as server:
        yield server

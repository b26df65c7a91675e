"""Fixtures: an in-process Jupyter server with the extension (pytest-jupyter), stores on SQLite
and PostgreSQL, and a subprocess server for synchronous clients (schemathesis, Playwright)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from analytics_ext.schemas.users import UserOut
from analytics_ext.services import SETTINGS_KEY, Services
from analytics_ext.services.accounts import NewAccount
from analytics_ext.services.activity import RequestOrigin
from analytics_ext.store import Database, upgrade_schema
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer, start_live_server

pytest_plugins = ("pytest_jupyter.jupyter_server",)

TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _jupyter_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-jupyter isolates Jupyter paths; kernels, Voila and labextensions live in sys.prefix.
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    with postgres_database([]) as url:
        yield url


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
def multi_user() -> bool:
    """Whether the test server is a team server; a test module overrides this fixture."""
    return False


@pytest.fixture
def jp_server_config(db_url: str, tmp_path: Path, multi_user: bool) -> Config:
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
                "outbox_dir": str(tmp_path / "outbox"),
                "multi_user": multi_user,
                # A test server never starts a Voila process by accident (tests that want one
                # turn this on), and never publishes into the real data dir.
                "dashboard_viewers": False,
                "dashboards_dir": str(tmp_path / "dashboards"),
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


@pytest.fixture
def server_services(jp_serverapp) -> Services:
    """The running test server's own services (to set up accounts the API cannot create)."""
    return jp_serverapp.web_app.settings[SETTINGS_KEY]


@pytest.fixture
def create_account(server_services: Services):
    """Create a team-server account directly: ``await create_account("ada", notebook_role=True)``.

    The password is ``TEST_PASSWORD`` unless given; the email ``<username>@example.org``.
    """

    async def create(username: str, **fields: Any) -> UserOut:
        fields.setdefault("password", TEST_PASSWORD)
        fields.setdefault("email", f"{username}@example.org")
        return await server_services.accounts.create(NewAccount(username=username, **fields))

    return create


@pytest.fixture
def login(server_services: Services, jp_fetch):
    """An ApiClient acting as a team-server account, with a fresh access token (and its pair)."""

    async def log_in(username: str, password: str = TEST_PASSWORD) -> ApiClient:
        pair = await server_services.auth.login(username, password, RequestOrigin("127.0.0.1"))
        client = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {pair.access_token}"})
        client.tokens = pair  # type: ignore[attr-defined]
        return client

    return log_in


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """JupyterLab with the extension in a subprocess, for synchronous clients."""
    with start_live_server(tmp_path_factory.mktemp("live")) as server:
        yield server

"""A team for dashboard tests: accounts, a PostgreSQL datasource, a saved query with two
parameters and a chart on it, and a dashboard body with one tile of each kind.

A test module defines its own fixtures over these (fixtures imported from another module read
as unused names)::

    @pytest.fixture(scope="module")
    def sales_url() -> Iterator[str]:
        with sales_database() as url:
            yield url

    @pytest.fixture
    def make_team(api, create_account, login, server_services, sales_url):
        return team_factory(api, create_account, login, server_services, sales_url)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services import Services
from analytics_ext.services.activity import RequestOrigin
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query
from tests.test_chart_sql import DDL

SQL = "SELECT * FROM sales WHERE amount >= :min_amount AND region <> :skip"
PARAMETERS = [
    {"name": "min_amount", "type": "number", "default": 0},
    {"name": "skip", "type": "text", "default": ""},
]
BAR = {
    "type": "bar",
    "encodings": {"x": {"field": "region"}, "y": {"field": "amount"}},
    "aggregation": {"op": "sum"},
}
HERE = RequestOrigin("127.0.0.1")


def sales_database() -> AbstractContextManager[str]:
    """A fresh PostgreSQL database of sales rows (``tests.test_chart_sql.DDL``); its URL."""
    return postgres_database(DDL)


@dataclass
class Team:
    """Alice (who may use the owner's datasource) with a saved query and a chart on it; Bob
    and Carol, with nothing of their own."""

    alice: ApiClient
    bob: ApiClient
    carol: ApiClient
    alice_id: str
    bob_id: str
    carol_id: str
    query_id: str
    chart_id: str
    source_id: str
    services: Services

    def grant(self, kind: str, object_id: str, user_id: str, level: str) -> None:
        body = GrantCreate(object_id=object_id, principal_id=user_id, level=level)
        self.services.sharing.grant(self.alice_id, kind, body, HERE)


def team_factory(
    api: ApiClient,
    create_account: Callable[..., Awaitable[Any]],
    login: Callable[[str], Awaitable[ApiClient]],
    server_services: Services,
    sales_url: str,
) -> Callable[[], Awaitable[Team]]:
    """``await make_team()``: see ``Team``."""

    async def make() -> Team:
        people = [await create_account(name) for name in ("alice", "bob", "carol")]
        owner_id = (await api.get("/api/user"))["id"]
        source = await make_datasource(api, sales_url)
        body = GrantCreate(object_id=source, principal_id=people[0].id, level="use")
        server_services.sharing.grant(owner_id, "datasource", body, HERE)
        alice, bob, carol = [await login(name) for name in ("alice", "bob", "carol")]
        query = await save_query(alice, source, SQL, parameters=PARAMETERS)
        chart = await alice.post(
            "/api/chart", {"name": "by region", "query_id": query["id"], "spec": BAR}, expect=201
        )
        return Team(
            alice, bob, carol, *(person.id for person in people), query["id"], chart["id"],
            source, server_services,
        )  # fmt: skip

    return make


def board(query_id: str, chart_id: str) -> dict[str, Any]:
    """A dashboard body with one tile of each kind: a filter bound to both data tiles."""
    return {
        "title": "Sales",
        "description": "Revenue at a glance",
        "tags": ["sales", "weekly"],
        "refresh_seconds": 300,
        "tiles": [
            {"id": "intro", "type": "markdown", "text": "# Sales\nBy **region**."},
            {
                "id": "minimum",
                "type": "filter",
                "title": "Minimum amount",
                "parameter": {"name": "minimum", "type": "number", "default": 10},
                "targets": [
                    {"tile": "table", "parameter": "min_amount"},
                    {"tile": "chart", "parameter": "min_amount"},
                ],
            },
            {"id": "table", "type": "query", "query_id": query_id, "parameters": {"skip": "x"}},
            {"id": "chart", "type": "chart", "chart_id": chart_id},
        ],
        "layout": [
            {"tile": "intro", "x": 0, "y": 0, "w": 8, "h": 2},
            {"tile": "minimum", "x": 8, "y": 0, "w": 4, "h": 2},
            {"tile": "table", "x": 0, "y": 2, "w": 6, "h": 6},
            {"tile": "chart", "x": 6, "y": 2, "w": 6, "h": 6},
        ],
    }


async def create_board(client: ApiClient, team: Team, expect: int = 201, **fields: Any) -> Any:
    body = {**board(team.query_id, team.chart_id), **fields}
    return (await client.request("POST", "/api/dashboards", body, expect=expect)).body


async def refused(client: ApiClient, method: str, path: str, body: Any, status: int) -> str:
    reply = await client.request(method, path, body, expect=status)
    return reply.body["message"]

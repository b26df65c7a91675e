"""A Python client for the analytics_ext REST API, for notebooks, widgets and scripts.

In a kernel the server started it needs no arguments::

    from analytics_ext.client import connect
    client = connect()
    df = client.query("SELECT * FROM orders WHERE region = :region", "demo",
                      parameters={"region": "EMEA"})

Outside Jupyter pass the server's URL and an API key (``aek_...``), or set
``ANALYTICS_EXT_URL`` and ``ANALYTICS_EXT_API_KEY``. Every call goes through the REST API, so
the server checks each permission and datasource credentials never reach the kernel; results
come back as Arrow (``*_arrow``) or pandas DataFrames. Datasources may be named by id or name.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa

from .charts import ChartCalls
from .dashboards import DashboardCalls, TileData
from .errors import (
    AnalyticsError,
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    QueryCancelled,
    QueryFailed,
    RateLimited,
    ServerUnreachable,
)
from .http import DEFAULT_TIMEOUT, Transport
from .library import QueryLibraryCalls
from .runs import QueryRun

__all__ = [
    "AnalyticsClient",
    "AnalyticsError",
    "AuthenticationFailed",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "QueryCancelled",
    "QueryFailed",
    "QueryLibraryCalls",
    "QueryRun",
    "RateLimited",
    "ServerUnreachable",
    "TileData",
    "connect",
]

_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def connect(
    url: str | None = None, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> AnalyticsClient:
    """A client for the server at ``url`` (default: the kernel's own server)."""
    return AnalyticsClient(url, token, timeout)


class AnalyticsClient(QueryLibraryCalls, ChartCalls, DashboardCalls):
    """The REST API as Python calls. Thread-safe enough for widgets: each call is one request."""

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.transport = Transport(url, token, timeout)

    def __repr__(self) -> str:
        return f"<AnalyticsClient {self.transport.url}>"

    @property
    def url(self) -> str:
        return self.transport.url

    def me(self) -> dict[str, Any]:
        """The account this client acts as."""
        return self.transport.json("GET", "api/user")

    # -- datasources ---------------------------------------------------------------------------

    def datasources(self) -> list[dict[str, Any]]:
        """Every datasource the account may see (with its ``permission``)."""
        return list(self.transport.pages("api/datasources", {"limit": 200}))

    def datasource(self, name_or_id: str) -> dict[str, Any]:
        """One datasource, by id or by name (names are unique per owner; an ambiguous name
        raises ``InvalidRequest`` listing the owners)."""
        if _ID.match(name_or_id):
            try:
                return self.transport.json("GET", f"api/datasources/{name_or_id}")
            except NotFound:
                pass
        matches = [d for d in self.datasources() if d["name"] == name_or_id]
        if not matches:
            raise NotFound(f"no datasource named {name_or_id!r} that this account may see")
        if len(matches) > 1:
            raise InvalidRequest(
                f"{len(matches)} datasources are named {name_or_id!r}; use an id: "
                + ", ".join(d["id"] for d in matches)
            )
        return matches[0]

    def _datasource_id(self, name_or_id: str) -> str:
        return name_or_id if _ID.match(name_or_id) else self.datasource(name_or_id)["id"]

    def schema(
        self, datasource: str, schema: str | None = None, refresh: bool = False
    ) -> dict[str, Any]:
        """Tables and views of one schema (all pages), and the datasource's schema names."""
        params = {
            "datasource_id": self._datasource_id(datasource),
            "schema": schema,
            "limit": 500,
            "refresh": "true" if refresh else None,
        }
        first = self.transport.json("GET", "api/datasources/schema", params=params)
        items = list(first["items"])
        cursor = first.get("next")
        while cursor:
            page = self.transport.json(
                "GET", "api/datasources/schema", params={**params, "cursor": cursor}
            )
            items.extend(page["items"])
            cursor = page.get("next")
        return {**first, "items": items, "next": None}

    def preview(
        self, datasource: str, table: str, schema: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """The first rows of a table or view."""
        params = {
            "datasource_id": self._datasource_id(datasource),
            "table": table,
            "schema": schema,
            "limit": limit,
        }
        result = self.transport.json("GET", "api/datasources/preview", params=params)
        names = [column["name"] for column in result["columns"]]
        return pd.DataFrame(result["rows"], columns=names)

    # -- running SQL ---------------------------------------------------------------------------

    def run(
        self,
        sql: str,
        datasource: str,
        parameters: dict[str, Any] | None = None,
        row_limit: int | None = None,
        bypass_cache: bool = False,
    ) -> QueryRun:
        """Start a query and return at once (``wait``, ``cancel``, ``page``, ``arrow``)."""
        body = {
            "datasource_id": self._datasource_id(datasource),
            "sql": sql,
            "parameters": parameters or {},
            "row_limit": row_limit,
            "bypass_cache": bypass_cache,
        }
        return QueryRun(self.transport, self.transport.json("POST", "api/query/run", json=body))

    def query_arrow(
        self,
        sql: str,
        datasource: str,
        parameters: dict[str, Any] | None = None,
        row_limit: int | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Run a query and fetch its whole result as Arrow."""
        return self.run(sql, datasource, parameters, row_limit).wait(timeout).arrow()

    def query(
        self,
        sql: str,
        datasource: str,
        parameters: dict[str, Any] | None = None,
        row_limit: int | None = None,
        timeout: float | None = None,
    ) -> pd.DataFrame:
        """Run a query and fetch its whole result as a DataFrame."""
        return self.query_arrow(sql, datasource, parameters, row_limit, timeout).to_pandas()

    def get_run(self, run_id: str) -> QueryRun:
        """A run started earlier by this account."""
        return QueryRun(self.transport, self.transport.json("GET", f"api/query/runs/{run_id}"))

    def history(self, limit: int = 50, datasource: str | None = None) -> list[dict[str, Any]]:
        """This account's latest runs, newest first."""
        params = {
            "limit": limit,
            "datasource_id": self._datasource_id(datasource) if datasource else None,
        }
        return self.transport.json("GET", "api/query/history", params=params)["items"]

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> AnalyticsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

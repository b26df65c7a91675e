"""The query library as client calls: saved queries and their versions, favorites, templates,
sharing and export.

A mixin of ``AnalyticsClient`` (it uses the client's ``transport`` and datasource lookup), kept
apart so the client module stays one idea per file. Every call is one REST request (lists follow
their pages), so the server checks each permission; objects come back as the server's JSON dicts,
lists of saved queries optionally as a DataFrame.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from .errors import AnalyticsError
from .runs import QueryRun

if TYPE_CHECKING:
    from .http import Transport

ExportFormat = Literal["csv", "xlsx", "parquet", "json"]
QUERY_COLUMNS = [
    "id", "name", "description", "datasource_id", "tags", "owner_name", "version",
    "permission", "updated_at",
]  # fmt: skip
"""The columns of ``saved_queries()`` as a DataFrame (the SQL and parameters stay in ``get``)."""


class QueryLibraryCalls:
    """``/api/query`` (saved queries, versions, runs), ``/api/query/favorites``,
    ``/api/query/templates``, ``/api/query/share`` and ``/api/query/export``."""

    transport: Transport

    if TYPE_CHECKING:

        def _datasource_id(self, name_or_id: str) -> str: ...  # AnalyticsClient's

    # -- saved queries -------------------------------------------------------------------------

    def saved_queries(
        self,
        search: str | None = None,
        tag: str | None = None,
        datasource: str | None = None,
        as_frame: bool = True,
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """The saved queries this account may see, newest change first; ``search`` matches the
        name (any case), ``tag`` a tag exactly. A DataFrame of ``QUERY_COLUMNS`` by default,
        else the server's dicts (with SQL and parameters)."""
        params = {
            "limit": 200,
            "q": search,
            "tag": tag,
            "datasource_id": self._datasource_id(datasource) if datasource else None,
        }
        items = list(self.transport.pages("api/query", params))
        if not as_frame:
            return items
        return pd.DataFrame(
            [{c: item.get(c) for c in QUERY_COLUMNS} for item in items], columns=QUERY_COLUMNS
        )

    def saved_query(self, query_id: str) -> dict[str, Any]:
        """One saved query: SQL, typed parameters, ``version`` and the caller's ``permission``."""
        return self.transport.json("GET", f"api/query/{query_id}")

    def save_query(
        self,
        name: str,
        sql: str,
        datasource: str,
        parameters: Sequence[Mapping[str, Any]] = (),
        description: str = "",
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """A new saved query (version 1). ``parameters`` are typed definitions, e.g.
        ``{"name": "region", "type": "enum", "options": ["EMEA", "APAC"], "default": "EMEA"}``."""
        body = {
            "name": name,
            "sql": sql,
            "datasource_id": self._datasource_id(datasource),
            "parameters": [dict(p) for p in parameters],
            "description": description,
            "tags": list(tags),
        }
        return self.transport.json("POST", "api/query", json=body)

    def update_query(
        self, query_id: str, *, base_version: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change some fields (``name``, ``sql``, ``parameters``, ``description``, ``tags``,
        ``datasource``): a new version. With ``base_version`` the server refuses (``Conflict``)
        if someone saved a newer version meanwhile, instead of overwriting it."""
        body = dict(fields)
        if "datasource" in body:
            body["datasource_id"] = self._datasource_id(body.pop("datasource"))
        if "parameters" in body:
            body["parameters"] = [dict(p) for p in body["parameters"]]
        if base_version is not None:
            body["base_version"] = base_version
        return self.transport.json("PATCH", f"api/query/{query_id}", json=body)

    def delete_query(self, query_id: str, cascade: bool = False) -> None:
        """Delete a saved query; charts built on it make this a ``Conflict`` unless
        ``cascade`` (which deletes them too)."""
        params = {"cascade": "true" if cascade else None}
        self.transport.request("DELETE", f"api/query/{query_id}", params=params)

    def query_versions(self, query_id: str) -> list[dict[str, Any]]:
        """Every version of a saved query, newest first, with the fields each changed."""
        return list(self.transport.pages(f"api/query/{query_id}/versions", {"limit": 200}))

    def query_version(self, query_id: str, version: int) -> dict[str, Any]:
        """One version as it was saved (SQL, parameters, author)."""
        return self.transport.json("GET", f"api/query/{query_id}/versions/{int(version)}")

    def diff_query(self, query_id: str, version: int, against: int | None = None) -> dict[str, Any]:
        """What changed in ``version`` against ``against`` (default: the version before): one
        entry per field, with a unified diff for the SQL and the description."""
        return self.transport.json(
            "GET",
            f"api/query/{query_id}/versions/{int(version)}/diff",
            params={"against": against},
        )

    def restore_query(self, query_id: str, version: int) -> dict[str, Any]:
        """Make an old version current again (as a new version: history is append-only)."""
        return self.transport.json("POST", f"api/query/{query_id}/versions/{int(version)}/restore")

    def run_saved(
        self,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
        sql: str | None = None,
        row_limit: int | None = None,
        bypass_cache: bool = False,
    ) -> QueryRun:
        """Start a saved query with values for its parameters (defaults fill the gaps; a date
        range is ``{"start": ..., "end": ...}``). ``sql`` runs an edited statement instead of
        the saved one (needs ``edit`` on the query)."""
        body: dict[str, Any] = {
            "parameters": dict(parameters or {}),
            "row_limit": row_limit,
            "bypass_cache": bypass_cache,
        }
        if sql is not None:
            body["sql"] = sql
        state = self.transport.json("POST", f"api/query/{query_id}/run", json=body)
        return QueryRun(self.transport, state)

    def result_page(
        self,
        run_id: str,
        offset: int = 0,
        limit: int = 50,
        sort: str | None = None,
        descending: bool = False,
    ) -> dict[str, Any]:
        """One JSON page of a finished run's result, optionally ordered by the column ``sort``
        (the server sorts the whole result, then pages it; nulls come last)."""
        params = {
            "offset": offset,
            "limit": limit,
            "format": "json",
            "sort": sort,
            "order": ("desc" if descending else "asc") if sort else None,
        }
        return self.transport.json("GET", f"api/query/runs/{run_id}/result", params=params)

    # -- favorites -----------------------------------------------------------------------------

    def favorites(self) -> list[dict[str, Any]]:
        """This account's favorite queries and charts, in their order."""
        return list(self.transport.pages("api/query/favorites", {"limit": 500}))

    def add_favorite(
        self,
        object_id: str,
        object_type: Literal["query", "chart"] = "query",
        position: int | None = None,
    ) -> dict[str, Any]:
        """Favorite a query (or chart); again changes nothing, or moves it to ``position``."""
        body = {"object_type": object_type, "object_id": object_id, "position": position}
        return self.transport.json("POST", "api/query/favorites", json=body)

    def remove_favorite(
        self, object_id: str, object_type: Literal["query", "chart"] = "query"
    ) -> None:
        """Unfavorite an object (a no-op when it was not a favorite is the server's call)."""
        params = {"object_type": object_type, "object_id": object_id}
        self.transport.request("DELETE", "api/query/favorites", params=params)

    def move_favorite(self, favorite_id: str, position: int) -> dict[str, Any]:
        """Move one favorite to ``position`` (0 is the top)."""
        return self.transport.json(
            "PATCH", f"api/query/favorites/{favorite_id}", json={"position": position}
        )

    def reorder_favorites(self, object_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Put these favorited objects first, in this order (the rest keep theirs after them)."""
        by_object = {item["object_id"]: item for item in self.favorites()}
        for position, object_id in enumerate(object_ids):
            if object_id not in by_object:
                raise AnalyticsError(f"{object_id} is not one of your favorites")
            self.move_favorite(by_object[object_id]["id"], position)
        return self.favorites()

    # -- templates -----------------------------------------------------------------------------

    def query_templates(
        self, search: str | None = None, tag: str | None = None
    ) -> list[dict[str, Any]]:
        """The query templates this account may see."""
        return list(
            self.transport.pages("api/query/templates", {"limit": 200, "q": search, "tag": tag})
        )

    def query_template(self, template_id: str) -> dict[str, Any]:
        return self.transport.json("GET", f"api/query/templates/{template_id}")

    def create_query_template(
        self,
        name: str,
        body: str,
        parameters: Sequence[Mapping[str, Any]] = (),
        description: str = "",
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """A template: sandboxed Jinja2 SQL whose parameters render as ``:name`` placeholders."""
        data = {
            "name": name,
            "body": body,
            "parameters": [dict(p) for p in parameters],
            "description": description,
            "tags": list(tags),
        }
        return self.transport.json("POST", "api/query/templates", json=data)

    def delete_query_template(self, template_id: str) -> None:
        self.transport.request("DELETE", f"api/query/templates/{template_id}")

    def render_template(
        self, template_id: str, parameters: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The SQL the template renders to for these values (``sql``) and what would be bound
        (``bindings``): values never enter the SQL text."""
        body = {"parameters": dict(parameters or {})}
        return self.transport.json("POST", f"api/query/templates/{template_id}/render", json=body)

    def instantiate_template(
        self,
        template_id: str,
        name: str,
        datasource: str,
        parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A new saved query from a template (``parameters`` become its defaults)."""
        body: dict[str, Any] = {
            "name": name,
            "datasource_id": self._datasource_id(datasource),
            "parameters": dict(parameters or {}),
        }
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = list(tags)
        return self.transport.json(
            "POST", f"api/query/templates/{template_id}/instantiate", json=body
        )

    # -- sharing -------------------------------------------------------------------------------

    def share_query(
        self,
        object_id: str,
        user_id: str | None = None,
        level: str = "view",
        *,
        link: bool = False,
        expires_at: datetime | None = None,
        object_type: Literal["query", "query_template"] = "query",
    ) -> dict[str, Any]:
        """Give the account ``user_id`` a level (``view``, ``edit``, ``manage``) on a query, or,
        with ``link=True``, make a view-only share link: its ``url`` and ``token`` are in the
        answer, shown only this once."""
        if link == (user_id is not None):
            raise AnalyticsError(
                "share with a user (user_id=...) or as a link (link=True), not both"
            )
        body: dict[str, Any] = {
            "object_id": object_id,
            "object_type": object_type,
            "principal_type": "link" if link else "user",
            "level": level,
        }
        if user_id is not None:
            body["principal_id"] = user_id
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        return self.transport.json("POST", "api/query/share", json=body)

    def query_grants(
        self, object_id: str, object_type: Literal["query", "query_template"] = "query"
    ) -> list[dict[str, Any]]:
        """Who holds what on a query (links are listed without their secret)."""
        params = {"object_id": object_id, "object_type": object_type}
        return self.transport.json("GET", "api/query/share", params=params)["items"]

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant or share link at once."""
        self.transport.request("DELETE", f"api/query/share/{grant_id}")

    # -- export --------------------------------------------------------------------------------

    def export_query(
        self,
        query_id: str | None = None,
        *,
        run_id: str | None = None,
        format: ExportFormat = "csv",
        path: str | os.PathLike[str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        row_limit: int | None = None,
    ) -> bytes | Path:
        """A saved query (run now with ``parameters``) or a finished run as a file. With
        ``path`` the download streams to that file chunk by chunk (nothing large is held in
        memory) and the path is returned; without it, the bytes."""
        body: dict[str, Any] = {"format": format}
        if query_id is not None:
            body.update(query_id=query_id, parameters=dict(parameters or {}), row_limit=row_limit)
        if run_id is not None:
            body["run_id"] = run_id
        return self.transport.download("api/query/export", body, path)

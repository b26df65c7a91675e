"""Dashboards as client calls: CRUD, publishing, one tile's data, static exports, sharing.

A mixin of ``AnalyticsClient`` (it uses the client's ``transport``), like ``ChartCalls``. Every
call is one REST request, so the server checks each permission. A tile's data comes back as the
dashboard's viewers see it (the tile's saved query or chart run with the dashboard owner's
authority and the filters' values), as a ``TileData``: an Arrow table of the server's column
types, plus the chart payload a chart tile is drawn from.

This is also what a published dashboard's kernel uses (``dashboards.view.show``): there the
client's credential is the kernel's own token, which opens that one dashboard and its tiles'
data and nothing else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa

from .charts import _arrow_type, typed_array

if TYPE_CHECKING:
    from .http import Transport

_DECIMAL = re.compile(r"^decimal(128|256)\((\d+), (-?\d+)\)$")
DashboardExportFormat = Literal["html", "pdf"]
ShareLevel = Literal["view", "edit", "manage"]


@dataclass(frozen=True)
class TileData:
    """One query or chart tile's rows as its viewers see them (``TileDataOut``)."""

    tile_id: str
    type: str
    """``query`` or ``chart``."""
    table: pa.Table
    """The rows, each column of the Arrow type the server named where it can be rebuilt from
    JSON (dates, timestamps, decimals...), else the type JSON gives."""
    columns: list[dict[str, str]]
    """The server's ``name`` and ``type`` of each column, in order."""
    truncated: bool
    """More rows than the tile shows: these are the first ones."""
    cached: bool
    """Served from the server's result cache (no query ran)."""
    refreshed_at: datetime | None
    chart: dict[str, Any] | None = None
    """Chart tiles: ``spec``, ``effective_customization`` and ``channels`` (channel → column)."""

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def rows(self) -> list[list[Any]]:
        """The rows as Python values, row by row (what a table widget shows)."""
        columns = [column.to_pylist() for column in self.table.columns]
        return [list(row) for row in zip(*columns, strict=True)]

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TileData:
        """A ``TileDataOut`` answer as a ``TileData``."""
        refreshed = data.get("refreshed_at")
        return cls(
            tile_id=data["tile_id"],
            type=data["type"],
            table=table_from_rows(data["columns"], data["rows"]),
            columns=[{"name": c["name"], "type": c["type"]} for c in data["columns"]],
            truncated=bool(data.get("truncated")),
            cached=bool(data.get("cached")),
            refreshed_at=datetime.fromisoformat(refreshed) if refreshed else None,
            chart=data.get("chart"),
        )


def table_from_rows(
    columns: Sequence[Mapping[str, Any]], rows: Sequence[Sequence[Any]]
) -> pa.Table:
    """Row-major JSON rows (``TileDataOut.rows``) as an Arrow table of the named types, the
    way ``charts.table_from_json`` rebuilds a chart's rows; a column whose type cannot be
    rebuilt keeps the type inferred from JSON. Built by position, so a result with two
    columns of one name (``SELECT a, a``) keeps both."""
    arrays = [
        typed_array([row[index] for row in rows], column["type"], _column_type)
        for index, column in enumerate(columns)
    ]
    return pa.Table.from_arrays(arrays, names=[column["name"] for column in columns])


def _column_type(name: str) -> pa.DataType | None:
    """The Arrow type a column's type name stands for: ``charts``' rule, plus decimals (sent
    as exact text, so ``decimal128(10, 2)`` columns come back as decimals, not strings)."""
    match = _DECIMAL.match(name)
    if match:
        width, precision, scale = match.groups()
        make = pa.decimal128 if width == "128" else pa.decimal256
        return make(int(precision), int(scale))
    return _arrow_type(name)


class DashboardCalls:
    """``/api/dashboards`` (dashboards, publishing, tile data, export) and
    ``/api/dashboards/share``."""

    transport: Transport

    # -- dashboards ----------------------------------------------------------------------------

    def dashboards(
        self,
        search: str | None = None,
        tag: str | None = None,
        owner: Literal["me", "shared"] | None = None,
    ) -> list[dict[str, Any]]:
        """The dashboards this account may see (every page); ``search`` matches the title,
        ``tag`` a tag exactly, ``owner`` keeps the account's own or those shared with it."""
        params = {"limit": 200, "q": search, "tag": tag, "owner": owner}
        return list(self.transport.pages("api/dashboards", params))

    def dashboard(self, dashboard_id: str) -> dict[str, Any]:
        """One dashboard: ``tiles``, ``layout``, ``refresh_seconds``, ``version``, the caller's
        ``permission`` and, once published, its ``viewer_url``."""
        return self.transport.json("GET", f"api/dashboards/{dashboard_id}")

    def create_dashboard(
        self,
        title: str,
        tiles: Sequence[Mapping[str, Any]] = (),
        layout: Sequence[Mapping[str, Any]] = (),
        *,
        description: str = "",
        refresh_seconds: int | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """A new dashboard. ``tiles`` are ``{"id", "type", ...}`` (``query`` with ``query_id``,
        ``chart`` with ``chart_id``, ``markdown`` with ``text``, ``filter`` with ``parameter``
        and ``targets``); ``layout`` places each tile once on the 12-column grid
        (``{"tile", "x", "y", "w", "h"}``). The server checks both (``InvalidRequest`` naming
        the field, e.g. ``layout.1: 'b' overlaps 'a' at column 3, row 0``)."""
        body = {
            "title": title,
            "description": description,
            "tiles": [dict(tile) for tile in tiles],
            "layout": [dict(item) for item in layout],
            "refresh_seconds": refresh_seconds,
            "tags": list(tags),
        }
        return self.transport.json("POST", "api/dashboards", json=body)

    def update_dashboard(
        self, dashboard_id: str, *, base_version: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change some fields (``title``, ``description``, ``tiles`` with ``layout``,
        ``refresh_seconds``, ``tags``). With ``base_version``, ``Conflict`` if someone saved
        a newer version meanwhile."""
        body = dict(fields)
        if base_version is not None:
            body["base_version"] = base_version
        return self.transport.json("PATCH", f"api/dashboards/{dashboard_id}", json=body)

    def delete_dashboard(self, dashboard_id: str) -> None:
        """Delete a dashboard (and unpublish it: its viewers and links stop working)."""
        self.transport.request("DELETE", f"api/dashboards/{dashboard_id}")

    def publish_dashboard(self, dashboard_id: str) -> dict[str, Any]:
        """Publish the current version for viewers: the answer's ``viewer_url`` is where they
        open it (``version``, ``notebook``, ``published_at`` too)."""
        return self.transport.json("POST", f"api/dashboards/{dashboard_id}/publish")

    def unpublish_dashboard(self, dashboard_id: str) -> None:
        """Take the dashboard away from its viewers (its viewer URL stops working; the
        dashboard itself stays, and can be published again)."""
        self.transport.request("DELETE", f"api/dashboards/{dashboard_id}/publish")

    # -- versions ------------------------------------------------------------------------------

    def dashboard_versions(self, dashboard_id: str) -> list[dict[str, Any]]:
        """Every saved version, newest first: ``version``, ``title``, who saved it and which
        fields it ``changed``."""
        path = f"api/dashboards/{dashboard_id}/versions"
        return list(self.transport.pages(path, {"limit": 200}))

    def dashboard_version(self, dashboard_id: str, version: int) -> dict[str, Any]:
        """One saved version whole (tiles and layout as they were)."""
        return self.transport.json("GET", f"api/dashboards/{dashboard_id}/versions/{version}")

    def restore_dashboard(self, dashboard_id: str, version: int) -> dict[str, Any]:
        """Make an old version current again (as a new version; nothing is lost)."""
        path = f"api/dashboards/{dashboard_id}/versions/{version}/restore"
        return self.transport.json("POST", path)

    # -- tile data -----------------------------------------------------------------------------

    def tile_data_json(
        self,
        dashboard_id: str,
        tile_id: str,
        filters: Mapping[str, Any] | None = None,
        refresh: bool = False,
        timeout: float | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        """A tile's data as the server's JSON (``TileDataOut``)."""
        body: dict[str, Any] = {"filters": dict(filters or {}), "refresh": refresh}
        if version is not None:
            body["version"] = version
        path = f"api/dashboards/{dashboard_id}/tiles/{tile_id}/data"
        return self.transport.json("POST", path, json=body, timeout=timeout)

    def tile_data(
        self,
        dashboard_id: str,
        tile_id: str,
        filters: Mapping[str, Any] | None = None,
        refresh: bool = False,
        timeout: float | None = None,
        version: int | None = None,
    ) -> TileData:
        """A query or chart tile's rows as the dashboard's viewers see them. ``filters`` maps
        a filter tile's id to its value (a filter left out uses its default); ``refresh``
        runs the tile's query again even if a cached result is fresh (the Refresh button);
        ``version`` runs the tile as that saved version had it (published notebooks)."""
        return TileData.from_json(
            self.tile_data_json(dashboard_id, tile_id, filters, refresh, timeout, version)
        )

    # -- export --------------------------------------------------------------------------------

    def export_dashboard(
        self,
        dashboard_id: str,
        format: DashboardExportFormat = "html",
        path: str | os.PathLike[str] | None = None,
    ) -> bytes | Path:
        """The dashboard rendered on the server as one self-contained file (``html``: no
        script or CDN needed to read it; ``pdf``: printed by headless Chromium), each tile
        as its viewers see it with the filters' defaults. With ``path`` the file streams
        there and its path is returned; without it, the bytes."""
        return self.transport.download(
            f"api/dashboards/{dashboard_id}/export",
            None,
            path,
            method="GET",
            params={"format": format},
        )

    # -- sharing -------------------------------------------------------------------------------

    def share_dashboard(
        self, dashboard_id: str, *, user_id: str, level: ShareLevel = "view"
    ) -> dict[str, Any]:
        """Give the account ``user_id`` a level on the dashboard: ``view`` (open it and see
        its tiles' data, through the dashboard only), ``edit`` or ``manage``."""
        body = {
            "object_id": dashboard_id,
            "object_type": "dashboard",
            "principal_type": "user",
            "principal_id": user_id,
            "level": level,
        }
        return self.transport.json("POST", "api/dashboards/share", json=body)

    def share_dashboard_link(
        self, dashboard_id: str, expires_at: datetime | None = None
    ) -> dict[str, Any]:
        """A view-only share link that opens this dashboard and nothing else; its ``url`` and
        ``token`` are in the answer, shown only this once."""
        body: dict[str, Any] = {
            "object_id": dashboard_id,
            "object_type": "dashboard",
            "principal_type": "link",
            "level": "view",
        }
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        return self.transport.json("POST", "api/dashboards/share", json=body)

    def dashboard_grants(self, dashboard_id: str) -> list[dict[str, Any]]:
        """Who holds what on a dashboard (links are listed without their secret)."""
        params = {"object_id": dashboard_id, "object_type": "dashboard"}
        return self.transport.json("GET", "api/dashboards/share", params=params)["items"]

    def revoke_dashboard_grant(self, grant_id: str) -> None:
        """Revoke a grant or share link on a dashboard at once."""
        self.transport.request("DELETE", f"api/dashboards/share/{grant_id}")

"""Charts as client calls: CRUD, the rows a chart draws, previews, templates, sharing, export.

A mixin of ``AnalyticsClient`` (it uses the client's ``transport``), like ``QueryLibraryCalls``.
Every call is one REST request, so the server checks each permission. A chart's rows come back
already aggregated, sorted and limited by the datasource (the spec's SQL runs on the server),
as Arrow (``chart_arrow``) or a DataFrame (``chart_data``); ``chart_columns`` names the column
each channel reads, as the server names them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import requests

from .errors import AnalyticsError, ServerUnreachable

if TYPE_CHECKING:
    from .http import Transport

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ExportFormat = Literal["png", "svg", "pdf", "csv", "json", "spec"]
ChartKind = Literal["chart", "chart_template"]


def chart_columns(spec: Mapping[str, Any]) -> dict[str, str]:
    """Channel → column of the chart's rows (``x``, ``y``...; a histogram adds ``x_end`` and its
    ``y`` count; an aggregate gets its own name when a field is used twice).

    The names come from the same function the server builds the chart's SQL with, so the Arrow
    rows (which carry no channel map) are read exactly as the JSON rows' ``channels`` say.
    """
    from ..engine.chart_sql import chart_query
    from ..schemas.charts import ChartSpec

    parsed = spec if isinstance(spec, ChartSpec) else ChartSpec.model_validate(dict(spec))
    return dict(chart_query("SELECT 1", parsed, "duckdb", 1).columns)


def table_from_json(data: Mapping[str, Any]) -> pa.Table:
    """A JSON chart-data answer (``columns`` with Arrow type names, ``rows``) as an Arrow table
    of those types; a column whose type cannot be rebuilt keeps the type inferred from JSON."""
    columns: dict[str, pa.Array] = {}
    for column in data["columns"]:
        name = column["name"]
        values = [row.get(name) for row in data["rows"]]
        columns[name] = typed_array(values, column["type"], _arrow_type)
    return pa.table(columns)


def typed_array(
    values: list[Any], type_name: str, type_of: Callable[[str], pa.DataType | None]
) -> pa.Array:
    """JSON ``values`` as an Arrow array of the server's type ``type_name`` (read by
    ``type_of``); when the type cannot be rebuilt the array keeps the type inferred from JSON,
    with the same values, rather than failing the whole result."""
    array = pa.array(values)
    try:
        wanted = type_of(type_name)
        if wanted is not None and array.type != wanted:
            array = array.cast(wanted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError):
        pass
    return array


def _arrow_type(name: str) -> pa.DataType | None:
    if name.startswith("timestamp[") and ", tz=" in name:
        unit, zone = name[len("timestamp[") : -1].split(", tz=")
        return pa.timestamp(unit, tz=zone)
    try:
        return pa.type_for_alias(name)
    except ValueError:
        return None


class ChartCalls:
    """``/api/chart`` (charts, data, previews), ``/api/chart/templates``, ``/api/chart/share``
    and ``/api/chart/export``."""

    transport: Transport

    # -- charts --------------------------------------------------------------------------------

    def charts(self, query_id: str | None = None) -> list[dict[str, Any]]:
        """The charts this account may see (only those of ``query_id`` if given)."""
        return list(self.transport.pages("api/chart", {"limit": 200, "query_id": query_id}))

    def chart(self, chart_id: str) -> dict[str, Any]:
        """One chart: ``spec``, ``customization`` as stored, ``effective_customization`` (with
        this account's settings filling the gaps), ``parameters`` and ``permission``."""
        return self.transport.json("GET", f"api/chart/{chart_id}")

    def create_chart(
        self,
        name: str,
        query_id: str,
        spec: Mapping[str, Any],
        customization: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """A new chart of a saved query; the server checks the spec against the query's
        columns (``InvalidRequest`` naming the field, e.g. ``spec.encodings.y.field``)."""
        body = {
            "name": name,
            "description": description,
            "query_id": query_id,
            "parameters": dict(parameters or {}),
            "spec": dict(spec),
            "customization": dict(customization or {}),
        }
        return self.transport.json("POST", "api/chart", json=body)

    def update_chart(self, chart_id: str, **fields: Any) -> dict[str, Any]:
        """Replace some fields (``name``, ``description``, ``query_id``, ``parameters``,
        ``spec``, ``customization``; each replaced whole)."""
        return self.transport.json("PATCH", f"api/chart/{chart_id}", json=fields)

    def delete_chart(self, chart_id: str) -> None:
        self.transport.request("DELETE", f"api/chart/{chart_id}")

    # -- the rows a chart draws ----------------------------------------------------------------

    def chart_arrow(self, chart_id: str, timeout: float | None = None) -> pa.Table:
        """A saved chart's rows as Arrow: its query run with its parameters, aggregated, sorted
        and limited on the datasource."""
        response = self.transport.request(
            "GET",
            f"api/chart/{chart_id}/data",
            params={"format": "arrow"},
            stream=True,
            timeout=timeout,
        )
        try:
            if not response.headers.get("Content-Type", "").startswith(ARROW_STREAM):
                raise AnalyticsError("the server did not answer with an Arrow stream")
            with pa.ipc.open_stream(response.raw) as reader:
                return reader.read_all()
        except (requests.RequestException, OSError) as error:
            raise ServerUnreachable(f"the chart's data stopped midway: {error}") from None
        finally:
            response.close()

    def chart_data(self, chart_id: str) -> pd.DataFrame:
        """A saved chart's rows as a DataFrame."""
        return self.chart_arrow(chart_id).to_pandas()

    def chart_data_json(self, chart_id: str, timeout: float | None = None) -> dict[str, Any]:
        """The rows as the server's JSON: ``columns``, ``channels``, ``rows``, ``truncated``
        (more rows than a chart may draw: these are the first ones)."""
        return self.transport.json(
            "GET", f"api/chart/{chart_id}/data", params={"format": "json"}, timeout=timeout
        )

    def chart_preview(
        self,
        query_id: str,
        spec: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """An unsaved chart's rows (JSON, as ``chart_data_json``): what ``spec`` would draw
        from the saved query ``query_id`` run with ``parameters``."""
        body = {"query_id": query_id, "parameters": dict(parameters or {}), "spec": dict(spec)}
        return self.transport.json("POST", "api/chart/preview", json=body, timeout=timeout)

    def chart_preview_arrow(
        self,
        query_id: str,
        spec: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[pa.Table, bool]:
        """``chart_preview`` as an Arrow table of the server's column types, and whether the
        rows were cut at the chart's row cap."""
        data = self.chart_preview(query_id, spec, parameters, timeout)
        return table_from_json(data), bool(data.get("truncated"))

    # -- templates -----------------------------------------------------------------------------

    def chart_templates(self) -> list[dict[str, Any]]:
        """The chart templates this account may see, with the roles each needs bound."""
        return list(self.transport.pages("api/chart/templates", {"limit": 200}))

    def chart_template(self, template_id: str) -> dict[str, Any]:
        return self.transport.json("GET", f"api/chart/templates/{template_id}")

    def create_chart_template(
        self,
        name: str,
        spec: Mapping[str, Any] | None = None,
        customization: Mapping[str, Any] | None = None,
        *,
        from_chart_id: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """A preset from a spec whose fields name roles, or from a chart (``from_chart_id``:
        its spec and customization, its fields becoming the roles)."""
        body: dict[str, Any] = {"name": name, "description": description}
        if spec is not None:
            body["spec"] = dict(spec)
        if customization is not None:
            body["customization"] = dict(customization)
        if from_chart_id is not None:
            body["from_chart_id"] = from_chart_id
        return self.transport.json("POST", "api/chart/templates", json=body)

    def update_chart_template(self, template_id: str, **fields: Any) -> dict[str, Any]:
        """Replace some fields (``name``, ``description``, ``spec``, ``customization``)."""
        return self.transport.json("PATCH", f"api/chart/templates/{template_id}", json=fields)

    def delete_chart_template(self, template_id: str) -> None:
        self.transport.request("DELETE", f"api/chart/templates/{template_id}")

    def apply_chart_template(
        self,
        template_id: str,
        query_id: str,
        name: str,
        bindings: Mapping[str, str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """A new chart of ``query_id`` from a template; ``bindings`` maps a channel to a column
        (a channel left out binds the column named like its role)."""
        body = {
            "query_id": query_id,
            "name": name,
            "description": description,
            "bindings": dict(bindings or {}),
            "parameters": dict(parameters or {}),
        }
        return self.transport.json("POST", f"api/chart/templates/{template_id}/apply", json=body)

    # -- sharing -------------------------------------------------------------------------------

    def share_chart(
        self,
        object_id: str,
        user_id: str | None = None,
        level: str = "view",
        *,
        link: bool = False,
        expires_at: datetime | None = None,
        object_type: ChartKind = "chart",
    ) -> dict[str, Any]:
        """Give the account ``user_id`` a level (``view``, ``edit``, ``manage``) on a chart (or
        a chart template), or, with ``link=True``, make a view-only share link: its ``url`` and
        ``token`` are in the answer, shown only this once."""
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
        return self.transport.json("POST", "api/chart/share", json=body)

    def chart_grants(
        self, object_id: str, object_type: ChartKind = "chart"
    ) -> list[dict[str, Any]]:
        """Who holds what on a chart (links are listed without their secret)."""
        params = {"object_id": object_id, "object_type": object_type}
        return self.transport.json("GET", "api/chart/share", params=params)["items"]

    def revoke_chart_grant(self, grant_id: str) -> None:
        """Revoke a grant or share link on a chart or chart template at once."""
        self.transport.request("DELETE", f"api/chart/share/{grant_id}")

    # -- export --------------------------------------------------------------------------------

    def export_chart(
        self,
        chart_id: str | None = None,
        format: ExportFormat = "png",
        *,
        query_id: str | None = None,
        spec: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        customization: Mapping[str, Any] | None = None,
        name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        scale: float | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> bytes | Path:
        """A chart drawn on the server: the same picture everywhere (``png``, ``svg``,
        ``pdf``), its rows (``csv``), its self-contained Vega-Lite spec (``json``) or its
        definition (``spec``). A saved chart by ``chart_id`` exports as stored; an unsaved one
        is ``query_id`` with ``spec`` (and ``parameters``, ``customization``, ``name``). With
        ``path`` the file streams there and its path is returned; without it, the bytes."""
        fields = {
            "chart_id": chart_id,
            "query_id": query_id,
            "spec": dict(spec) if spec is not None else None,
            "parameters": dict(parameters) if parameters is not None else None,
            "customization": dict(customization) if customization is not None else None,
            "name": name,
            "width": width,
            "height": height,
            "scale": scale,
        }
        body = {"format": format, **{k: v for k, v in fields.items() if v is not None}}
        return self.transport.download("api/chart/export", body, path)

"""``POST /api/chart/export``: a saved or unsaved chart as a picture, its rows or its spec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, model_validator

from .base import QueryModel, RequestModel
from .charts import MAX_SIZE, MIN_SIZE
from .parameters import ParameterInput

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
ChartExportFormat = Literal["png", "svg", "pdf", "csv", "json", "spec"]
Size = Annotated[int, Field(ge=MIN_SIZE, le=MAX_SIZE)]


class ChartExportCreate(RequestModel):
    """Exactly one of ``chart_id`` (a saved chart: ``view`` on it is enough) and ``query_id``
    with ``spec`` (an unsaved chart of a saved query: ``view`` on the query).

    Formats: ``png``, ``svg``, ``pdf`` (the picture), ``csv`` (the rows the chart draws),
    ``json`` (a self-contained Vega-Lite spec with the rows inline, what the pictures are
    rendered from), ``spec`` (the chart definition: name, query, parameters, spec and
    customization, a body ``POST /api/chart`` accepts).
    """

    chart_id: Id | None = None
    query_id: Id | None = None
    parameters: dict[str, ParameterInput] = Field(default_factory=dict, max_length=50)
    """Unsaved chart: values of the query's parameters (its defaults fill the rest)."""
    spec: dict[str, Any] | None = None
    """Unsaved chart: a ``ChartSpec``."""
    customization: dict[str, Any] | None = None
    """Unsaved chart: a ``Customization`` (the caller's settings fill unset fields)."""
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """Unsaved chart: the name its file is called by (default: its title, else ``chart``)."""
    format: ChartExportFormat = "png"
    width: Size | None = None
    """CSS pixels (default: the chart's customized width, else 640)."""
    height: Size | None = None
    """CSS pixels (default: the chart's customized height, else 400)."""
    scale: StrictInt | StrictFloat = Field(1, ge=1, le=4)
    """PNG only: pixels per CSS pixel (the PNG is ``floor(width * scale)`` pixels wide)."""

    @model_validator(mode="after")
    def _one_chart(self) -> ChartExportCreate:
        if (self.chart_id is None) == (self.query_id is None):
            raise ValueError("give exactly one of chart_id and query_id (with spec)")
        if self.query_id is not None and self.spec is None:
            raise ValueError("spec: an unsaved chart (query_id) needs a spec")
        if self.chart_id is not None:
            given = {"parameters", "spec", "customization", "name"} & self.model_fields_set
            if given:
                raise ValueError(
                    f"{sorted(given)[0]}: belongs to an unsaved chart (query_id); a saved "
                    "chart exports as it is stored"
                )
        return self


THUMBNAIL_MIN_SIZE, THUMBNAIL_MAX_SIZE = MIN_SIZE, 800
"""Thumbnail bounds in CSS pixels: below 50 Vega-Lite cannot fit axes; above 800 it is an
export, not a thumbnail (and a cache of them would hold megabytes each)."""
ThumbnailSize = Annotated[int, Field(ge=THUMBNAIL_MIN_SIZE, le=THUMBNAIL_MAX_SIZE)]


class ChartThumbnailQuery(QueryModel):
    """``GET /api/chart/{id}/thumbnail?width=&height=``: the saved chart as a small PNG."""

    width: ThumbnailSize = 320
    height: ThumbnailSize = 200

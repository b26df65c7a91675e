"""Request and response bodies of ``/api/chart`` and ``/api/chart/templates``.

The chart itself is ``schemas.charts`` (``ChartSpec``, ``Customization``). Request bodies carry
``spec`` and ``customization`` as JSON objects that the chart services validate, so a problem
deep inside a spec is reported at its full path (``spec.encodings.y: a bar chart needs a y
field``) instead of as one error on ``spec``; responses carry the validated models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .base import QueryModel, RequestModel, ResponseModel
from .charts import ChartSpec, Customization
from .parameters import ParameterInput

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
JsonObject = dict[str, Any]
ParameterValues = Annotated[dict[str, ParameterInput], Field(max_length=50)]
Channel = Literal["x", "y", "color", "size", "facet"]
Level = Literal["view", "edit", "manage"]


class ChartCreate(RequestModel):
    name: Name
    description: Description = ""
    query_id: Id
    """A saved query the caller may view; its result's columns are what the spec encodes."""
    parameters: ParameterValues = Field(default_factory=dict)
    """Values for the query's parameters (its defaults fill the rest)."""
    spec: JsonObject
    """A ``ChartSpec``."""
    customization: JsonObject = Field(default_factory=dict)
    """A ``Customization``: only what the user chose; the rest follows their settings."""


class ChartPatch(RequestModel):
    """Fields given replace the stored ones (``spec``, ``customization`` and ``parameters``
    whole); the spec is checked again against the (possibly new) query's columns."""

    name: Name | None = None
    description: Description | None = None
    query_id: Id | None = None
    parameters: ParameterValues | None = None
    spec: JsonObject | None = None
    customization: JsonObject | None = None


class ChartOut(ResponseModel):
    id: str
    name: str
    description: str
    owner_id: str | None
    query_id: str
    parameters: dict[str, Any]
    spec: ChartSpec
    customization: Customization
    """As stored: what the user chose."""
    effective_customization: Customization
    """With the caller's settings (palette, theme, date format) filling unset fields."""
    permission: Level
    """The caller's level on this chart."""
    created_at: datetime
    updated_at: datetime


class ChartPage(ResponseModel):
    items: list[ChartOut]
    next: str | None
    total: int


class ChartListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    query_id: Id | None = None
    """Only charts of this saved query."""


class ChartDataQuery(QueryModel):
    format: Literal["json", "arrow"] = "json"


class DataColumn(ResponseModel):
    name: str
    type: str


class ChartDataOut(ResponseModel):
    """The rows a chart draws: aggregated, sorted and limited on the datasource."""

    chart_id: str | None
    columns: list[DataColumn]
    channels: dict[str, str]
    """Channel → column: ``{"x": "region", "y": "revenue"}`` (a histogram adds ``x_end``)."""
    rows: list[dict[str, Any]]
    truncated: bool
    """More rows than the chart may draw: these are the first ones."""


class ChartPreview(RequestModel):
    """An unsaved chart's data (the editor's live preview)."""

    query_id: Id
    parameters: ParameterValues = Field(default_factory=dict)
    spec: JsonObject


# -- templates ----------------------------------------------------------------------------------


class ChartTemplateCreate(RequestModel):
    """A preset from a spec whose encodings name roles (``{"x": {"field": "date", "type":
    "temporal"}}``), or from an existing chart (``from_chart_id``: its spec and customization,
    its fields becoming the roles)."""

    name: Name
    description: Description = ""
    spec: JsonObject | None = None
    customization: JsonObject | None = None
    from_chart_id: Id | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChartTemplateCreate:
        if (self.spec is None) == (self.from_chart_id is None):
            raise ValueError("give either spec or from_chart_id")
        return self


class ChartTemplatePatch(RequestModel):
    name: Name | None = None
    description: Description | None = None
    spec: JsonObject | None = None
    customization: JsonObject | None = None


class TemplateRole(ResponseModel):
    """What a template needs bound for one channel: a column of a fitting type."""

    channel: Channel
    role: str
    """The template's placeholder name (a column of that name binds by default)."""
    type: str | None
    """The field type the column must fit, if the template fixes one."""


class ChartTemplateOut(ResponseModel):
    id: str
    name: str
    description: str
    owner_id: str | None
    spec: ChartSpec
    customization: Customization
    roles: list[TemplateRole]
    permission: Level
    created_at: datetime
    updated_at: datetime


class ChartTemplatePage(ResponseModel):
    items: list[ChartTemplateOut]
    next: str | None
    total: int


class ChartTemplateListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)


class ChartTemplateApply(RequestModel):
    """Make a chart from a template: each role's channel bound to a column of ``query_id``."""

    query_id: Id
    name: Name
    description: Description = ""
    bindings: Annotated[
        dict[Channel, Annotated[str, Field(min_length=1, max_length=128)]],
        Field(default_factory=dict),
    ]
    """Channel → column; a channel left out binds the column named like its role."""
    parameters: ParameterValues = Field(default_factory=dict)

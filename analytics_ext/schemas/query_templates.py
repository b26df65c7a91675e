"""Query template bodies: create, patch, list, render (preview) and instantiate.

A template's ``body`` is sandboxed Jinja2 SQL (``engine.templating``); its ``parameters`` are
the typed definitions of ``schemas.parameters``. Names and descriptions are plain text, stored
and returned exactly as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..engine.templating import MAX_TEMPLATE_CHARS
from .base import QueryModel, RequestModel, ResponseModel
from .parameters import ParameterInput, ParameterList

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
Body = Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r'^[^"\\\x00-\x1f\x7f]+$')]
"""A short label; no quotes, backslashes or control characters (tags are matched exactly)."""
Tags = Annotated[list[Tag], Field(max_length=20)]
Values = Annotated[dict[str, ParameterInput], Field(max_length=100)]
"""Values for a template's parameters, as a run of a saved query takes them."""


def dedupe(tags: list[str]) -> list[str]:
    """Each tag once, in the order first given."""
    return list(dict.fromkeys(tags))


class QueryTemplateCreate(RequestModel):
    """``POST /api/query/templates``."""

    name: Name
    description: Description = ""
    body: Body
    parameters: ParameterList = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)


class QueryTemplatePatch(RequestModel):
    """``PATCH /api/query/templates/{id}``: only the fields sent change (needs ``edit``)."""

    name: Name | None = None
    description: Description | None = None
    body: Body | None = None
    parameters: ParameterList | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> QueryTemplatePatch:
        for name in sorted(self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null; leave it out to keep it")
        return self


class QueryTemplateListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    q: str | None = Field(None, max_length=200)
    """Only templates whose name contains this text (any case)."""
    tag: str | None = Field(None, max_length=50)
    """Only templates carrying exactly this tag."""


class QueryTemplateOut(ResponseModel):
    id: str
    name: str
    description: str
    body: str
    parameters: list[dict[str, Any]]
    tags: list[str]
    owner_id: str | None
    owner_name: str | None
    permission: Literal["view", "edit", "manage"]
    """The caller's level on this template."""
    created_at: datetime
    updated_at: datetime


class QueryTemplatePage(ResponseModel):
    items: list[QueryTemplateOut]
    next: str | None
    total: int


class TemplateRender(RequestModel):
    """``POST /api/query/templates/{id}/render``: values deciding the ``{% if %}`` branches."""

    parameters: Values = Field(default_factory=dict)


class RenderedTemplate(ResponseModel):
    """The SQL a template renders to, with ``:name`` placeholders, and what would be bound."""

    sql: str
    bindings: dict[str, Any]
    """Each placeholder in ``sql`` and the value the driver would bind for it (dates as ISO
    text); values are never part of ``sql`` itself."""


class TemplateInstantiate(RequestModel):
    """``POST /api/query/templates/{id}/instantiate``: a new saved query from the template.

    ``parameters`` decide the ``{% if %}`` branches and become the defaults of the saved
    query's parameters; the caller needs ``view`` on the template and ``use`` on the
    datasource."""

    name: Name
    datasource_id: Id
    parameters: Values = Field(default_factory=dict)
    description: Description | None = None
    """Default: the template's description."""
    tags: Tags | None = None
    """Default: the template's tags."""

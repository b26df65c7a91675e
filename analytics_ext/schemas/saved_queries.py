"""Saved query bodies: create, patch, list, run, and the version history.

Names and descriptions are plain text: markup is stored and returned exactly as sent, and the
clients render it as text. Parameters are the typed definitions of ``schemas.parameters``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .base import QueryModel, RequestModel, ResponseModel
from .parameters import ParameterInput, ParameterList

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
Sql = Annotated[str, Field(min_length=1, max_length=1_000_000)]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r'^[^"\\\x00-\x1f\x7f]+$')]
"""A short label; no quotes, backslashes or control characters (tags are matched exactly)."""
Tags = Annotated[list[Tag], Field(max_length=20)]
MAX_PARAMETER_VALUES = 100


def dedupe(tags: list[str]) -> list[str]:
    """Each tag once, in the order first given."""
    return list(dict.fromkeys(tags))


class SavedQueryCreate(RequestModel):
    """``POST /api/query``: the caller must hold ``use`` on the datasource."""

    name: Name
    description: Description = ""
    datasource_id: Id
    sql: Sql
    parameters: ParameterList = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)


class SavedQueryPatch(RequestModel):
    """``PATCH /api/query/{id}``: only the fields sent change.

    ``base_version`` is the version the client edited; if the query has moved on since, the
    patch is refused (409) instead of silently overwriting someone else's save."""

    name: Name | None = None
    description: Description | None = None
    datasource_id: Id | None = None
    sql: Sql | None = None
    parameters: ParameterList | None = None
    tags: Tags | None = None
    base_version: int | None = Field(None, ge=1, le=2_000_000_000)

    @model_validator(mode="after")
    def _no_nulls(self) -> SavedQueryPatch:
        for name in sorted(self.model_fields_set - {"base_version"}):
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null; leave it out to keep it")
        return self


class SavedQueryListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    q: str | None = Field(None, max_length=200)
    """Only queries whose name contains this text (any case)."""
    tag: str | None = Field(None, max_length=50)
    """Only queries carrying exactly this tag."""
    datasource_id: Id | None = None


class DeleteQuery(QueryModel):
    cascade: bool = False
    """Also delete the charts built on the query (refused with 409 without it)."""


class SavedQueryOut(ResponseModel):
    id: str
    name: str
    description: str
    datasource_id: str | None
    """Null once the datasource has been deleted: choose another with PATCH."""
    sql: str
    parameters: list[dict[str, Any]]
    tags: list[str]
    owner_id: str | None
    owner_name: str | None
    version: int
    permission: Literal["view", "edit", "manage"]
    """The caller's level on this query."""
    created_at: datetime
    updated_at: datetime


class SavedQueryPage(ResponseModel):
    items: list[SavedQueryOut]
    next: str | None
    total: int


class SavedQueryRunCreate(RequestModel):
    """``POST /api/query/{id}/run``: values for the query's parameters (defaults fill gaps).

    ``sql`` runs an edited statement instead of the saved one: that needs ``edit`` on the query
    and ``use`` on its datasource."""

    parameters: dict[str, ParameterInput] = Field(
        default_factory=dict, max_length=MAX_PARAMETER_VALUES
    )
    row_limit: int | None = Field(None, ge=1, le=100_000_000)
    bypass_cache: bool = False
    sql: Sql | None = None


# -- versions ------------------------------------------------------------------------------------


class VersionListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=32)


class DiffQuery(QueryModel):
    against: int | None = Field(None, ge=1, le=2_000_000_000)
    """The version to compare with (default: the one before)."""


class VersionSummary(ResponseModel):
    version: int
    name: str
    author_id: str | None
    author_name: str | None
    restored_from: int | None
    changed: list[str]
    """Fields that differ from the version before (every field for version 1)."""
    created_at: datetime


class VersionPage(ResponseModel):
    items: list[VersionSummary]
    next: str | None


class VersionOut(ResponseModel):
    query_id: str
    version: int
    name: str
    description: str
    datasource_id: str | None
    sql: str
    parameters: list[dict[str, Any]]
    tags: list[str]
    author_id: str | None
    author_name: str | None
    restored_from: int | None
    created_at: datetime


class FieldChange(ResponseModel):
    field: str
    before: Any
    after: Any
    unified_diff: str | None = None
    """For ``sql`` and ``description``: a unified diff of the text (difflib)."""


class VersionDiff(ResponseModel):
    query_id: str
    version: int
    against: int | None
    """Null when ``version`` is 1 and nothing was asked: the diff is against an empty query."""
    changes: list[FieldChange]

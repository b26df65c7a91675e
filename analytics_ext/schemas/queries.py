"""Query bodies: a run request, a run's state, result pages and history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from .base import QueryModel, RequestModel, ResponseModel

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
ParameterName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
ParameterValue = StrictStr | StrictBool | StrictInt | StrictFloat | None
"""JSON scalars only: a list or object is refused (422) rather than spliced or stringified."""


class QueryRunCreate(RequestModel):
    """Run one statement on a datasource the caller may ``use``."""

    datasource_id: Id
    sql: str = Field(min_length=1, max_length=1_000_000)
    parameters: dict[ParameterName, ParameterValue] = Field(default_factory=dict, max_length=1000)
    """Values for ``:name`` placeholders, bound by the driver."""
    row_limit: int | None = Field(None, ge=1, le=100_000_000)
    """At most this many rows (never more than the datasource's own limit)."""
    bypass_cache: bool = False
    """Run in the database even if a cached result exists (and refresh the cache)."""


class ColumnOut(ResponseModel):
    name: str
    type: str


class QueryRunOut(ResponseModel):
    id: str
    datasource_id: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    rows: int
    elapsed_seconds: float
    cached: bool
    truncated: bool
    error: str | None = None
    columns: list[ColumnOut] | None = None


class ResultQuery(QueryModel):
    offset: int = Field(0, ge=0, le=1_000_000_000)
    limit: int = Field(1000, ge=1, le=100_000)
    format: Literal["json", "arrow"] = "json"
    sort: str | None = Field(None, min_length=1, max_length=1000)
    """A column name: the whole result is ordered by it (stable, nulls last), then paged."""
    order: Literal["asc", "desc"] = "asc"

    @property
    def ordering(self) -> tuple[str, bool] | None:
        """``(column, descending)`` when a sort was asked for."""
        return None if self.sort is None else (self.sort, self.order == "desc")


class ResultPage(ResponseModel):
    run_id: str
    offset: int
    limit: int
    total_rows: int
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class HistoryQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    datasource_id: Id | None = None


class HistoryItem(ResponseModel):
    id: str
    datasource_id: str | None
    sql: str
    state: str
    rows: int | None
    elapsed_seconds: float | None
    cached: bool
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class HistoryPage(ResponseModel):
    items: list[HistoryItem]
    next_cursor: str | None

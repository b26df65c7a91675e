"""``POST /api/query/export``: a saved query (run now, with parameter values) or a finished run,
as a file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import RequestModel
from .parameters import ParameterInput

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
ExportFormat = Literal["csv", "xlsx", "parquet", "json"]


class QueryExportCreate(RequestModel):
    """Exactly one of ``query_id`` (the saved query runs now, needing ``view`` on it) and
    ``run_id`` (a finished run of the caller's own). ``parameters``, ``row_limit`` and
    ``bypass_cache`` apply to a saved query only."""

    query_id: Id | None = None
    run_id: Id | None = None
    format: ExportFormat = "csv"
    parameters: dict[str, ParameterInput] = Field(default_factory=dict, max_length=100)
    row_limit: int | None = Field(None, ge=1, le=100_000_000)
    """At most this many rows (default: as many as the datasource allows)."""
    bypass_cache: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> QueryExportCreate:
        if (self.query_id is None) == (self.run_id is None):
            raise ValueError("give exactly one of query_id and run_id")
        if self.run_id is not None:
            given = {"parameters", "row_limit", "bypass_cache"} & self.model_fields_set
            if given:
                raise ValueError(
                    f"{sorted(given)[0]} applies to a saved query (query_id), not to a run"
                )
        return self

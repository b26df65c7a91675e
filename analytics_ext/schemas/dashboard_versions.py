"""Bodies of ``/api/dashboards/{id}/versions``: the append-only history of a dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import QueryModel, ResponseModel


class DashboardVersionListQuery(QueryModel):
    """``GET /api/dashboards/{id}/versions?limit=&cursor=`` (newest first)."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=32)


class DashboardVersionSummary(ResponseModel):
    version: int
    title: str
    author_id: str | None
    author_name: str | None
    restored_from: int | None
    changed: list[str]
    """Fields that differ from the version before (every field for version 1)."""
    created_at: datetime


class DashboardVersionPage(ResponseModel):
    items: list[DashboardVersionSummary]
    next: str | None


class DashboardVersionOut(ResponseModel):
    """One saved state of a dashboard, whole (tiles and layout as they were saved)."""

    dashboard_id: str
    version: int
    title: str
    description: str
    tiles: list[dict[str, Any]]
    layout: list[dict[str, Any]]
    refresh_seconds: int | None
    tags: list[str]
    author_id: str | None
    author_name: str | None
    restored_from: int | None
    created_at: datetime

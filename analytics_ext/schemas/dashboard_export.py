"""The query string of ``GET /api/dashboards/{id}/export``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import QueryModel


class DashboardExportQuery(QueryModel):
    """``?format=html|pdf`` (default html). ``share_token`` is how a share link's bearer
    downloads with a plain link (the identity provider reads it; it is accepted here so a
    download URL carrying it is not refused as an unknown parameter)."""

    format: Literal["html", "pdf"] = "html"
    share_token: str | None = Field(None, max_length=200)

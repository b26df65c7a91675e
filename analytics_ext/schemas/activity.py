"""Activity feed bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from .base import IsoDateTime, QueryModel, ResponseModel


class ActivityQuery(QueryModel):
    """``GET /api/user/activity``, newest first. ``type`` repeats; ``auth.*`` is a family."""

    repeatable: ClassVar[frozenset[str]] = frozenset({"type"})

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    type: list[str] = Field(default_factory=list, max_length=20)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    user_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{22}$")
    """Another user's feed: administrators only."""


class ActivityEventOut(ResponseModel):
    id: str
    user_id: str | None
    actor_id: str | None
    type: str
    target_type: str | None
    target_id: str | None
    ip_address: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime


class ActivityPage(ResponseModel):
    items: list[ActivityEventOut]
    next: str | None
    """Cursor of the next page; null on the last one."""
    total: int
    """Events matching the filters, across all pages."""

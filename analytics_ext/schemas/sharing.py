"""Grant bodies of the sharing routes (``/api/<area>/share``), the same shape in every area."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import QueryModel, RequestModel, ResponseModel

ObjectId = Field(pattern=r"^[A-Za-z0-9_-]{22}$")


class GrantCreate(RequestModel):
    """``POST /api/<area>/share``: give a principal a level on one object.

    ``principal_type`` is ``user`` for now (teams and share links come later); ``level`` is one
    of the area's levels (datasources: ``view`` < ``use`` < ``manage``)."""

    object_id: str = ObjectId
    principal_type: Literal["user"] = "user"
    principal_id: str = ObjectId
    level: str = Field(min_length=1, max_length=16)


class GrantsQuery(QueryModel):
    """``GET /api/<area>/share?object_id=``."""

    object_id: str = ObjectId


class GrantOut(ResponseModel):
    id: str
    object_type: str
    object_id: str
    principal_type: str
    principal_id: str
    principal_name: str | None
    """The user's username (null if the account is gone)."""
    level: str
    granted_by: str | None
    created_at: datetime

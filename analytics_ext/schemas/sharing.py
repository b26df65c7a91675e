"""Grant bodies of the sharing routes (``/api/<area>/share``), the same shape in every area."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from .base import QueryModel, RequestModel, ResponseModel

ObjectId = Field(pattern=r"^[A-Za-z0-9_-]{22}$")
ObjectType = Field(None, pattern=r"^[a-z_]{1,32}$")


class GrantCreate(RequestModel):
    """``POST /api/<area>/share``: give a principal a level on one object.

    ``principal_type`` ``user`` names an account in ``principal_id``; ``link`` makes a share
    link instead (no ``principal_id``): a secret token, shown once, that lets whoever holds it
    view that one object until ``expires_at`` (default: 7 days) or until the grant is revoked.
    ``level`` is one of the area's levels (datasources: ``view`` < ``use`` < ``manage``; queries
    and charts: ``view`` < ``edit`` < ``manage``; links: ``view`` only). ``object_type`` picks
    the kind in areas that hold two (``query`` or ``query_template``; ``chart`` or
    ``chart_template``); it defaults to the area's main kind.
    """

    object_id: str = ObjectId
    object_type: str | None = ObjectType
    principal_type: Literal["user", "link"] = "user"
    principal_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{22}$")
    level: str = Field("view", min_length=1, max_length=16)
    expires_at: AwareDatetime | None = None
    """Links only: when the link stops working."""

    @model_validator(mode="after")
    def _principal_fits_its_type(self) -> GrantCreate:
        if self.principal_type == "user" and self.principal_id is None:
            raise ValueError("principal_id: a user grant names the user")
        if self.principal_type == "link" and self.principal_id is not None:
            raise ValueError("principal_id: a share link has no principal; leave it out")
        if self.principal_type == "user" and self.expires_at is not None:
            raise ValueError("expires_at: only share links expire")
        return self


class GrantsQuery(QueryModel):
    """``GET /api/<area>/share?object_id=&object_type=``."""

    object_id: str = ObjectId
    object_type: str | None = ObjectType


class GrantOut(ResponseModel):
    id: str
    object_type: str
    object_id: str
    principal_type: str
    principal_id: str
    """The user's id; for a link, the token's public lookup part (not the secret)."""
    principal_name: str | None
    """The user's username (null if the account is gone, or for a link)."""
    level: str
    granted_by: str | None
    created_at: datetime
    expires_at: datetime | None = None
    token: str | None = None
    """A new share link's secret token: returned once, when the link is created."""
    url: str | None = None
    """A new share link's address (the object's REST URL carrying ``share_token``)."""

"""API key bodies: what a client sends to create a key, and what it is shown afterwards.

The secret appears in exactly one body, ``CreatedApiKey``, the answer to the create request;
every other view identifies a key by its ``prefix`` (kind and lookup, not secret), as a list of
keys and secret scanners need.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .base import RequestModel, ResponseModel

NAME_MAX_LENGTH = 128


class ApiKeyScope(StrEnum):
    """What a key may do. Each scope includes the ones below it: admin > write > read."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class ApiKeyCreate(RequestModel):
    """``POST /api/auth/api-keys``; the service applies the rules (name, expiry, admin scope)."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    scopes: list[ApiKeyScope] = Field(min_length=1, max_length=len(ApiKeyScope))
    expires_at: datetime | None = None


class ApiKeyOut(ResponseModel):
    """A key as its owner's list shows it: never the secret, never its hash."""

    id: str
    name: str
    prefix: str
    """``aek_<lookup>``: recognisable in a list and in a leaked-secret report, useless alone."""
    scopes: list[ApiKeyScope]
    created_at: datetime
    last_used_at: datetime | None
    """Updated at most once a minute, so it is accurate to about a minute."""
    expires_at: datetime | None


class CreatedApiKey(ApiKeyOut):
    """The answer to creating a key: the only time the secret ``token`` is ever shown."""

    token: str = Field(repr=False)

"""User bodies."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from .base import RequestModel, ResponseModel

# Control characters break logs and layouts; bidi overrides let a name display as another.
_FORBIDDEN = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_SHOWABLE = re.compile(f"[^{_FORBIDDEN}]*[^\\s{_FORBIDDEN}][^{_FORBIDDEN}]*")


def _showable(value: str) -> str:
    if not _SHOWABLE.fullmatch(value):
        raise ValueError("must not contain control or bidi-override characters")
    return value


DisplayName = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_showable)]


class UserOut(ResponseModel):
    id: str
    username: str
    display_name: str
    email: str | None
    is_admin: bool
    is_owner: bool
    created_at: datetime
    updated_at: datetime


class UserView(UserOut):
    """A user as the REST API shows it: with the URL of their avatar on this server."""

    avatar_url: str


class UserProfileUpdate(RequestModel):
    """Fields a user may change on their own profile (the Users issue adds email, timezone...)."""

    display_name: DisplayName | None = None

    @field_validator("display_name", mode="before")
    @classmethod
    def _present_means_set(cls, value: object) -> object:
        # Omitting a field leaves it unchanged; null would silently do the same, so refuse it.
        if value is None:
            raise ValueError("must not be null (omit the field to leave it unchanged)")
        return value

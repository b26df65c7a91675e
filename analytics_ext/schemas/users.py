"""User bodies."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from .base import QueryModel, RequestModel, ResponseModel

# Control characters break logs and layouts; bidi overrides let a name display as another.
_FORBIDDEN = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_SHOWABLE = re.compile(f"[^{_FORBIDDEN}]*[^\\s{_FORBIDDEN}][^{_FORBIDDEN}]*")


def _showable(value: str) -> str:
    if not _SHOWABLE.fullmatch(value):
        raise ValueError("must not contain control or bidi-override characters")
    return value


DisplayName = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_showable)]


def _known_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone name such as 'Europe/Paris' or 'UTC'")
    return value


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_time_zone)]
Locale = Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
"""A BCP 47 language tag such as ``en-US`` or ``pt-BR``."""


class UserOut(ResponseModel):
    id: str
    username: str
    display_name: str
    email: str | None
    timezone: str
    locale: str
    is_admin: bool
    is_owner: bool
    created_at: datetime
    updated_at: datetime


class UserView(UserOut):
    """A user as the REST API shows it: with the URL of their avatar on this server."""

    avatar_url: str


RawPassword = Annotated[str, StringConstraints(strip_whitespace=False, max_length=4096)]
"""A password exactly as typed: never stripped (spaces are part of it), never truncated."""

EmailAddress = Annotated[str, Field(min_length=3, max_length=254)]
"""Checked and canonicalised (NFKC + casefold) by the service, which names the field if bad."""


class UserProfileUpdate(RequestModel):
    """Fields a user may change on their own profile.

    Changing ``email`` needs ``current_password`` (for accounts that have one) and makes the new
    address unverified until the link mailed to it is opened.
    """

    display_name: DisplayName | None = None
    timezone: TimeZone | None = None
    locale: Locale | None = None
    email: EmailAddress | None = None
    current_password: RawPassword | None = Field(default=None, repr=False)

    @field_validator("display_name", "timezone", "locale", "email", mode="before")
    @classmethod
    def _present_means_set(cls, value: object) -> object:
        # Omitting a field leaves it unchanged; null would silently do the same, so refuse it.
        if value is None:
            raise ValueError("must not be null (omit the field to leave it unchanged)")
        return value


USER_QUERY_MIN = 2
"""The shortest prefix ``GET /api/users`` answers: usernames are at least 2 characters, and an
empty or one-letter search would come close to listing every account."""
USER_QUERY_LIMIT = 25
"""The most accounts one search returns: enough to pick from, too few to page through people."""


class UserSearchQuery(QueryModel):
    """``GET /api/users?query=&limit=``: accounts to share with, found by a name's beginning."""

    query: str = Field(max_length=128)
    """The beginning of a username or display name (case-insensitive; ``%`` and ``_`` are
    matched as themselves)."""
    limit: int = Field(10, ge=1, le=USER_QUERY_LIMIT)

    @field_validator("query")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if len(value) < USER_QUERY_MIN:
            raise ValueError(
                f"type at least {USER_QUERY_MIN} characters of a username or display name"
            )
        return value


class UserMatch(ResponseModel):
    """An account as another user may see it when sharing: how to name it, nothing more (no
    email address, no roles)."""

    id: str
    username: str
    display_name: str

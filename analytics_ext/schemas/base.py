"""Base classes for request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict


class RequestModel(BaseModel):
    """A request body: unknown fields and wrong JSON types are refused, never coerced or dropped.

    Validated from the raw JSON in strict mode, so ``"5"`` is not a number and ``5`` is not a
    string, while ISO 8601 strings still become datetimes.
    """

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


def _iso_8601(value: object) -> object:
    # Lax pydantic would read "0.5" as a Unix timestamp; the API speaks ISO 8601 only.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 timestamp with a time zone") from None
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]
"""A timestamp given as ISO 8601 text with a time zone (query parameters)."""


class QueryModel(BaseModel):
    """Query-string parameters: unknown names are refused; values arrive as text, so numbers and
    timestamps are parsed from it (lax mode). Fields named in ``repeatable`` take every value of
    a repeated parameter (``?type=a&type=b``); others take the last."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    repeatable: ClassVar[frozenset[str]] = frozenset()


class ResponseModel(BaseModel):
    """A response body, built from ORM rows with ``model_validate``."""

    model_config = ConfigDict(from_attributes=True)

"""Base classes for request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body: unknown fields and wrong JSON types are refused, never coerced or dropped.

    Validated from the raw JSON in strict mode, so ``"5"`` is not a number and ``5`` is not a
    string, while ISO 8601 strings still become datetimes.
    """

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """A response body, built from ORM rows with ``model_validate``."""

    model_config = ConfigDict(from_attributes=True)

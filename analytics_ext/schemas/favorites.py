"""Favorite bodies: ``/api/query/favorites`` holds the caller's favorite queries and charts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from .base import QueryModel, RequestModel, ResponseModel

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
ObjectType = Literal["query", "chart"]
Position = Annotated[int, Field(ge=0, le=1_000_000)]


class FavoriteCreate(RequestModel):
    """Favorite an object the caller can view; favoriting it again changes nothing (or moves it,
    when ``position`` is given). Without ``position`` it goes to the end of the list."""

    object_type: ObjectType
    object_id: Id
    position: Position | None = None


class FavoritePatch(RequestModel):
    """Move a favorite to ``position`` (0 is the top); the others shift to make room."""

    position: Position


class FavoriteListQuery(QueryModel):
    limit: int = Field(100, ge=1, le=500)
    cursor: str | None = Field(None, max_length=128)


class FavoriteObjectQuery(QueryModel):
    """``DELETE /api/query/favorites?object_type=&object_id=``: unfavorite by object."""

    object_type: ObjectType
    object_id: Id


class FavoriteOut(ResponseModel):
    id: str
    object_type: ObjectType
    object_id: str
    name: str
    """The object's name now (plain text, as stored)."""
    position: int
    """The favorite's place among all of the caller's favorites: gaps in a listing are favorites
    of objects the caller can no longer see (they come back if access returns)."""
    created_at: datetime


class FavoritePage(ResponseModel):
    items: list[FavoriteOut]
    next: str | None

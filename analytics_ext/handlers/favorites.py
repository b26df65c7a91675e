"""``/api/query/favorites``: the caller's own ordered favorites (saved queries and charts).

A favorite is removed by its id (``DELETE /api/query/favorites/{id}``) or, for a star button
that knows only the object, by the object (``DELETE /api/query/favorites?object_type=&
object_id=``); it is moved with ``PATCH /api/query/favorites/{id} {"position": n}``.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.favorites import (
    FavoriteCreate,
    FavoriteListQuery,
    FavoriteObjectQuery,
    FavoritePatch,
)
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"


class FavoritesHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(FavoriteListQuery)
        self.write_json(await self.run(self.services.favorites.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(FavoriteCreate)
        favorite, created = await self.run(
            self.services.favorites.add, self.user_id, body, self.origin
        )
        self.write_json(favorite, status=201 if created else 200)

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        query = self.parse_query(FavoriteObjectQuery)
        await self.run(
            self.services.favorites.remove_object,
            self.user_id,
            query.object_type,
            query.object_id,
            self.origin,
        )
        self.set_status(204)
        self.finish()


class FavoriteHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def patch(self, favorite_id: str) -> None:
        body = self.parse(FavoritePatch)
        moved = await self.run(
            self.services.favorites.move, self.user_id, favorite_id, body.position
        )
        self.write_json(moved)

    @web.authenticated
    @authorized
    async def delete(self, favorite_id: str) -> None:
        await self.run(self.services.favorites.remove, self.user_id, favorite_id, self.origin)
        self.set_status(204)
        self.finish()


ROUTES = [
    (r"/api/query/favorites", FavoritesHandler),
    (rf"/api/query/favorites/(?P<favorite_id>{ID})", FavoriteHandler),
]

"""Saved queries: CRUD, version history (list, show, diff, restore) and runs.

The item routes accept share links: a link opens its one query read-only (and runs its saved
statement); everything else it asks for is answered 404 by the sharing policy.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.saved_queries import (
    DeleteQuery,
    DiffQuery,
    SavedQueryCreate,
    SavedQueryListQuery,
    SavedQueryPatch,
    SavedQueryRunCreate,
    VersionListQuery,
)
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
VERSION = r"[1-9][0-9]{0,8}"


class SavedQueriesHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(SavedQueryListQuery)
        self.write_json(await self.run(self.services.saved_queries.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(SavedQueryCreate)
        created = await self.run(
            self.services.saved_queries.create, self.user_id, body, self.origin
        )
        self.write_json(created, status=201)


class SavedQueryHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, query_id: str) -> None:
        found = await self.run(self.services.saved_queries.get, self.user_id, query_id)
        self.write_json(found)

    @web.authenticated
    @authorized
    async def patch(self, query_id: str) -> None:
        body = self.parse(SavedQueryPatch)
        updated = await self.run(
            self.services.saved_queries.update, self.user_id, query_id, body, self.origin
        )
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, query_id: str) -> None:
        query = self.parse_query(DeleteQuery)
        await self.run(
            self.services.saved_queries.delete, self.user_id, query_id, query.cascade, self.origin
        )
        self.set_status(204)
        self.finish()


class SavedQueryRunHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def post(self, query_id: str) -> None:
        body = self.parse(SavedQueryRunCreate)
        run = await self.run(self.services.saved_queries.run, self.user_id, query_id, body)
        self.write_json(run, status=202)


class VersionsHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, query_id: str) -> None:
        query = self.parse_query(VersionListQuery)
        versions = self.services.saved_query_versions
        self.write_json(await self.run(versions.list, self.user_id, query_id, query))


class VersionHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, query_id: str, version: str) -> None:
        versions = self.services.saved_query_versions
        self.write_json(await self.run(versions.get, self.user_id, query_id, int(version)))


class VersionDiffHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, query_id: str, version: str) -> None:
        query = self.parse_query(DiffQuery)
        versions = self.services.saved_query_versions
        diff = await self.run(versions.diff, self.user_id, query_id, int(version), query.against)
        self.write_json(diff)


class VersionRestoreHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def post(self, query_id: str, version: str) -> None:
        restored = await self.run(
            self.services.saved_queries.restore, self.user_id, query_id, int(version), self.origin
        )
        self.write_json(restored)


_ITEM = rf"/api/query/(?P<query_id>{ID})"
_VERSION = rf"{_ITEM}/versions/(?P<version>{VERSION})"

ROUTES = [
    (r"/api/query", SavedQueriesHandler),
    (_ITEM, SavedQueryHandler),
    (rf"{_ITEM}/run", SavedQueryRunHandler),
    (rf"{_ITEM}/versions", VersionsHandler),
    (_VERSION, VersionHandler),
    (rf"{_VERSION}/diff", VersionDiffHandler),
    (rf"{_VERSION}/restore", VersionRestoreHandler),
]

"""Datasources: definitions, connection tests, schema, preview, and sharing (DESIGN.md §9)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.datasources import (
    ConnectionTest,
    DatasourceCreate,
    DatasourceListQuery,
    DatasourcePatch,
    PreviewQuery,
    SchemaQuery,
    TableColumnsQuery,
)
from ..services.datasources import DATASOURCE
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler
from .sharing import share_routes

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"


class DatasourcesHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(DatasourceListQuery)
        self.write_json(await self.run(self.services.datasources.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(DatasourceCreate)
        created = await self.run(self.services.datasources.create, self.user_id, body, self.origin)
        self.write_json(created, status=201)


class DatasourceHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def get(self, datasource_id: str) -> None:
        found = await self.run(self.services.datasources.get, self.user_id, datasource_id)
        self.write_json(found)

    @web.authenticated
    @authorized
    async def patch(self, datasource_id: str) -> None:
        body = self.parse(DatasourcePatch)
        updated = await self.run(
            self.services.datasources.update, self.user_id, datasource_id, body, self.origin
        )
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, datasource_id: str) -> None:
        await self.run(self.services.datasources.delete, self.user_id, datasource_id, self.origin)
        self.set_status(204)
        self.finish()


class ConnectionTestHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ConnectionTest)
        result = await self.run(self.services.datasources.test_connection, self.user_id, body)
        self.write_json(result)


class SchemaHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(SchemaQuery)
        self.write_json(await self.run(self.services.datasources.schema, self.user_id, query))


class TableColumnsHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(TableColumnsQuery)
        page = await self.run(self.services.datasources.table_columns, self.user_id, query)
        self.write_json(page)


class PreviewHandler(AnalyticsHandler):
    auth_resource = res.DATASOURCES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(PreviewQuery)
        self.write_json(await self.run(self.services.datasources.preview, self.user_id, query))


ROUTES = [
    (r"/api/datasources", DatasourcesHandler),
    (r"/api/datasources/test-connection", ConnectionTestHandler),
    (r"/api/datasources/schema", SchemaHandler),
    (r"/api/datasources/schema/table", TableColumnsHandler),
    (r"/api/datasources/preview", PreviewHandler),
    *share_routes("datasources", res.DATASOURCES, (DATASOURCE,)),
    (rf"/api/datasources/(?P<datasource_id>{ID})", DatasourceHandler),
]

"""Query templates: list, create, read, change, delete, render (preview) and instantiate."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.query_templates import (
    QueryTemplateCreate,
    QueryTemplateListQuery,
    QueryTemplatePatch,
    TemplateInstantiate,
    TemplateRender,
)
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"


class QueryTemplatesHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(QueryTemplateListQuery)
        self.write_json(await self.run(self.services.query_templates.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(QueryTemplateCreate)
        templates = self.services.query_templates
        self.write_json(await self.run(templates.create, self.user_id, body, self.origin), 201)


class QueryTemplateHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True
    """A share link of a template opens it here (read only: the sharing service refuses the
    link anything above ``view``)."""

    @web.authenticated
    @authorized
    async def get(self, template_id: str) -> None:
        templates = self.services.query_templates
        self.write_json(await self.run(templates.get, self.user_id, template_id))

    @web.authenticated
    @authorized
    async def patch(self, template_id: str) -> None:
        body = self.parse(QueryTemplatePatch)
        templates = self.services.query_templates
        updated = await self.run(templates.update, self.user_id, template_id, body, self.origin)
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, template_id: str) -> None:
        templates = self.services.query_templates
        await self.run(templates.delete, self.user_id, template_id, self.origin)
        self.set_status(204)
        self.finish()


class QueryTemplateRenderHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True
    """Rendering is reading: a link's holder may preview the template it opens."""

    @web.authenticated
    @authorized
    async def post(self, template_id: str) -> None:
        body = self.parse(TemplateRender)
        templates = self.services.query_templates
        self.write_json(await self.run(templates.render, self.user_id, template_id, body))


class QueryTemplateInstantiateHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def post(self, template_id: str) -> None:
        body = self.parse(TemplateInstantiate)
        templates = self.services.query_templates
        saved = await self.run(templates.instantiate, self.user_id, template_id, body, self.origin)
        self.write_json(saved, status=201)


ROUTES = [
    (r"/api/query/templates", QueryTemplatesHandler),
    (rf"/api/query/templates/(?P<template_id>{ID})", QueryTemplateHandler),
    (rf"/api/query/templates/(?P<template_id>{ID})/render", QueryTemplateRenderHandler),
    (rf"/api/query/templates/(?P<template_id>{ID})/instantiate", QueryTemplateInstantiateHandler),
]

"""Charts and chart templates: CRUD, the rows a chart draws, previews, applying a template."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.chart_objects import (
    ChartCreate,
    ChartDataQuery,
    ChartListQuery,
    ChartPatch,
    ChartPreview,
    ChartTemplateApply,
    ChartTemplateCreate,
    ChartTemplateListQuery,
    ChartTemplatePatch,
)
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class ChartsHandler(AnalyticsHandler):
    auth_resource = res.CHART

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ChartListQuery)
        self.write_json(await self.run(self.services.charts.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ChartCreate)
        created = await self.run(self.services.charts.create, self.user_id, body, self.origin)
        self.write_json(created, status=201)


class ChartHandler(AnalyticsHandler):
    auth_resource = res.CHART
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, chart_id: str) -> None:
        self.write_json(await self.run(self.services.charts.get, self.user_id, chart_id))

    @web.authenticated
    @authorized
    async def patch(self, chart_id: str) -> None:
        body = self.parse(ChartPatch)
        updated = await self.run(
            self.services.charts.update, self.user_id, chart_id, body, self.origin
        )
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, chart_id: str) -> None:
        await self.run(self.services.charts.delete, self.user_id, chart_id, self.origin)
        self.set_status(204)
        self.finish()


class ChartDataHandler(AnalyticsHandler):
    auth_resource = res.CHART
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, chart_id: str) -> None:
        query = self.parse_query(ChartDataQuery)
        data = self.services.chart_data
        if query.format == "json":
            self.write_json(await self.run(data.data_json, self.user_id, chart_id))
            return
        stream = await self.run(data.data_arrow, self.user_id, chart_id)
        self.set_header("Content-Type", ARROW_STREAM)
        self.write(stream)
        await self.flush()  # sends our Content-Type before APIHandler.finish would set JSON's
        self.finish()


class ChartPreviewHandler(AnalyticsHandler):
    auth_resource = res.CHART

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ChartPreview)
        preview = await self.run(
            self.services.chart_data.preview,
            self.user_id,
            body.query_id,
            body.parameters,
            body.spec,
        )
        self.write_json(preview)


class ChartTemplatesHandler(AnalyticsHandler):
    auth_resource = res.CHART

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ChartTemplateListQuery)
        self.write_json(await self.run(self.services.chart_templates.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ChartTemplateCreate)
        created = await self.run(
            self.services.chart_templates.create, self.user_id, body, self.origin
        )
        self.write_json(created, status=201)


class ChartTemplateHandler(AnalyticsHandler):
    auth_resource = res.CHART

    @web.authenticated
    @authorized
    async def get(self, template_id: str) -> None:
        templates = self.services.chart_templates
        self.write_json(await self.run(templates.get, self.user_id, template_id))

    @web.authenticated
    @authorized
    async def patch(self, template_id: str) -> None:
        body = self.parse(ChartTemplatePatch)
        updated = await self.run(
            self.services.chart_templates.update, self.user_id, template_id, body, self.origin
        )
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, template_id: str) -> None:
        templates = self.services.chart_templates
        await self.run(templates.delete, self.user_id, template_id, self.origin)
        self.set_status(204)
        self.finish()


class ChartTemplateApplyHandler(AnalyticsHandler):
    auth_resource = res.CHART

    @web.authenticated
    @authorized
    async def post(self, template_id: str) -> None:
        body = self.parse(ChartTemplateApply)
        chart = await self.run(
            self.services.chart_templates.apply, self.user_id, template_id, body, self.origin
        )
        self.write_json(chart, status=201)


ROUTES = [
    (r"/api/chart", ChartsHandler),
    (r"/api/chart/preview", ChartPreviewHandler),
    (r"/api/chart/templates", ChartTemplatesHandler),
    (rf"/api/chart/templates/(?P<template_id>{ID})", ChartTemplateHandler),
    (rf"/api/chart/templates/(?P<template_id>{ID})/apply", ChartTemplateApplyHandler),
    (rf"/api/chart/(?P<chart_id>{ID})", ChartHandler),
    (rf"/api/chart/(?P<chart_id>{ID})/data", ChartDataHandler),
]

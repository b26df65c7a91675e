"""Dashboards: CRUD, version history (list, show, restore) and publishing.

The item route accepts share links: a link opens its one dashboard read-only; everything else
it asks for (another dashboard, a change, the history, publishing) is answered 404 by the
sharing policy. Tile data, exports and the viewer pages live in their own modules.
"""

from __future__ import annotations

import re
from typing import TypeVar

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel
from tornado import web

from ..auth import resources as res
from ..schemas.dashboard_versions import DashboardVersionListQuery
from ..schemas.dashboards import DashboardCreate, DashboardListQuery, DashboardPatch
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler, error_response

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
VERSION = r"[1-9][0-9]{0,8}"
M = TypeVar("M", bound=BaseModel)
_RULE = re.compile(r"^([\w.]+): Value error, ([A-Za-z_][\w]*(?:\.\w+)*): (.+)$", re.DOTALL)


def _field_named(problem: str) -> str:
    """A board rule's message at the field it names: pydantic reports ``check_board``'s
    ``tiles.3.id: ...`` as ``body: Value error, tiles.3.id: ...`` (and a layout item's
    ``w: ...`` under ``layout.3``); the caller needs ``tiles.3.id: ...``."""
    match = _RULE.match(problem)
    if match is None:
        return problem
    where, inner, message = match.groups()
    return f"{inner if where == 'body' else f'{where}.{inner}'}: {message}"


def parse_board(handler: AnalyticsHandler, model: type[M]) -> M:
    """``handler.parse(model)``, with the board rules' 422s naming their fields."""
    try:
        return handler.parse(model)
    except web.HTTPError as error:
        message = getattr(error, "message", None)
        if error.status_code != 422 or not message:
            raise
        raise error_response(422, "; ".join(map(_field_named, message.split("; ")))) from None


class DashboardsHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(DashboardListQuery)
        self.write_json(await self.run(self.services.dashboards.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse_board(self, DashboardCreate)
        created = await self.run(self.services.dashboards.create, self.user_id, body, self.origin)
        self.write_json(created, status=201)


class DashboardHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, dashboard_id: str) -> None:
        found = await self.run(self.services.dashboards.get, self.user_id, dashboard_id)
        self.write_json(found)

    @web.authenticated
    @authorized
    async def patch(self, dashboard_id: str) -> None:
        body = parse_board(self, DashboardPatch)
        updated = await self.run(
            self.services.dashboards.update, self.user_id, dashboard_id, body, self.origin
        )
        self.write_json(updated)

    @web.authenticated
    @authorized
    async def delete(self, dashboard_id: str) -> None:
        await self.run(self.services.dashboards.delete, self.user_id, dashboard_id, self.origin)
        self.set_status(204)
        self.finish()


class DashboardVersionsHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, dashboard_id: str) -> None:
        query = self.parse_query(DashboardVersionListQuery)
        versions = self.services.dashboard_versions
        self.write_json(await self.run(versions.list, self.user_id, dashboard_id, query))


class DashboardVersionHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, dashboard_id: str, version: str) -> None:
        versions = self.services.dashboard_versions
        self.write_json(await self.run(versions.get, self.user_id, dashboard_id, int(version)))


class DashboardVersionRestoreHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def post(self, dashboard_id: str, version: str) -> None:
        restored = await self.run(
            self.services.dashboards.restore,
            self.user_id,
            dashboard_id,
            int(version),
            self.origin,
        )
        self.write_json(restored)


class DashboardPublishHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def post(self, dashboard_id: str) -> None:
        publish = self.services.dashboard_publish
        self.write_json(await self.run(publish.publish, self.user_id, dashboard_id, self.origin))

    @web.authenticated
    @authorized
    async def delete(self, dashboard_id: str) -> None:
        publish = self.services.dashboard_publish
        await self.run(publish.unpublish, self.user_id, dashboard_id, self.origin)
        self.set_status(204)
        self.finish()


_ITEM = rf"/api/dashboards/(?P<dashboard_id>{ID})"
_VERSION = rf"{_ITEM}/versions/(?P<version>{VERSION})"

ROUTES = [
    (r"/api/dashboards", DashboardsHandler),
    (_ITEM, DashboardHandler),
    (rf"{_ITEM}/versions", DashboardVersionsHandler),
    (_VERSION, DashboardVersionHandler),
    (rf"{_VERSION}/restore", DashboardVersionRestoreHandler),
    (rf"{_ITEM}/publish", DashboardPublishHandler),
]

"""The caller's activity feed (an administrator may read anyone's)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.activity import ActivityQuery
from .base import AnalyticsHandler


class ActivityHandler(AnalyticsHandler):
    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ActivityQuery)
        viewer = self.analytics_user
        page = await self.run(
            self.services.activity_feed.list, viewer.user_id, viewer.is_admin, query
        )
        self.write_json(page)


ROUTES = [(r"/api/user/activity", ActivityHandler)]

"""The caller's own account."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.users import UserProfileUpdate
from ..services.avatars import default_avatar_svg
from .base import AnalyticsHandler


class UserHandler(AnalyticsHandler):
    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = await self.run(self.services.users.get, self.user_id)
        self.write_json(user)

    @web.authenticated
    @authorized
    async def patch(self) -> None:
        changes = self.parse(UserProfileUpdate)
        user = await self.run(self.services.users.update_profile, self.user_id, changes)
        self.write_json(user)


class AvatarHandler(AnalyticsHandler):
    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = await self.run(self.services.users.get, self.user_id)
        self.set_header("Content-Type", "image/svg+xml")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=300")
        # Tornado adds the ETag and answers 304 to a matching If-None-Match.
        self.finish(default_avatar_svg(user.display_name, user.id))

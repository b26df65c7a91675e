"""The caller's own account."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..auth.identity import avatar_url
from ..schemas.users import UserOut, UserProfileUpdate, UserView
from ..services.avatars import default_avatar_svg
from .base import AnalyticsHandler


class UserHandler(AnalyticsHandler):
    auth_resource = res.USERS

    def view(self, user: UserOut) -> UserView:
        return UserView(**user.model_dump(), avatar_url=avatar_url(self.base_url))

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = await self.run(self.services.users.get, self.user_id)
        self.write_json(self.view(user))

    @web.authenticated
    @authorized
    async def patch(self) -> None:
        changes = self.parse(UserProfileUpdate)
        user = await self.run(self.services.users.update_profile, self.user_id, changes)
        self.write_json(self.view(user))


class AvatarHandler(AnalyticsHandler):
    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = await self.run(self.services.users.get, self.user_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=300")
        # Tornado adds the ETag and answers 304 to a matching If-None-Match.
        self.finish(
            default_avatar_svg(user.display_name, user.id), set_content_type="image/svg+xml"
        )

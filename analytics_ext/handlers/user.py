"""The caller's own account, and finding other accounts to share with."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..auth.identity import avatar_url
from ..schemas.users import UserOut, UserProfileUpdate, UserSearchQuery, UserView
from ..services.avatars import MAX_UPLOAD_BYTES
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
        user = await self.run(self.services.profile.update, self.user_id, changes, self.origin)
        self.write_json(self.view(user))


class AvatarHandler(AnalyticsHandler):
    """The caller's avatar: an uploaded picture (re-encoded by the server) or a generated one.

    Uploads are raw image bytes; their type is read from the bytes by the service, so the
    Content-Type a client sends (which can lie) decides nothing.
    """

    auth_resource = res.USERS
    # Images are larger than JSON bodies: this route's own limit, checked before any decoding.
    max_body_bytes = MAX_UPLOAD_BYTES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        image = await self.run(self.services.avatars.image, self.user_id)
        # Short and private: a new avatar shows within five minutes even at an unchanged URL.
        self.set_header("Cache-Control", "private, max-age=300")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("ETag", f'"{image.etag}"')
        # Tornado checks If-None-Match only against ETags it computes itself, so check ours.
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        self.finish(image.content, set_content_type=image.content_type)

    @web.authenticated
    @authorized
    async def put(self) -> None:
        body = self.request.body or b""
        await self.run(self.services.avatars.replace, self.user_id, body, self.origin)
        self.set_status(204)
        self.finish()

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        await self.run(self.services.avatars.remove, self.user_id, self.origin)
        self.set_status(204)
        self.finish()


class UserSearchHandler(AnalyticsHandler):
    """``GET /api/users?query=&limit=``: accounts whose name begins with ``query``, for the
    share dialog's "share with" field.

    Every account may ask (sharing is for everyone); a share link or kernel token may not
    (``accepts_share_links`` stays off: 404). The answer names people and nothing else.
    """

    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(UserSearchQuery)
        users = await self.run(self.services.users.search, self.user_id, query.query, query.limit)
        self.write_json({"items": [user.model_dump(mode="json") for user in users]})

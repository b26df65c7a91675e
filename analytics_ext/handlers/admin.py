"""Account administration (``/api/admin/users``): administrators only, rules in the service."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.admin import AdminPasswordSet, AdminUserCreate, AdminUserQuery, AdminUserUpdate
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler


class AdminUsersHandler(AnalyticsHandler):
    auth_resource = res.ADMIN

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(AdminUserQuery)
        self.write_json(await self.run(self.services.admin_users.list, self.user_id, query))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(AdminUserCreate)
        user = await self.run(self.services.admin_users.create, self.user_id, body, self.origin)
        self.write_json(user, status=201)


class AdminUserHandler(AnalyticsHandler):
    auth_resource = res.ADMIN

    @web.authenticated
    @authorized
    async def get(self, user_id: str) -> None:
        self.write_json(await self.run(self.services.admin_users.get, self.user_id, user_id))

    @web.authenticated
    @authorized
    async def patch(self, user_id: str) -> None:
        changes = self.parse(AdminUserUpdate)
        user = await self.run(
            self.services.admin_users.update, self.user_id, user_id, changes, self.origin
        )
        self.write_json(user)

    @web.authenticated
    @authorized
    async def delete(self, user_id: str) -> None:
        await self.run(self.services.admin_users.delete, self.user_id, user_id, self.origin)
        self.set_status(204)
        self.finish()


class AdminUserPasswordHandler(AnalyticsHandler):
    auth_resource = res.ADMIN

    @web.authenticated
    @authorized
    async def post(self, user_id: str) -> None:
        body = self.parse(AdminPasswordSet)
        await self.run(
            self.services.admin_users.set_password, self.user_id, user_id, body.password,
            self.origin,
        )  # fmt: skip
        self.set_status(204)
        self.finish()


_USER_ID = rf"(?P<user_id>[A-Za-z0-9_-]{{{ID_LENGTH}}})"

ROUTES = [
    (r"/api/admin/users", AdminUsersHandler),
    (rf"/api/admin/users/{_USER_ID}", AdminUserHandler),
    (rf"/api/admin/users/{_USER_ID}/password", AdminUserPasswordHandler),
]

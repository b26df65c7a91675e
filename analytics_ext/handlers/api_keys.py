"""API keys: credentials for scripts and notebooks outside this server."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.api_keys import ApiKeyCreate
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler


class ApiKeysHandler(AnalyticsHandler):
    auth_resource = res.API_KEYS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        keys = await self.run(self.services.api_keys.list, self.user_id)
        self.write_json({"items": [key.model_dump(mode="json") for key in keys]})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ApiKeyCreate)
        created = await self.run(
            self.services.api_keys.create,
            self.user_id, body.name, body.scopes, body.expires_at, self.origin,
        )  # fmt: skip
        self.write_json(created, status=201)


class ApiKeyHandler(AnalyticsHandler):
    auth_resource = res.API_KEYS

    @web.authenticated
    @authorized
    async def delete(self, key_id: str) -> None:
        await self.run(self.services.api_keys.revoke, self.user_id, key_id, self.origin)
        self.set_status(204)
        self.finish()


ROUTES = [
    (r"/api/auth/api-keys", ApiKeysHandler),
    (rf"/api/auth/api-keys/(?P<key_id>[A-Za-z0-9_-]{{{ID_LENGTH}}})", ApiKeyHandler),
]

"""The caller's settings document and its published JSON Schema."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.settings import UserSettings, UserSettingsPatch
from ..services.settings import settings_etag
from .base import AnalyticsHandler


class SettingsHandler(AnalyticsHandler):
    # Settings are part of the caller's own account.
    auth_resource = res.USERS

    @property
    def if_match(self) -> frozenset[str] | None:
        """The ETags the client says it last saw; ``None`` (last write wins) without a header.

        ``*`` matches any current document, and one always exists (defaults at least). Weak
        tags never match: ``If-Match`` uses strong comparison (RFC 9110 §13.1.1).
        """
        header = self.request.headers.get("If-Match")
        if header is None or header.strip() == "*":
            return None
        return frozenset(tag.strip() for tag in header.split(","))

    def write_settings(self, settings: UserSettings) -> None:
        self.set_header("ETag", settings_etag(settings))
        # Tornado checks If-None-Match only against ETags it computes itself, so check ours.
        if self.request.method == "GET" and self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        self.write_json(settings)

    @web.authenticated
    @authorized
    async def get(self) -> None:
        settings = await self.run(self.services.settings.get, self.user_id)
        self.write_settings(settings)

    @web.authenticated
    @authorized
    async def put(self) -> None:
        body = self.parse(UserSettings)
        settings = await self.run(
            self.services.settings.replace, self.user_id, body, if_match=self.if_match
        )
        self.write_settings(settings)

    @web.authenticated
    @authorized
    async def patch(self) -> None:
        changes = self.parse(UserSettingsPatch)
        settings = await self.run(
            self.services.settings.update, self.user_id, changes, if_match=self.if_match
        )
        self.write_settings(settings)


class SettingsSchemaHandler(AnalyticsHandler):
    auth_resource = res.USERS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(UserSettings.model_json_schema())


ROUTES = [
    (r"/api/user/settings", SettingsHandler),
    (r"/api/user/settings/schema", SettingsSchemaHandler),
]

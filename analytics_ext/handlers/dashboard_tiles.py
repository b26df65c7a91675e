"""A dashboard's tile data and its static export: what the dashboard's viewers read.

Both accept share links (and dashboard kernels' tokens, which are links too): the sharing
policy lets a link read exactly its one dashboard, so a link to another dashboard gets 404.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.dashboard_export import DashboardExportQuery
from ..schemas.dashboards import TileDataRequest
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
TILE_ID = r"[A-Za-z0-9_-]{1,40}"
HTML_EXPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
"""Should a browser show the HTML export inline after all, it loads nothing and runs nothing
(``sandbox``: a unique origin, no script, no forms, no popups)."""


class DashboardTileDataHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True
    """Viewing a dashboard reads its tiles: links and dashboard kernels' tokens included."""

    @web.authenticated
    @authorized
    async def post(self, dashboard_id: str, tile_id: str) -> None:
        body = self.parse(TileDataRequest)
        tiles = self.services.dashboard_tiles
        self.write_json(await self.run(tiles.data, self.user_id, dashboard_id, tile_id, body))


class DashboardExportHandler(AnalyticsHandler):
    auth_resource = res.DASHBOARDS
    accepts_share_links = True
    """Exporting is viewing: a link to a dashboard may download that dashboard (and only it)."""

    @web.authenticated
    @authorized
    async def get(self, dashboard_id: str) -> None:
        query = self.parse_query(DashboardExportQuery)
        export = self.services.dashboard_export
        exported = await self.run(export.export, self.user_id, dashboard_id, query.format)
        self.set_header("Content-Disposition", exported.content_disposition)
        self.set_header("X-Content-Type-Options", "nosniff")
        csp = HTML_EXPORT_CSP if query.format == "html" else "default-src 'none'; sandbox"
        self.set_header("Content-Security-Policy", csp)
        # APIHandler.finish sets the Content-Type (JSON unless told otherwise).
        self.finish(exported.content, set_content_type=exported.media_type)


_ITEM = rf"/api/dashboards/(?P<dashboard_id>{ID})"

ROUTES = [
    (rf"{_ITEM}/tiles/(?P<tile_id>{TILE_ID})/data", DashboardTileDataHandler),
    (rf"{_ITEM}/export", DashboardExportHandler),
]

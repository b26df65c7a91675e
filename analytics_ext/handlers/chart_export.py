"""``POST /api/chart/export``: a chart as a downloaded PNG, SVG, PDF, CSV or JSON file."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.chart_export import ChartExportCreate
from .base import AnalyticsHandler


class ChartExportHandler(AnalyticsHandler):
    auth_resource = res.CHART
    accepts_share_links = True
    """Exporting is viewing: a link to a chart may export that chart (and only it)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(ChartExportCreate)
        exported = await self.run(self.services.chart_export.export, self.user_id, body)
        self.set_header("Content-Disposition", exported.content_disposition)
        self.set_header("X-Content-Type-Options", "nosniff")
        # An SVG is markup: should a browser ever render this response, it runs nothing.
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.set_header("X-Export-Rows", str(exported.rows))
        self.set_header("X-Export-Truncated", "true" if exported.truncated else "false")
        # APIHandler.finish sets the Content-Type (JSON unless told otherwise).
        self.finish(exported.content, set_content_type=exported.media_type)


ROUTES = [
    (r"/api/chart/export", ChartExportHandler),
]

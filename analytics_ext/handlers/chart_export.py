"""``POST /api/chart/export``: a chart as a downloaded PNG, SVG, PDF, CSV or JSON file;
``GET /api/chart/{id}/thumbnail``: a saved chart as a small PNG for lists (cacheable)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.chart_export import ChartExportCreate, ChartThumbnailQuery
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
THUMBNAIL_MAX_AGE_SECONDS = 60
"""How long a browser may reuse a thumbnail without asking: short, since the chart's data can
change; after it, the ETag makes asking cheap (304, no render)."""


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


class ChartThumbnailHandler(AnalyticsHandler):
    auth_resource = res.CHART
    accepts_share_links = True
    """A thumbnail is a view: a link to a chart may load that chart's (and only its)."""

    @web.authenticated
    @authorized
    async def get(self, chart_id: str) -> None:
        size = self.parse_query(ChartThumbnailQuery)
        thumbnail = await self.run(
            self.services.chart_export.thumbnail,
            self.user_id,
            chart_id,
            size,
            self.request.headers.get("If-None-Match"),
        )
        # Per user (their settings colour the chart, their access decides it): never shared
        # caches; revalidated after a minute with the ETag.
        self.set_header("Cache-Control", f"private, max-age={THUMBNAIL_MAX_AGE_SECONDS}")
        self.set_header("ETag", thumbnail.etag)
        self.set_header("Vary", "Authorization, Cookie")
        if thumbnail.content is None:
            self.set_status(304)
            self.finish()
            return
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(thumbnail.content, set_content_type="image/png")


ROUTES = [
    (r"/api/chart/export", ChartExportHandler),
    (rf"/api/chart/(?P<chart_id>{ID})/thumbnail", ChartThumbnailHandler),
]

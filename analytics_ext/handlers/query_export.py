"""``POST /api/query/export``: a saved query or a finished run as a downloaded file."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.query_export import QueryExportCreate
from .base import AnalyticsHandler


class QueryExportHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True
    """Exporting is viewing: a link to a saved query may export that query (and only it)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(QueryExportCreate)
        stream = await self.run(self.services.query_export.open, self.user_id, body)
        try:
            # The first chunk is made before any header is sent, so a failure there is
            # still an ordinary error response; each chunk is made off the event loop.
            chunk = await self.run(next, stream.chunks, None)
            self.set_header("Content-Type", stream.media_type)
            self.set_header("Content-Disposition", stream.content_disposition)
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("X-Export-Rows", str(stream.rows))
            self.set_header("X-Export-Truncated", "true" if stream.truncated else "false")
            while chunk is not None:
                if chunk:
                    self.write(chunk)
                    await self.flush()
                chunk = await self.run(next, stream.chunks, None)
            self.finish()
        finally:
            await self.run(stream.close)


ROUTES = [
    (r"/api/query/export", QueryExportHandler),
]

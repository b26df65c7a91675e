"""Queries: run on a datasource, watch, cancel, read the result (JSON pages or Arrow IPC)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth import resources as res
from ..schemas.queries import HistoryQuery, QueryRunCreate, ResultQuery
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler

RUN_ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class QueryRunHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(QueryRunCreate)
        run = await self.run(self.services.queries.run, self.user_id, body)
        self.write_json(run, status=202)


class QueryRunStateHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True
    """A share link polls and cancels the runs it started (``POST /api/query/{id}/run``):
    runs belong to whoever submitted them, so it reaches no one else's."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(await self.run(self.services.queries.status, self.user_id, run_id))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        self.write_json(await self.run(self.services.queries.cancel, self.user_id, run_id))


class QueryResultHandler(AnalyticsHandler):
    auth_resource = res.QUERY
    accepts_share_links = True

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        query = self.parse_query(ResultQuery)
        queries = self.services.queries
        if query.format == "json":
            page = await self.run(
                queries.page, self.user_id, run_id, query.offset, query.limit, query.ordering
            )
            self.write_json(page)
            return
        chunks = await self.run(
            queries.arrow_stream, self.user_id, run_id, query.offset, query.limit, query.ordering
        )
        self.set_header("Content-Type", ARROW_STREAM)
        while True:  # each chunk is read off the event loop (a spilled result reads Parquet)
            chunk = await self.run(next, chunks, None)
            if chunk is None:
                break
            if chunk:
                self.write(chunk)
                await self.flush()
        self.finish()


class QueryHistoryHandler(AnalyticsHandler):
    auth_resource = res.QUERY

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(HistoryQuery)
        self.write_json(await self.run(self.services.queries.history, self.user_id, query))


ROUTES = [
    (r"/api/query/run", QueryRunHandler),
    (rf"/api/query/runs/(?P<run_id>{RUN_ID})", QueryRunStateHandler),
    (rf"/api/query/runs/(?P<run_id>{RUN_ID})/result", QueryResultHandler),
    (r"/api/query/history", QueryHistoryHandler),
]

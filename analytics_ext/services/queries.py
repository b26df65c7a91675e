"""Running queries for users: permission, the engine, and the history of what they ran.

The engine (``analytics_ext.engine``) knows nothing of users or the store; this service is the
seam. It resolves the datasource for the caller with ``use`` permission (``NotFound`` if they
cannot see it, ``Forbidden`` if they may only view it), submits the statement, and records the
run in ``query_runs`` when it starts and when it ends. Runs are visible only to whoever ran them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from ..engine.export import json_rows
from ..engine.results import ResultSet
from ..engine.runs import QueryEngine, Run, RunState
from ..engine.spec import SourceSpec
from ..errors import Conflict, Invalid
from ..schemas.queries import (
    ColumnOut,
    HistoryItem,
    HistoryPage,
    HistoryQuery,
    QueryRunCreate,
    QueryRunOut,
    ResultPage,
)
from ..schemas.settings import UserSettings
from ..store import Database
from ..store.models import QueryRun
from ..store.types import utcnow
from .datasources import DatasourceService
from .pagination import decode_cursor, encode_cursor
from .settings import SettingsService
from .sharing import is_link_actor

log = logging.getLogger(__name__)

MAX_HISTORY_ERROR = 1000


def run_out(run: Run) -> QueryRunOut:
    return QueryRunOut.model_validate(run.describe())


class QueryService:
    """``POST /api/query/run`` and friends: blocking methods, called through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        datasources: DatasourceService,
        engine: QueryEngine,
        submit: Callable[..., Future[object]],
        settings: SettingsService,
    ) -> None:
        self._db = db
        self._datasources = datasources
        self._settings = settings
        self.engine = engine
        self._submit = submit
        """Schedules blocking work (recording a run's end) on the services' pool."""

    def run(self, user_id: str, body: QueryRunCreate) -> QueryRunOut:
        """``POST /api/query/run``: an ad-hoc statement on a datasource the caller may ``use``."""
        spec = self._datasources.source_for(user_id, body.datasource_id, "use")
        run = self.start(
            user_id,
            spec,
            body.sql,
            body.parameters,
            row_limit=body.row_limit,
            bypass_cache=body.bypass_cache,
        )
        return run_out(run)

    def start(
        self,
        actor_id: str,
        spec: SourceSpec,
        sql: str,
        bindings: Mapping[str, Any],
        *,
        row_limit: int | None = None,
        bypass_cache: bool = False,
    ) -> Run:
        """Submit ``sql`` with driver ``bindings`` on ``spec`` for ``actor_id``: the one path of
        ad-hoc and saved-query runs. The caller has already checked permissions and chosen whose
        datasource authority ``spec`` carries; the run belongs to ``actor_id`` (only they see it
        through ``/api/query/runs/{id}``).

        A share link (``link:<id>``) is no account: it has no row-limit setting (the default
        applies) and no history, since ``query_runs`` rows belong to users.
        """
        is_user = not is_link_actor(actor_id)
        if row_limit is None:  # the user's default_row_limit setting; the datasource caps both
            settings = self._settings.get(actor_id) if is_user else UserSettings()
            row_limit = settings.default_row_limit
        run = self.engine.submit(
            actor_id, spec, sql, bindings, bypass_cache=bypass_cache, row_limit=row_limit
        )
        if not is_user:
            return run
        with self._db.transaction() as tx:
            tx.add(
                QueryRun(
                    id=run.id,
                    user_id=actor_id,
                    datasource_id=spec.id,
                    sql=sql,
                    state=run.state.value,
                    cached=run.cached,
                )
            )
        run.future.add_done_callback(lambda _: self._submit(self._record_end, run))
        return run

    def _record_end(self, run: Run) -> None:
        try:
            with self._db.transaction() as tx:
                row = tx.get(QueryRun, run.id)
                if row is None:
                    return
                row.state = run.state.value
                row.rows = run.rows
                row.elapsed_ms = round(run.elapsed_seconds * 1000)
                row.cached = run.cached
                row.error = run.error[:MAX_HISTORY_ERROR] if run.error else None
                row.finished_at = utcnow()
        except Exception:
            log.exception("could not record the end of query run %s", run.id)

    def status(self, user_id: str, run_id: str) -> QueryRunOut:
        return run_out(self.engine.get(run_id, user_id))

    def cancel(self, user_id: str, run_id: str) -> QueryRunOut:
        return run_out(self.engine.cancel(run_id, user_id))

    def _finished(self, user_id: str, run_id: str) -> Run:
        run = self.engine.get(run_id, user_id)
        if run.state in (RunState.QUEUED, RunState.RUNNING):
            raise Conflict("the query is still running; poll the run until it has succeeded")
        if run.state is not RunState.SUCCEEDED or run.result is None:
            raise Conflict(f"the query {run.state.value} and has no result: {run.error}")
        return run

    def page(
        self,
        user_id: str,
        run_id: str,
        offset: int,
        limit: int,
        sort: tuple[str, bool] | None = None,
    ) -> ResultPage:
        """One page of the result, in the result's order or sorted by ``sort`` (column,
        descending): the server sorts, so a grid gets a sorted page without the other rows."""
        run = self._finished(user_id, run_id)
        assert run.result is not None
        if sort is None:
            table = run.result.page(offset, limit)
        else:
            _check_sort(run.result, sort)
            table = run.result.ordered_page(offset, limit, *sort)
        rows = [row for batch in table.to_batches() for row in json_rows(batch)]
        return ResultPage(
            run_id=run.id,
            offset=offset,
            limit=limit,
            total_rows=run.result.num_rows,
            columns=[ColumnOut(name=f.name, type=str(f.type)) for f in run.result.schema],
            rows=rows,
        )

    def arrow_stream(
        self,
        user_id: str,
        run_id: str,
        offset: int,
        limit: int,
        sort: tuple[str, bool] | None = None,
    ) -> Iterator[bytes]:
        """An Arrow IPC stream of the page (the handler pulls chunks off the event loop)."""
        run = self._finished(user_id, run_id)
        assert run.result is not None
        if sort is not None:
            _check_sort(run.result, sort)
        return run.result.ipc_stream(offset, limit, sort)

    def history(self, user_id: str, query: HistoryQuery) -> HistoryPage:
        statement = select(QueryRun).where(QueryRun.user_id == user_id)
        if query.datasource_id is not None:
            statement = statement.where(QueryRun.datasource_id == query.datasource_id)
        if query.cursor is not None:
            at, last_id = decode_cursor(query.cursor)
            statement = statement.where(
                or_(
                    QueryRun.created_at < at,
                    and_(QueryRun.created_at == at, QueryRun.id < last_id),
                )
            )
        statement = statement.order_by(QueryRun.created_at.desc(), QueryRun.id.desc())
        with self._db.transaction() as tx:
            rows = tx.scalars(statement.limit(query.limit + 1)).all()
            items = [_history_item(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        last = rows[query.limit - 1] if more else None
        return HistoryPage(
            items=items,
            next_cursor=encode_cursor(last.created_at, last.id) if last is not None else None,
        )

    def close(self) -> None:
        self.engine.close()


def _check_sort(result: ResultSet, sort: tuple[str, bool]) -> None:
    """Sort once now, so a bad column is a 422 naming ``sort`` rather than a broken page."""
    try:
        result.sorted_indices(*sort)
    except KeyError:
        names = result.schema.names
        problem = "names two columns" if names.count(sort[0]) > 1 else "is not a column"
        raise Invalid("sort", f"{sort[0]!r} {problem} of this result") from None
    except ValueError as error:
        raise Invalid("sort", str(error)) from None


def _history_item(row: QueryRun) -> HistoryItem:
    finished: datetime | None = row.finished_at
    return HistoryItem(
        id=row.id,
        datasource_id=row.datasource_id,
        sql=row.sql,
        state=row.state,
        rows=row.rows,
        elapsed_seconds=None if row.elapsed_ms is None else row.elapsed_ms / 1000,
        cached=row.cached,
        error=row.error,
        created_at=row.created_at,
        finished_at=finished,
    )

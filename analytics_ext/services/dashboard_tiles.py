"""A dashboard tile's data, as the dashboard's viewers see it (``POST .../tiles/{id}/data``).

The rules (DESIGN.md §8), all here:

- Reading a tile needs ``view`` on the DASHBOARD, through the sharing service: a user with a
  grant, a share link to that dashboard, or a dashboard kernel's token (a link too). Anyone
  else gets ``NotFound``, as for the dashboard itself.
- The tile's saved query or chart runs with the authority of the dashboard's OWNER: a viewer
  sees the data through the dashboard only, never the query, its SQL or its datasource (the
  answer carries rows, column types and, for charts, the drawing spec — no SQL). A dashboard
  whose owner is gone cannot run tiles (``Conflict``).
- Values bound to the query: the query's own defaults (or the chart's stored values), then the
  tile's fixed ``parameters``, then the filters that target this tile — each filter's value
  (from the request, else the filter's default) is first checked against the filter's own
  typed parameter (422 ``filters.<filter id>``) and then bound to the target parameter. A
  filter that does not target this tile changes nothing here.
- The engine's result cache is honoured (``cached``); ``refresh`` bypasses it.
- Problems a viewer cannot fix (a tile whose query was deleted, a fixed value that no longer
  fits) are ``Conflict`` naming the tile, for someone who may edit the dashboard to fix.

Runs belong to the owner (their history, their per-user limit of runs in flight): a dashboard
opened by many viewers at once queues briefly for the owner's run slots instead of failing.

Blocking (it waits for runs): call through ``Services.run``.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa

from ..engine.errors import QueryFailed, TooManyRuns
from ..engine.export import jsonable
from ..engine.runs import Run, RunState
from ..errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from ..schemas.dashboards import (
    ChartTile,
    FilterTile,
    LayoutItem,
    QueryTile,
    Tile,
    TileColumn,
    TileDataOut,
    TileDataRequest,
)
from ..schemas.parameters import DateRange, bind_values
from ..store import Database
from ..store.models import Dashboard, DashboardVersion
from ..store.types import utcnow
from .chart_data import ChartData, ChartDataService
from .dashboard_versions import load_version, published_version_for_link
from .dashboards import DASHBOARD, layout_of, tiles_of
from .queries import QueryService
from .saved_queries import SavedQueryService
from .sharing import SharingService, is_link_actor

T = TypeVar("T")

WAIT_MARGIN_SECONDS = 30.0
"""Beyond the datasource's own query timeout, how long a tile waits for its run."""
QUEUE_SECONDS = 30.0
"""How long a tile waits for one of the owner's run slots before answering 429."""
EDITOR_LEVELS = frozenset({"edit", "manage"})


@dataclass(frozen=True)
class Board:
    """A dashboard as its tiles run: read once, with the caller's level on it."""

    id: str
    owner_id: str | None
    title: str
    description: str
    tiles: list[Tile]
    layout: list[LayoutItem]
    level: str
    """The caller's level: an editor is told why a tile failed; a viewer is not shown the
    database's message (it can quote the query)."""

    def tile(self, tile_id: str) -> Tile:
        for tile in self.tiles:
            if tile.id == tile_id:
                return tile
        raise NotFound(f"tile {tile_id!r} is not a tile of this dashboard")

    @property
    def filters(self) -> list[FilterTile]:
        return [tile for tile in self.tiles if isinstance(tile, FilterTile)]

    def owner(self) -> str:
        if self.owner_id is None:
            raise Conflict(
                "this dashboard has no owner (their account was deleted), so its tiles have "
                "no one's authority to run with; an administrator must give it a new owner"
            )
        return self.owner_id


@dataclass(frozen=True)
class QueryRows:
    """A query tile's result."""

    table: pa.Table
    truncated: bool
    """The run hit the tile's ``row_limit`` (or the datasource's)."""
    cached: bool


@dataclass(frozen=True)
class Bound:
    """The values a tile runs with, and which filter set which parameter."""

    values: dict[str, Any]
    filters: dict[str, str]
    """Target parameter → the filter tile that set it."""


def filter_default(tile: FilterTile) -> Any:
    """A filter's default as a value a run accepts (a date range as ``{start, end}``)."""
    default = tile.parameter.default
    if isinstance(default, DateRange):
        return {"start": default.start, "end": default.end}
    return default


def row_lists(table: pa.Table) -> list[list[Any]]:
    """Row-major JSON values (dates as ISO text, decimals as text): columns may share a name,
    which row objects could not hold."""
    rows: list[list[Any]] = []
    for batch in table.to_batches():
        columns = [column.to_pylist() for column in batch.columns]
        rows.extend([jsonable(value) for value in row] for row in zip(*columns, strict=True))
    return rows


def columns_of(table: pa.Table) -> list[TileColumn]:
    return [TileColumn(name=column.name, type=str(column.type)) for column in table.schema]


def chart_look(data: ChartData) -> dict[str, Any]:
    """What a renderer needs besides the rows: the spec, the look, channel → column."""
    return {
        "spec": data.spec.model_dump(mode="json", exclude_none=True),
        "effective_customization": data.customization.model_dump(mode="json"),
        "channels": dict(data.columns),
    }


class DashboardTileService:
    def __init__(
        self,
        db: Database,
        sharing: SharingService,
        saved_queries: SavedQueryService,
        chart_data: ChartDataService,
        queries: QueryService,
        *,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        self._db = db
        self._sharing = sharing
        self._saved_queries = saved_queries
        self._chart_data = chart_data
        self._queries = queries
        self._queue_seconds = queue_seconds

    # -- the route -----------------------------------------------------------------------------

    def data(
        self, actor_id: str, dashboard_id: str, tile_id: str, request: TileDataRequest
    ) -> TileDataOut:
        """One query or chart tile's data for anyone who may view the dashboard."""
        board = self.board(actor_id, dashboard_id, request.version)
        tile = board.tile(tile_id)
        if isinstance(tile, QueryTile):
            rows = self.query_rows(board, tile, request.filters, refresh=request.refresh)
            return TileDataOut(
                tile_id=tile.id,
                type="query",
                columns=columns_of(rows.table),
                rows=row_lists(rows.table),
                truncated=rows.truncated,
                cached=rows.cached,
                refreshed_at=utcnow(),
            )
        if isinstance(tile, ChartTile):
            data = self.chart_data(board, tile, request.filters, refresh=request.refresh)
            return TileDataOut(
                tile_id=tile.id,
                type="chart",
                columns=columns_of(data.table),
                rows=row_lists(data.table),
                truncated=data.truncated,
                cached=data.cached,
                chart=chart_look(data),
                refreshed_at=utcnow(),
            )
        raise Invalid("tile_id", f"{tile.id!r} is a {tile.type} tile, which has no data")

    # -- for the route and the export -----------------------------------------------------------

    def board(self, actor_id: str, dashboard_id: str, version: int | None = None) -> Board:
        """The dashboard if ``actor_id`` may view it (``NotFound`` otherwise), as currently
        saved or as saved in ``version``. It always runs as its current owner."""
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "view")
            row: Dashboard = access.obj
            state: Dashboard | DashboardVersion = row
            if is_link_actor(actor_id):
                # A share link or a dashboard kernel sees what is published, never the
                # history nor an editor's unpublished save.
                shown = published_version_for_link(tx, self._sharing, actor_id, dashboard_id)
                if version is not None and version != shown:
                    raise NotFound(f"version {version} not found")
                version = shown if shown != row.version else None
            if version is not None:
                state = load_version(tx, dashboard_id, version)
            return Board(
                id=row.id,
                owner_id=row.owner_id,
                title=state.title,
                description=state.description or "",
                tiles=tiles_of(state),
                layout=layout_of(state),
                level=access.level,
            )

    def bind(self, board: Board, tile: QueryTile | ChartTile, filters: Mapping[str, Any]) -> Bound:
        """The tile's fixed values with the filters aimed at it on top (see the module doc)."""
        known = {f.id for f in board.filters}
        for filter_id in filters:
            if filter_id not in known:
                raise Invalid(f"filters.{filter_id}", "is not a filter tile of this dashboard")
        values = dict(tile.parameters)
        origin: dict[str, str] = {}
        for control in board.filters:
            targets = [target.parameter for target in control.targets if target.tile == tile.id]
            if not targets:
                continue
            value = filters.get(control.id)
            if value is None:
                value = filter_default(control)
            try:
                bind_values([control.parameter], {control.parameter.name: value})
            except Invalid as error:
                raise Invalid(f"filters.{control.id}", _problem(error)) from None
            if value is None:
                continue  # no value and none required: the tile's own values apply
            for parameter in targets:
                values[parameter] = value
                origin[parameter] = control.id
        return Bound(values, origin)

    def query_rows(
        self,
        board: Board,
        tile: QueryTile,
        filters: Mapping[str, Any],
        *,
        refresh: bool = False,
    ) -> QueryRows:
        """Run a query tile's saved query as the dashboard's owner and wait for its rows."""
        owner = board.owner()
        bound = self.bind(board, tile, filters)
        with self._tile_errors(board, tile, bound, "query"):
            run = self._patiently(
                lambda: self._saved_queries.run_as_viewer(
                    owner,
                    tile.query_id,
                    bound.values,
                    row_limit=tile.row_limit,
                    bypass_cache=refresh,
                )
            )
            run = self._wait(run)
        assert run.result is not None
        return QueryRows(run.result.to_table(), run.result.truncated, run.cached)

    def chart_data(
        self,
        board: Board,
        tile: ChartTile,
        filters: Mapping[str, Any],
        *,
        refresh: bool = False,
    ) -> ChartData:
        """Draw a chart tile's rows as the dashboard's owner (their view of the chart)."""
        owner = board.owner()
        bound = self.bind(board, tile, filters)
        with self._tile_errors(board, tile, bound, "chart"):
            return self._patiently(
                lambda: self._chart_data.data(
                    owner, tile.chart_id, bypass_cache=refresh, parameters=bound.values
                )
            )

    # -- running -------------------------------------------------------------------------------

    def _patiently(self, start: Callable[[], T]) -> T:
        """``start()``, retried while the owner has every run slot busy (other viewers' tiles
        count against the same owner), up to ``queue_seconds``."""
        deadline = time.monotonic() + self._queue_seconds
        delay = 0.05
        while True:
            try:
                return start()
            except TooManyRuns:
                if time.monotonic() + delay > deadline:
                    raise TooManyRuns(
                        "this dashboard's tiles are busy (its owner's queries are all running); "
                        "try again shortly"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _wait(self, run: Run) -> Run:
        """Block this worker thread (never the event loop) until ``run`` ends."""
        flight = run.flight
        timeout = (flight.spec.timeout_seconds if flight is not None else 0.0) + (
            WAIT_MARGIN_SECONDS
        )
        try:
            run.future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            self._queries.engine.cancel(run.id)
            raise Unavailable("the tile's query did not finish in time") from None
        if run.state is not RunState.SUCCEEDED or run.result is None:
            raise QueryFailed(f"the tile's query {run.state.value}: {run.error}")
        return run

    @contextmanager
    def _tile_errors(
        self, board: Board, tile: QueryTile | ChartTile, bound: Bound, what: str
    ) -> Iterator[None]:
        """Errors of the tile's own objects, said so a viewer understands who can fix them."""
        try:
            yield
        except Invalid as error:
            name = error.field.removeprefix("parameters.")
            problem = _problem(error)
            if name in bound.filters and "is not a parameter" not in problem:
                raise Invalid(f"filters.{bound.filters[name]}", problem) from None
            raise Conflict(
                f"tile {tile.id!r} cannot run: {error.message}; someone who may edit the "
                "dashboard must fix the tile"
            ) from None
        except NotFound:
            raise Conflict(
                f"tile {tile.id!r} cannot run: its {what} was deleted, or the dashboard's owner "
                f"may no longer view it; someone who may edit the dashboard must replace it"
            ) from None
        except Forbidden as error:
            raise Conflict(
                f"tile {tile.id!r} cannot run with the dashboard owner's authority: {error.message}"
            ) from None
        except QueryFailed as error:
            if board.level in EDITOR_LEVELS:
                raise QueryFailed(f"tile {tile.id!r}: {error.message}") from None
            raise QueryFailed(
                f"tile {tile.id!r}: its query failed on the datasource; someone who may edit "
                "the dashboard can see why"
            ) from None


def _problem(error: Invalid) -> str:
    """``Invalid``'s message without its ``field: `` prefix."""
    return error.message.removeprefix(f"{error.field}: ")

"""Dashboards: tiles on a 12-column grid, the bodies of ``/api/dashboards`` and its tile data.

A dashboard holds four kinds of tile: a saved query's table, a saved chart, markdown text and
a filter. A filter is a typed parameter (the same definitions saved queries use) bound to
parameters of some query or chart tiles (``targets``): changing it re-runs those tiles only.
Tiles never embed SQL: they point at saved objects, whose own permissions and validation
apply, and the dashboard's viewers see their data through the dashboard (run with the
authority of the dashboard's owner), never the objects themselves.

Titles, descriptions and markdown are user text: every renderer escapes titles, and markdown
is rendered with raw HTML disabled (``engine.dashboard_markdown``), so nothing a user types
runs as script in a viewer's browser.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, model_validator

from .base import QueryModel, RequestModel, ResponseModel
from .parameters import ParameterInput, ParameterName, QueryParameter

GRID_COLUMNS = 12
MAX_TILES = 50
MAX_ROWS_PER_TILE = 10_000
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 10, 86_400
ObjectId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
TileId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
"""Chosen by the client (``t1``, ``revenue``), unique within one dashboard."""
Title = Annotated[str, Field(max_length=200)]
ParameterValues = Annotated[dict[ParameterName, ParameterInput], Field(max_length=50)]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=20)]


class _Tile(RequestModel):
    id: TileId
    title: Title = ""


class QueryTile(_Tile):
    """A saved query's result as a table."""

    type: Literal["query"]
    query_id: ObjectId
    parameters: ParameterValues = {}
    """Fixed values for the query's parameters (its defaults fill the rest; filters win)."""
    row_limit: StrictInt = Field(1000, ge=1, le=MAX_ROWS_PER_TILE)


class ChartTile(_Tile):
    """A saved chart, drawn with its own spec and customization."""

    type: Literal["chart"]
    chart_id: ObjectId
    parameters: ParameterValues = {}
    """Values overriding the chart's own parameter values (filters win over both)."""


class MarkdownTile(_Tile):
    type: Literal["markdown"]
    text: str = Field(max_length=20_000)


class FilterTarget(RequestModel):
    tile: TileId
    """A query or chart tile of this dashboard."""
    parameter: ParameterName
    """The parameter of that tile's query the filter's value is bound to."""


class FilterTile(_Tile):
    """A control whose value is bound to parameters of other tiles (``targets``)."""

    type: Literal["filter"]
    parameter: QueryParameter
    """What the control accepts and its default (text, number, date, date range, enum)."""
    targets: list[FilterTarget] = Field(min_length=1, max_length=MAX_TILES)


Tile = Annotated[QueryTile | ChartTile | MarkdownTile | FilterTile, Field(discriminator="type")]


class LayoutItem(RequestModel):
    """Where one tile sits: columns ``x`` .. ``x + w - 1`` of 12, rows ``y`` .. ``y + h - 1``."""

    tile: TileId
    x: StrictInt = Field(ge=0, lt=GRID_COLUMNS)
    y: StrictInt = Field(ge=0, le=1000)
    w: StrictInt = Field(ge=1, le=GRID_COLUMNS)
    h: StrictInt = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _fits_the_grid(self) -> LayoutItem:
        if self.x + self.w > GRID_COLUMNS:
            raise ValueError(f"w: x + w must be at most {GRID_COLUMNS}")
        return self

    def cells(self) -> set[tuple[int, int]]:
        return {
            (column, row)
            for column in range(self.x, self.x + self.w)
            for row in range(self.y, self.y + self.h)
        }


TileList = Annotated[list[Tile], Field(max_length=MAX_TILES)]
Layout = Annotated[list[LayoutItem], Field(max_length=MAX_TILES)]
RefreshSeconds = Annotated[
    int | None, Field(ge=MIN_REFRESH_SECONDS, le=MAX_REFRESH_SECONDS, strict=True)
]


def check_board(tiles: list[Any], layout: list[LayoutItem]) -> None:
    """Tiles and layout agree: ids unique, every tile placed exactly once, no two tiles on one
    cell, filters target query or chart tiles of this dashboard. ``ValueError`` names the
    field (``tiles.2.id: ...``), which ``invalid_from`` turns into a 422."""
    ids: dict[str, Any] = {}
    for index, tile in enumerate(tiles):
        if tile.id in ids:
            raise ValueError(f"tiles.{index}.id: {tile.id!r} is used by another tile")
        ids[tile.id] = tile
    placed: dict[str, int] = {}
    taken: dict[tuple[int, int], str] = {}
    for index, item in enumerate(layout):
        if item.tile not in ids:
            raise ValueError(f"layout.{index}.tile: {item.tile!r} is not a tile of this dashboard")
        if item.tile in placed:
            raise ValueError(f"layout.{index}.tile: {item.tile!r} is placed twice")
        placed[item.tile] = index
        for cell in item.cells():
            if cell in taken:
                raise ValueError(
                    f"layout.{index}: {item.tile!r} overlaps {taken[cell]!r} at column "
                    f"{cell[0]}, row {cell[1]}"
                )
            taken[cell] = item.tile
    for index, tile in enumerate(tiles):
        if tile.id not in placed:
            raise ValueError(f"layout: tile {tile.id!r} (tiles.{index}) has no place")
        if isinstance(tile, FilterTile):
            for number, target in enumerate(tile.targets):
                aimed = ids.get(target.tile)
                if not isinstance(aimed, QueryTile | ChartTile):
                    raise ValueError(
                        f"tiles.{index}.targets.{number}.tile: {target.tile!r} is not a query "
                        "or chart tile of this dashboard"
                    )


class DashboardCreate(RequestModel):
    """``POST /api/dashboards``."""

    title: Title = Field(min_length=1)
    description: str = Field("", max_length=5000)
    tiles: TileList = []
    layout: Layout = []
    refresh_seconds: RefreshSeconds = None
    """Viewers' tiles re-run on this interval (None: on demand only)."""
    tags: Tags = []

    @model_validator(mode="after")
    def _board(self) -> DashboardCreate:
        check_board(self.tiles, self.layout)
        return self


class DashboardPatch(RequestModel):
    """``PATCH /api/dashboards/{id}``: fields to change; ``tiles`` and ``layout`` change
    together (each is checked against the other). ``base_version``: 409 if stale."""

    title: Title | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=5000)
    tiles: TileList | None = None
    layout: Layout | None = None
    refresh_seconds: RefreshSeconds = None
    tags: Tags | None = None
    base_version: StrictInt | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _board(self) -> DashboardPatch:
        if (self.tiles is None) != (self.layout is None):
            raise ValueError("layout: tiles and layout change together; send both")
        if self.tiles is not None and self.layout is not None:
            check_board(self.tiles, self.layout)
        return self


class DashboardListQuery(QueryModel):
    """``GET /api/dashboards?q=&tag=&owner=me|shared&limit=&cursor=``."""

    q: str | None = Field(None, max_length=200)
    tag: str | None = Field(None, max_length=50)
    owner: Literal["me", "shared"] | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200)


class DashboardOut(ResponseModel):
    id: str
    title: str
    description: str
    tiles: list[Tile]
    layout: list[LayoutItem]
    refresh_seconds: int | None
    tags: list[str]
    owner_id: str | None
    owner_name: str | None
    """The owner's username, so a dashboard shared with the caller can say whose it is (null
    when the owner's account is gone)."""
    version: int
    permission: str
    """The caller's level: view, edit or manage."""
    published_version: int | None
    published_at: datetime | None
    viewer_url: str | None
    """Where viewers open the published dashboard (null until it is published)."""
    created_at: datetime
    updated_at: datetime


class DashboardPage(ResponseModel):
    items: list[DashboardOut]
    next: str | None


class PublishOut(ResponseModel):
    """``POST /api/dashboards/{id}/publish``."""

    dashboard_id: str
    version: int
    notebook: str
    """The notebook's file name in the published-dashboards folder."""
    viewer_url: str
    published_at: datetime


class TileDataRequest(RequestModel):
    """``POST /api/dashboards/{id}/tiles/{tile_id}/data``: the current value of each filter
    (by filter tile id; a missing filter uses its default)."""

    filters: Annotated[dict[TileId, ParameterInput], Field(max_length=MAX_TILES)] = {}
    refresh: bool = False
    """True: run again even if a fresh cached result exists (the viewer pressed Refresh)."""
    version: StrictInt | None = Field(None, ge=1)
    """Run the tile as it was in this saved version (a published notebook pins the version it
    was published from, so viewers never see an editor's unpublished changes); default: the
    dashboard as currently saved."""


class TileColumn(ResponseModel):
    name: str
    type: str
    """The Arrow type, as text (``int64``, ``timestamp[us, tz=UTC]``)."""


class TileDataOut(ResponseModel):
    """One query or chart tile's data, as its viewers see it."""

    tile_id: str
    type: Literal["query", "chart"]
    columns: list[TileColumn]
    rows: list[list[Any]]
    """Row-major JSON values (dates and timestamps as ISO text)."""
    truncated: bool
    cached: bool
    """Served from the result cache (no query ran)."""
    chart: dict[str, Any] | None = None
    """Chart tiles: ``spec``, ``effective_customization`` and ``channels`` (channel → column)."""
    refreshed_at: datetime

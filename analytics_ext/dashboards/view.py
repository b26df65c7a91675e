"""What a published dashboard's notebook runs: ``show("<dashboard id>")`` draws the dashboard.

The published notebook is one cell, ``from analytics_ext.dashboards.view import show;
show("<id>")``, run by a dashboard kernel of the Voila process. That kernel's environment holds
``ANALYTICS_EXT_URL`` and ``ANALYTICS_EXT_TOKEN``, a view-only token for this one dashboard, so
``connect()`` needs nothing else, and everything goes through the REST API (DESIGN.md §2): the
dashboard (``GET /api/dashboards/{id}``) and each tile's data (``POST .../tiles/{tile}/data``),
which the server runs with the dashboard owner's authority. The token opens nothing else: not
the tiles' saved queries, not other dashboards. The same call works in any notebook with the
user's own credential.

The view is an ipywidgets ``GridBox`` of 12 columns, each tile at its layout cell. Data tiles
load concurrently, each in a background job (``widgets._background``), so the kernel keeps
answering the viewer's widgets while queries run; each tile says when it is loading and shows
the server's own message when it fails. Changing a filter re-runs only the tiles it targets;
Refresh, and the dashboard's ``refresh_seconds`` timer, re-run every data tile past the result
cache. Titles, descriptions and table cells are escaped; markdown is rendered with raw HTML off.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..widgets._background import Background, Job, JobCancelled, describe_error
from .tile_widgets import (
    GRID_GAP,
    ROW_HEIGHT,
    ChartTile,
    DataTile,
    FilterTile,
    MarkdownTile,
    QueryTableTile,
    TileCard,
    close_figure,
)

if TYPE_CHECKING:
    from ..client import AnalyticsClient
    from ..client.dashboards import TileData

GRID_COLUMNS = 12
MAX_CONCURRENT_TILES = 6
"""Tile requests in flight at once per view: enough to load a dashboard in parallel, few
enough that one viewer cannot queue 50 queries on the datasource at a time."""
PREHEATED_RELOAD_SECONDS = 60
"""How often a dashboard without its own interval reloads its tiles (from the result cache
when fresh) in a preheated Voila kernel, waiting for a viewer."""
TILE_TIMEOUT = 300.0
"""Seconds one tile's data may take (the server waits for the tile's query)."""


def show(
    dashboard_id: str,
    client: AnalyticsClient | None = None,
    *,
    version: int | None = None,
    timeout: float = TILE_TIMEOUT,
) -> DashboardView:
    """The dashboard ``dashboard_id`` as a widget; its tiles start loading at once (``wait()``
    blocks until they are done). ``client`` defaults to ``analytics_ext.client.connect()``:
    in a dashboard kernel, the server URL and view-only token of its environment.

    ``version`` draws that saved version (tiles, layout, title) instead of the current save:
    a published notebook pins the version it was published from, so an editor's later
    changes reach viewers only when they publish again."""
    if client is None:
        from ..client import connect

        client = connect()
    dashboard = client.dashboard(dashboard_id)
    if version is not None:
        saved = client.dashboard_version(dashboard_id, version)
        fields = ("title", "description", "tiles", "layout", "refresh_seconds")
        dashboard.update({name: saved[name] for name in fields}, version=version)
    return DashboardView(client, dashboard, timeout=timeout, version=version)


class DashboardView(widgets.VBox):
    """A dashboard's title, description, Refresh button and grid of tiles.

    ``tiles`` maps each tile id to its widget, ``filters`` each filter tile's id to its widget.
    ``refresh()``, ``set_filter(id, value)`` and ``reload(ids)`` start background loads and
    return their jobs; ``wait()`` blocks until every load is done; ``close()`` stops the
    automatic refresh and loads and closes the widgets.
    """

    def __init__(
        self,
        client: AnalyticsClient,
        dashboard: Mapping[str, Any],
        *,
        timeout: float = TILE_TIMEOUT,
        load: bool = True,
        version: int | None = None,
    ) -> None:
        self.client = client
        self.version = version
        """The saved version whose tiles run (None: the current save)."""
        self.dashboard = dict(dashboard)
        self.dashboard_id: str = dashboard["id"]
        self.timeout = timeout
        self.refresh_seconds: int | None = dashboard.get("refresh_seconds")
        self._refresh_cached = False
        if not self.refresh_seconds and os.environ.get("VOILA_PREHEAT") == "True":
            # A preheated Voila kernel draws its tiles long before a viewer arrives; reloading
            # them through the result cache keeps what a viewer first sees at most this old,
            # and costs no query while the cached results are fresh.
            self.refresh_seconds, self._refresh_cached = PREHEATED_RELOAD_SECONDS, True
        self._background = Background(timeout)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_TILES)
        self._stop = threading.Event()
        self._closed = False

        places = {item["tile"]: item for item in dashboard.get("layout") or []}
        self.tiles: dict[str, TileCard] = {}
        self.filters: dict[str, FilterTile] = {}
        bottom = max((p["y"] + p["h"] for p in places.values()), default=0)
        for tile in dashboard.get("tiles") or []:
            place = places.get(tile["id"])
            if place is None:  # the server keeps every tile placed; never hide one all the same
                place = {"tile": tile["id"], "x": 0, "y": bottom, "w": GRID_COLUMNS, "h": 3}
                bottom += 3
            card = self._card(tile, place["h"])
            card.layout.grid_area = grid_area(place)
            card.place = dict(place)  # type: ignore[attr-defined]
            self.tiles[tile["id"]] = card
        ordered = sorted(
            self.tiles.values(),
            key=lambda card: (card.place["y"], card.place["x"]),  # type: ignore[attr-defined]
        )
        self.grid = widgets.GridBox(
            ordered,
            layout={
                "grid_template_columns": f"repeat({GRID_COLUMNS}, 1fr)",
                "grid_auto_rows": f"{ROW_HEIGHT}px",
                "grid_gap": f"{GRID_GAP}px",
                "width": "100%",
            },
        )
        self.header = widgets.HTML(_header_html(dashboard))
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Run every tile's query again"
        )
        self.refresh_button.on_click(lambda _: self.refresh())
        top = widgets.HBox(
            [self.header, self.refresh_button],
            layout={"justify_content": "space-between", "align_items": "flex-start"},
        )
        super().__init__([top, self.grid], layout={"width": "100%"})
        self.add_class("ae-dashboard")
        if load:
            self.reload(self.data_tiles)
        self._timer: threading.Thread | None = None
        if self.refresh_seconds:
            self._timer = threading.Thread(
                target=self._tick, daemon=True, name=f"analytics-dashboard-{self.dashboard_id}"
            )
            self._timer.start()

    # -- what a notebook (or a test) does ------------------------------------------------------

    @property
    def data_tiles(self) -> list[str]:
        """The ids of the query and chart tiles, in the dashboard's order."""
        return [tile_id for tile_id, card in self.tiles.items() if isinstance(card, DataTile)]

    def filter_values(self, tile_id: str | None = None) -> dict[str, Any]:
        """The filters' values a tile-data request sends (only the filters targeting
        ``tile_id`` if given; a filter the viewer has not changed is left out, so the server
        applies its default)."""
        return {
            filter_id: control.value
            for filter_id, control in self.filters.items()
            if control.value is not None and (tile_id is None or tile_id in control.targets)
        }

    def reload(self, tile_ids: Iterable[str], refresh: bool = False) -> list[Job[Any]]:
        """Fetch these data tiles again, each in its own job (a newer load of a tile
        supersedes one still on its way); ``refresh`` bypasses the result cache."""
        jobs = []
        for tile_id in dict.fromkeys(tile_ids):
            card = self.tiles.get(tile_id)
            if isinstance(card, DataTile) and not self._closed:
                jobs.append(self._load(card, refresh))
        return jobs

    def refresh(self) -> list[Job[Any]]:
        """Run every data tile's query again, past the result cache (the Refresh button)."""
        return self.reload(self.data_tiles, refresh=True)

    def set_filter(self, filter_id: str, value: Any) -> list[Job[Any]]:
        """Set a filter's value (JSON, as a tile-data request takes it: a date as
        ``"2024-01-31"``, a range as ``{"start", "end"}``) and re-run the tiles it targets,
        and only those. ``KeyError`` for an unknown filter, ``ValueError`` for a value its
        control cannot hold."""
        control = self.filters.get(filter_id)
        if control is None:
            raise KeyError(f"{filter_id!r} is not a filter tile of this dashboard")
        control.set_value(value)
        return self.reload(control.targets)

    def wait(self, timeout: float = 120.0) -> DashboardView:
        """Block until no tile is loading (``TimeoutError`` after ``timeout`` seconds)."""
        if not self._background.join(timeout):
            raise TimeoutError(f"tiles were still loading after {timeout:g} s")
        return self

    def close(self) -> None:
        """Stop the automatic refresh and every load, and close the widgets."""
        self._closed = True
        self._stop.set()
        self._background.cancel()
        for card in self.tiles.values():
            _close_tree(card)
        for part in (self.grid, self.header, self.refresh_button):
            part.close()
        for child in self.children:
            child.close()
        super().close()

    # -- internals -----------------------------------------------------------------------------

    def _card(self, tile: Mapping[str, Any], rows: int) -> TileCard:
        kind = tile["type"]
        if kind == "query":
            return QueryTableTile(tile, rows)
        if kind == "chart":
            return ChartTile(tile, rows)
        if kind == "markdown":
            return MarkdownTile(tile, rows)
        if kind == "filter":
            card = FilterTile(tile, rows, on_change=self._filter_changed)
            self.filters[tile["id"]] = card
            return card
        raise ValueError(f"tiles: {tile['id']!r} has an unknown type {kind!r}")

    def _filter_changed(self, filter_id: str) -> None:
        """A viewer changed a filter: its targets load again (from the kernel's event loop,
        so the work goes to background jobs at once)."""
        self.reload(self.filters[filter_id].targets)

    def _load(self, card: DataTile, refresh: bool) -> Job[Any]:
        client, dashboard_id, tile_id = self.client, self.dashboard_id, card.tile_id
        filters = self.filter_values(tile_id)
        card.loading()

        def fetch(job: Job[Any]) -> Any:
            while not self._slots.acquire(timeout=0.2):  # a free place, or cancelled meanwhile
                job.check()
            try:
                job.check()
                data: TileData = client.tile_data(
                    dashboard_id,
                    tile_id,
                    filters,
                    refresh=refresh,
                    timeout=self.timeout,
                    version=self.version,
                )
            finally:
                self._slots.release()
            job.check()
            return card.prepare(data)

        def failed(error: BaseException) -> None:
            if isinstance(error, JobCancelled) and self._closed:
                return
            card.fail(describe_error(error))

        return self._background.start(
            fetch, on_result=card.show, on_error=failed, key=f"tile:{tile_id}", name=tile_id
        )

    def _tick(self) -> None:
        """Re-run the data tiles every ``refresh_seconds`` until the view is closed; a tile
        still loading from the last round is left to finish rather than started again."""
        assert self.refresh_seconds
        while not self._stop.wait(self.refresh_seconds):
            idle = [t for t in self.data_tiles if self._background.running(f"tile:{t}") is None]
            self.reload(idle, refresh=not self._refresh_cached)


def grid_area(place: Mapping[str, int]) -> str:
    """A layout item as CSS ``grid-area`` (row start / column start / row span / column span).

    One property, not ``grid_row`` and ``grid_column``: ipywidgets' LayoutView applies its traits
    in order and removes the unset ``grid-area`` shorthand last, which wipes a ``grid-column``
    set just before it (seen in JupyterLab 4.6 with ipywidgets 8.1: every tile fell into one
    cell of the first row)."""
    return f"{place['y'] + 1} / {place['x'] + 1} / span {place['h']} / span {place['w']}"


def _header_html(dashboard: Mapping[str, Any]) -> str:
    """The title and description, escaped (both are user text)."""
    title = html.escape(dashboard.get("title") or "")
    description = html.escape(dashboard.get("description") or "")
    parts = [f'<h2 style="margin:0 0 4px 0">{title}</h2>']
    if description:
        parts.append(
            '<div style="white-space:pre-wrap;color:var(--jp-ui-font-color2,#666);'
            f'margin-bottom:4px">{description}</div>'
        )
    return "".join(parts)


def _close_tree(widget: widgets.Widget) -> None:
    """Close a widget and the widgets inside it (children, a chart's figure)."""
    if isinstance(widget, ChartTile) and widget.drawing is not None:
        close_figure(widget.drawing.figure)
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    for part in ("_content", "control"):
        inner = getattr(widget, part, None)
        if isinstance(inner, widgets.Widget):
            _close_tree(inner)
    widget.close()

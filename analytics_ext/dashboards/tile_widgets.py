"""The widget of each kind of dashboard tile, as ``view.DashboardView`` places them on its grid.

Every tile is a card: its title (escaped: a title is user text), a body and one status line.
Query and chart tiles show data the view fetched for them (``TileData`` from the REST API):
a query tile as a read-only HTML table paged in the kernel (a tile holds at most
``MAX_ROWS_PER_TILE`` rows, so only the page on screen crosses to the browser), a chart tile as
the bqplot figure ``widgets.bqplot_marks.draw`` makes from the chart's spec and customization,
the same one ``ChartBuilder`` draws (big series downsampled the same way). A markdown tile is
``engine.dashboard_markdown.render_markdown`` output (raw HTML off, so nothing typed into it
runs as script). A filter tile is one control per parameter type; the view listens to it.

Nothing here talks to the server: the view fetches in background jobs and hands the results
to ``prepare`` (in the job's thread: drawing a chart is work) and then ``show``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import sys
from collections.abc import Callable, Mapping
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import traitlets

from ..client.dashboards import TileData
from ..engine.dashboard_markdown import render_markdown
from ..schemas.charts import ChartSpec, Customization
from ..widgets._parameter_form import resolve_date
from ..widgets.bqplot_marks import Drawing, draw
from ..widgets.downsample import MAX_POINTS
from ..widgets.results import MAX_CELL_CHARS, STYLE, _cell

ROW_HEIGHT = 90
"""Pixels of one grid row: a tile ``h`` rows high is ``h * ROW_HEIGHT`` plus the gaps."""
GRID_GAP = 8
TITLE_HEIGHT = 28
STATUS_HEIGHT = 22
TABLE_ROW_HEIGHT = 22
COMPACT_STYLE = (
    "<style>.ae-tile-grid{table-layout:auto;min-width:100%}.ae-tile-grid td,.ae-tile-grid th"
    f"{{padding:1px 6px!important;line-height:{TABLE_ROW_HEIGHT - 4}px!important}}</style>"
)
"""Rows of a fixed height inside a tile (JupyterLab's rendered-HTML table padding would make
them half again as tall), so the page size fits the tile."""
MUTED = "var(--jp-ui-font-color2,#666)"
ERROR = "var(--jp-error-color1,#c00)"


def tile_height(rows: int) -> int:
    """The pixel height of a tile ``rows`` grid rows high (gaps between its rows included)."""
    return rows * ROW_HEIGHT + (rows - 1) * GRID_GAP


class TileCard(widgets.VBox):
    """A tile's frame: title, body, status line. ``status`` is ``idle``, ``loading``,
    ``ready`` or ``error`` (``error`` then holds the readable message)."""

    status = traitlets.Unicode("idle")
    error = traitlets.Unicode("")

    def __init__(self, tile: Mapping[str, Any], rows: int) -> None:
        self.tile = dict(tile)
        self.tile_id: str = tile["id"]
        self.kind: str = tile["type"]
        self.rows = rows
        title = tile.get("title") or ""
        self.title = widgets.HTML(
            f'<div style="font-weight:600;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis" title="{html.escape(title)}">{html.escape(title)}</div>'
            if title
            else ""
        )
        self.body = widgets.Box(layout={"flex": "1 1 auto", "min_height": "0", "overflow": "auto"})
        self.message = widgets.HTML("")
        super().__init__(
            [self.title, self.body, self.message],
            layout={
                "border": "1px solid var(--jp-border-color2,#ddd)",
                "padding": "4px 8px",
                "overflow": "hidden",
                "min_width": "0",
                "height": f"{tile_height(rows)}px",
            },
        )
        self.add_class("ae-dashboard-tile")
        self.add_class("ae-tile-idle")

    @traitlets.observe("status")
    def _status_class(self, change: dict[str, Any]) -> None:
        """The status as a CSS class (``ae-tile-ready``), so the page itself tells a browser
        test or a benchmark when every tile is drawn."""
        self.remove_class(f"ae-tile-{change['old']}")
        self.add_class(f"ae-tile-{change['new']}")

    def say(self, text: str, *, error: bool = False, spinner: bool = False) -> None:
        """One line under the body (escaped)."""
        if not text:
            self.message.value = ""
            return
        icon = '<i class="fa fa-spinner fa-spin"></i> ' if spinner else ""
        color = ERROR if error else MUTED
        self.message.value = f'<small style="color:{color}">{icon}{html.escape(text)}</small>'


class DataTile(TileCard):
    """A query or chart tile: ``loading()``, then ``show(prepare(data))`` or ``fail(message)``."""

    def __init__(self, tile: Mapping[str, Any], rows: int) -> None:
        super().__init__(tile, rows)
        self.data: TileData | None = None
        self.loads = 0
        """How many results this tile has shown (each filter change or refresh adds one)."""

    def loading(self) -> None:
        self.status, self.error = "loading", ""
        self.body.layout.opacity = "0.5"
        self.say("Loading…", spinner=True)

    def prepare(self, data: TileData) -> Any:
        """What ``show`` needs, made in the background job (may be slow)."""
        return data

    def show(self, prepared: Any) -> None:
        raise NotImplementedError

    def fail(self, message: str) -> None:
        """The tile's data could not be had: no stale rows, the reason instead."""
        self.data = None
        self._clear()
        self.body.layout.opacity = "1"
        self.status, self.error = "error", message
        self.say(message, error=True)

    def _clear(self) -> None:
        self.body.children = ()

    def _shown(self, data: TileData, notes: list[str]) -> None:
        self.data = data
        self.loads += 1
        self.body.layout.opacity = "1"
        if data.truncated:
            notes.insert(0, f"First {data.num_rows:,} rows only.")
        when = (
            data.refreshed_at.astimezone(dt.UTC).strftime("%H:%M:%S UTC")
            if (data.refreshed_at)
            else ""
        )
        if when:
            notes.append(f"{'Cached result from' if data.cached else 'Updated'} {when}.")
        self.status, self.error = "ready", ""
        self.say(" ".join(note for note in notes if note))


class QueryTableTile(DataTile):
    """A saved query's rows as a read-only table, one page at a time."""

    def __init__(self, tile: Mapping[str, Any], rows: int) -> None:
        super().__init__(tile, rows)
        room = tile_height(rows) - TITLE_HEIGHT - STATUS_HEIGHT - TABLE_ROW_HEIGHT - 48
        self.page_size = max(5, min(100, room // TABLE_ROW_HEIGHT))
        self.offset = 0
        self.table = widgets.HTML("")
        self._previous = widgets.Button(
            icon="chevron-left", tooltip="Previous page", layout={"width": "32px"}
        )
        self._next = widgets.Button(
            icon="chevron-right", tooltip="Next page", layout={"width": "32px"}
        )
        self._position = widgets.Label("")
        self._previous.on_click(lambda _: self.go(self.offset - self.page_size))
        self._next.on_click(lambda _: self.go(self.offset + self.page_size))
        self.pager = widgets.HBox(
            [self._previous, self._position, self._next],
            layout={"align_items": "center", "flex": "0 0 auto"},
        )
        self.table.layout.flex = "0 0 auto"
        self._content = widgets.VBox(
            [self.pager, self.table], layout={"min_width": "0", "flex": "0 0 auto"}
        )

    @property
    def total_rows(self) -> int:
        return self.data.num_rows if self.data is not None else 0

    def prepare(self, data: TileData) -> tuple[TileData, list[list[Any]]]:
        return data, data.rows

    def show(self, prepared: tuple[TileData, list[list[Any]]]) -> None:
        data, self._rows = prepared
        self._columns = data.columns
        self.offset = 0
        self._render()
        self.body.children = (self._content,)
        self._shown(data, [])

    def go(self, offset: int) -> None:
        """Show the page starting at row ``offset`` (clamped to the rows there are)."""
        last = max(0, (self.total_rows - 1) // self.page_size * self.page_size)
        self.offset = min(max(0, offset), last)
        self._render()

    _rows: list[list[Any]] = []
    _columns: list[dict[str, str]] = []

    def _render(self) -> None:
        page = self._rows[self.offset : self.offset + self.page_size]
        self.table.value = render_table(self._columns, page, self.offset)
        total = len(self._rows)
        self._position.value = (
            f"Rows {self.offset + 1:,} to {self.offset + len(page):,} of {total:,}"
            if page
            else "No rows."
        )
        self._previous.disabled = self.offset == 0
        self._next.disabled = self.offset + self.page_size >= total


def render_table(columns: list[dict[str, str]], rows: list[list[Any]], offset: int = 0) -> str:
    """One page as an HTML table in ``ResultGrid``'s look: every name, type and value escaped."""
    parts = [
        STYLE,
        COMPACT_STYLE,
        '<table class="ae-grid ae-tile-grid"><thead><tr><th class="r">#</th>',
        *(
            f'<th title="{html.escape(c["type"])}"><b>{html.escape(c["name"])}</b></th>'
            for c in columns
        ),
        "</tr></thead><tbody>",
    ]
    for index, row in enumerate(rows, start=offset + 1):
        parts.append(f'<tr><td class="r n">{index:,}</td>')
        parts.extend(table_cell(value) for value in row)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def table_cell(value: Any) -> str:
    """A cell as ``ResultGrid`` writes it, for the Python values of an Arrow table (dates and
    times as ISO text, a space between date and time; decimals exactly, right-aligned like
    other numbers)."""
    if isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        value = value.isoformat()
    elif isinstance(value, decimal.Decimal):
        return f'<td class="r">{html.escape(str(value)[:MAX_CELL_CHARS])}</td>'
    elif isinstance(value, dt.timedelta):
        value = str(value)
    return _cell(value)


class ChartTile(DataTile):
    """A saved chart drawn with bqplot from the tile's ``chart`` payload and rows."""

    def __init__(self, tile: Mapping[str, Any], rows: int, budget: int = MAX_POINTS) -> None:
        super().__init__(tile, rows)
        self.budget = budget
        self.drawing: Drawing | None = None

    @property
    def figure(self) -> bq.Figure | None:
        return self.drawing.figure if self.drawing is not None else None

    def prepare(self, data: TileData) -> tuple[TileData, Drawing]:
        if not data.chart:
            raise ValueError("the server sent no chart for this tile")
        spec = ChartSpec.model_validate(data.chart["spec"])
        look = Customization.model_validate(data.chart.get("effective_customization") or {})
        channels = dict(data.chart.get("channels") or {})
        drawing = draw(spec, look, data.table, channels, budget=self.budget)
        figure = drawing.figure
        height = tile_height(self.rows) - TITLE_HEIGHT - STATUS_HEIGHT - 8
        if look.subtitle:
            height -= 20
        figure.layout.width = "100%"
        figure.layout.min_width = "0"
        figure.layout.height = f"{max(120, height)}px"
        return data, drawing

    def show(self, prepared: tuple[TileData, Drawing]) -> None:
        data, drawing = prepared
        old, self.drawing = self.drawing, drawing
        parts: list[widgets.Widget] = [drawing.figure]
        if drawing.subtitle:
            parts.insert(0, widgets.Label(drawing.subtitle))  # a Label: plain text
        self.body.children = tuple(parts)
        if old is not None:
            close_figure(old.figure)
        self._shown(data, [drawing.reduction.note(), *drawing.notes])

    def _clear(self) -> None:
        old, self.drawing = self.drawing, None
        super()._clear()
        if old is not None:
            close_figure(old.figure)


def close_figure(figure: bq.Figure) -> None:
    """Close a figure that is no longer shown, with its marks, axes and scales (each is a
    widget the kernel and the browser would otherwise keep)."""
    parts: dict[int, widgets.Widget] = {}
    for mark in figure.marks:
        parts[id(mark)] = mark
        parts.update((id(s), s) for s in mark.scales.values())
    for axis in figure.axes:
        parts[id(axis)] = axis
        parts[id(axis.scale)] = axis.scale
    for part in (*parts.values(), figure.scale_x, figure.scale_y, figure):
        if part is not None:
            part.close()


class MarkdownTile(TileCard):
    """Text rendered by ``render_markdown``: raw HTML off, safe links, no image fetched."""

    def __init__(self, tile: Mapping[str, Any], rows: int) -> None:
        super().__init__(tile, rows)
        self.html = widgets.HTML(
            f'<div class="ae-markdown">{render_markdown(tile.get("text") or "")}</div>'
        )
        self.body.children = (self.html,)
        self.status = "ready"


class FilterTile(TileCard):
    """One control for the filter's parameter, holding its default.

    ``value`` is what the tile-data requests send for this filter: None (leave it out, so the
    server applies the default) until the viewer changes the control, then the control's
    value as JSON (a date range as ``{"start", "end"}``). ``on_change`` is called with the
    filter's id after each change by the viewer.
    """

    def __init__(
        self,
        tile: Mapping[str, Any],
        rows: int,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(tile, rows)
        self.parameter: dict[str, Any] = dict(tile["parameter"])
        self.targets: list[str] = [target["tile"] for target in tile.get("targets") or []]
        self.touched = False
        self._on_change = on_change
        self._quiet = False
        label = self.parameter.get("label") or self.parameter["name"]
        same = label.strip().casefold() == (tile.get("title") or "").strip().casefold()
        self.control = filter_control(self.parameter, label="" if same else label)
        for part in self._parts():
            part.observe(self._changed, "value")
        self.body.children = (self.control,)
        self.status = "ready"
        tip = self.parameter.get("description") or ""
        if tip:
            self.say(tip)

    @property
    def value(self) -> Any:
        """The value to send, or None to let the server use the filter's default."""
        if not self.touched:
            return None
        return control_value(self.parameter["type"], self.control)

    def set_value(self, value: Any) -> None:
        """Put a JSON value in the control (as ``TileDataRequest.filters`` takes it) without
        calling ``on_change``; ``ValueError`` if the control cannot hold it."""
        self._quiet = True
        try:
            set_control_value(self.parameter, self.control, value)
        finally:
            self._quiet = False
        self.touched = True

    def _parts(self) -> list[widgets.Widget]:
        if isinstance(self.control, widgets.HBox):
            return list(self.control.children)
        return [self.control]

    def _changed(self, _: Any) -> None:
        if self._quiet:
            return
        self.touched = True
        if self.parameter["type"] == "date_range" and self.value is None:
            return  # half a range: wait for the other end
        if self._on_change is not None:
            self._on_change(self.tile_id)


_WIDE = {"description_width": "initial"}
_BIG_INT = 2**53 - 1


def filter_control(parameter: Mapping[str, Any], label: str | None = None) -> widgets.Widget:
    """The control of one parameter type, holding its default (text edits and numbers apply
    on Enter or when the field loses focus, not at every keystroke). ``label`` defaults to
    the parameter's label or name ("" when the tile's title already says it)."""
    kind = parameter["type"]
    if label is None:
        label = parameter.get("label") or parameter["name"]
    default = parameter.get("default")
    common: dict[str, Any] = {"description": label, "style": _WIDE}
    if kind == "text":
        return widgets.Text(
            value=default or "", continuous_update=False, layout={"width": "100%"}, **common
        )
    if kind == "number":
        low, high = parameter.get("minimum"), parameter.get("maximum")
        integer = bool(parameter.get("integer"))
        start = default if default is not None else low if low is not None else 0
        if low is None and high is None:
            kind_class = widgets.IntText if integer else widgets.FloatText
            return kind_class(value=start, continuous_update=False, **common)
        bound = _BIG_INT if integer else sys.float_info.max
        bounded = widgets.BoundedIntText if integer else widgets.BoundedFloatText
        return bounded(
            value=start,
            min=low if low is not None else -bound,
            max=high if high is not None else bound,
            continuous_update=False,
            **common,
        )
    if kind == "date":
        return widgets.DatePicker(value=resolve_date(default), **common)
    if kind == "date_range":
        default = default or {}
        return widgets.HBox(
            [
                widgets.DatePicker(value=resolve_date(default.get("start")), **common),
                widgets.DatePicker(value=resolve_date(default.get("end")), description="to"),
            ]
        )
    if kind == "enum":
        options: list[tuple[str, Any]] = [(str(o), o) for o in parameter["options"]]
        if default is None:
            options.insert(0, ("(default)", None))
        return widgets.Dropdown(options=options, value=default, **common)
    raise ValueError(f"parameter.type: {kind!r} has no control")


def control_value(kind: str, control: widgets.Widget) -> Any:
    """A control's value as JSON (dates as ISO text); None for an empty date or range."""
    if kind == "date_range":
        start, end = control.children  # type: ignore[attr-defined]
        if start.value is None or end.value is None:
            return None
        return {"start": start.value.isoformat(), "end": end.value.isoformat()}
    value = control.value  # type: ignore[attr-defined]
    if kind == "date":
        return None if value is None else value.isoformat()
    return value


def set_control_value(parameter: Mapping[str, Any], control: widgets.Widget, value: Any) -> None:
    kind = parameter["type"]
    try:
        if kind == "date_range":
            if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
                raise ValueError('a date range is {"start": date, "end": date}')
            start, end = control.children  # type: ignore[attr-defined]
            start.value, end.value = _date(value["start"]), _date(value["end"])
        elif kind == "date":
            control.value = _date(value)  # type: ignore[attr-defined]
        elif kind == "enum":
            if value not in parameter["options"]:
                shown = ", ".join(repr(option) for option in parameter["options"][:10])
                raise ValueError(f"must be one of: {shown}")
            control.value = value  # type: ignore[attr-defined]
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("must be a number")
            low, high = parameter.get("minimum"), parameter.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"must be between {low} and {high}")
            control.value = value  # type: ignore[attr-defined]
        else:
            if not isinstance(value, str):
                raise ValueError("must be text")
            control.value = value  # type: ignore[attr-defined]
    except traitlets.TraitError as error:
        raise ValueError(str(error)) from None


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    resolved = resolve_date(str(value))
    if resolved is None:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD) or today[+-N]d")
    return resolved

"""How a chart reads its rows and how it looks, for the bqplot figure (``bqplot_marks``).

The notebook's twin of ``engine.vega_lite`` (the server's exports): the same rows, read the same
way, so a chart looks alike in both. Each channel's type and title, axis order and colours follow
the rules that module writes down: aggregated channels are quantitative, discrete axes list
their values in the rows' order (the chart's sort, done in SQL), series take the palette's
colours in order of first appearance, formats are d3's (as in Vega), a missing annotation
coordinate puts the note at the left or top of the data. Times are shown in the browser's zone
(Vega draws UTC), the one difference a viewer may notice besides those ``bqplot_marks`` lists.

All text (titles, labels, annotations) is set as trait values that bqplot draws as SVG text
nodes, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bqplot as bq
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemas.charts import Annotation, ChartSpec, Customization
from .downsample import Reduction

DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 400
PALETTES: dict[str, list[str]] = {
    "category10": [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ],
    "tableau10": [
        "#4c78a8",
        "#f58518",
        "#e45756",
        "#72b7b2",
        "#54a24b",
        "#eeca3b",
        "#b279a2",
        "#ff9da6",
        "#9d755d",
        "#bab0ac",
    ],
    "colorblind": ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"],
}
"""Vega's category10 and tableau10 schemes and Okabe & Ito's colour-blind safe set."""
RAMPS: dict[str, list[str]] = {
    "viridis": [
        "#440154",
        "#482878",
        "#3e4989",
        "#31688e",
        "#26828e",
        "#1f9e89",
        "#35b779",
        "#6ece58",
        "#b5de2b",
        "#fde725",
    ],
    "blues": ["#cfe1f2", "#93c4de", "#4a98c9", "#1764ab", "#08306b"],
    "yellowgreenblue": [
        "#eff9bd",
        "#c7e9b4",
        "#7fcdbb",
        "#41b6c4",
        "#1d91c0",
        "#225ea8",
        "#253494",
        "#081d58",
    ],
}
"""Continuous colours: Vega's default ramp (blues) and heatmap scheme (yellowgreenblue)."""
LEGEND_PLACES = {"right": "right", "left": "left", "top": "top", "bottom": "bottom"}
DARK = {"background": "#1e1e1e", "text": "#f0f0f0", "axis": "#aaaaaa", "grid": "#444444"}
_AGGREGATE_TITLES = {"count_distinct": "distinct count", "mean": "mean"}


# -- channels -----------------------------------------------------------------------------------


def infer_type(kind: pa.DataType) -> str:
    """Numbers are quantitative, dates and timestamps temporal, the rest nominal."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "quantitative"
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return "temporal"
    return "nominal"


class Channels:
    """Which column each channel reads, how (type), and under what title."""

    def __init__(self, spec: ChartSpec, table: pa.Table, columns: Mapping[str, str]) -> None:
        self.spec, self.table, self.columns = spec, table, dict(columns)
        for channel, column in self.columns.items():
            if column not in table.column_names:
                raise ValueError(f"the chart's rows have no column {column!r} for {channel}")

    def has(self, channel: str) -> bool:
        return channel in self.columns

    def aggregated(self, channel: str) -> bool:
        return self.spec.aggregated(channel)

    def kind(self, channel: str) -> str:
        if self.aggregated(channel):
            return "quantitative"
        encoding = self.spec.channels().get(channel)
        kind = encoding.type if encoding is not None and encoding.type else None
        kind = kind or infer_type(self.table.schema.field(self.columns[channel]).type)
        if self.spec.type == "heatmap" and channel in ("x", "y") and kind != "nominal":
            return "ordinal"
        return kind

    def discrete(self, channel: str) -> bool:
        return self.kind(channel) in ("nominal", "ordinal")

    def title(self, channel: str) -> str:
        encoding = self.spec.channels().get(channel)
        if not self.aggregated(channel):
            return encoding.field if encoding is not None else self.columns[channel]
        if self.spec.type == "histogram" or encoding is None or self.spec.aggregation is None:
            return "count"
        op = self.spec.aggregation.op
        return f"{_AGGREGATE_TITLES.get(op, op)} of {encoding.field}"

    def values(self, channel: str, table: pa.Table | None = None) -> np.ndarray:
        """The channel's values for bqplot: floats, datetime64 or text."""
        column = (table or self.table).column(self.columns[channel])
        return plot_values(column, self.kind(channel))


def plot_values(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if kind == "quantitative":
        return column.cast(pa.float64(), safe=False).to_numpy().astype(np.float64)
    if kind == "temporal":
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.timestamp("ms"))
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))  # its UTC instant
        return column.to_numpy().astype("datetime64[ms]")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.fill_null("null").to_numpy()
    return np.array([category_text(value) for value in column.to_pylist()], dtype=object)


def categories(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Each row's category number and the categories as text, in order of first appearance
    (the rows' order, which is the chart's sort)."""
    encoded = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
    names = [category_text(value) for value in encoded.dictionary.to_pylist()]
    return encoded.indices.to_numpy().astype(np.int64), names


def category_text(value: Any) -> str:
    """A discrete value as an axis label: as JSON would print it (``null``, ``true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def in_order(values: np.ndarray) -> list[Any]:
    """Distinct values in order of first appearance (the rows' order is the chart's sort)."""
    return list(dict.fromkeys(values.tolist()))


# -- colours ------------------------------------------------------------------------------------


def category_colors(palette: str | list[str] | None, count: int) -> list[str]:
    """``count`` series colours from a named palette or a list (cycled, as Vega does)."""
    count = max(1, count)
    if isinstance(palette, list):
        colors = palette
    elif palette == "viridis":
        return ramp_colors(RAMPS["viridis"], count)
    else:
        colors = PALETTES.get(palette or "tableau10", PALETTES["tableau10"])
    return [colors[i % len(colors)] for i in range(count)]


def ramp_colors(stops: list[str], count: int) -> list[str]:
    """``count`` colours evenly spaced along the ramp ``stops``."""
    if count == 1:
        return [stops[0]]
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in stops], float)
    positions = np.linspace(0, len(stops) - 1, count)
    out = []
    for position in positions:
        low = int(np.floor(position))
        high = min(low + 1, len(stops) - 1)
        mixed = rgb[low] + (rgb[high] - rgb[low]) * (position - low)
        out.append("#" + "".join(f"{round(v):02x}" for v in mixed))
    return out


def continuous_colors(palette: str | list[str] | None, heatmap: bool) -> list[str]:
    """A quantitative colour's range as the export draws it: Vega reads heatmap cells from its
    ``heatmap`` range (yellowgreenblue) and other marks from ``ramp`` (the palette when it is
    viridis or a list of colours, else blues)."""
    if heatmap:
        return RAMPS["yellowgreenblue"]
    if isinstance(palette, list):
        return palette if len(palette) > 1 else [palette[0], palette[0]]
    return RAMPS["viridis"] if palette == "viridis" else RAMPS["blues"]


# -- the figure ---------------------------------------------------------------------------------


@dataclass
class Plot:
    """What a per-type builder returns: marks, axes and the scales annotations go on."""

    marks: list[bq.Mark]
    axes: list[bq.Axis]
    reduction: Reduction
    scales: dict[str, bq.Scale] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    """The type of the x and y scales (for placing annotations)."""
    extent: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """The data's range on x and y (first and last category on a discrete axis)."""
    notes: list[str] = field(default_factory=list)


def scale_for(kind: str, order: list[Any] | None = None) -> bq.Scale:
    if kind == "quantitative":
        return bq.LinearScale()
    if kind == "temporal":
        return bq.DateScale()
    return bq.OrdinalScale(domain=list(order or []))


def axis_for(
    scale: bq.Scale, label: str, kind: str, look: Customization, vertical: bool
) -> bq.Axis:
    tick_format = None
    if kind == "quantitative" and look.number_format:
        tick_format = look.number_format
    if kind == "temporal" and look.date_format:
        tick_format = look.date_format
    return bq.Axis(
        scale=scale,
        label=label,
        tick_format=tick_format,
        orientation="vertical" if vertical else "horizontal",
        grid_lines="solid" if kind != "nominal" else "none",
        label_offset="50px" if vertical else "35px",
    )


def figure_margin(look: Customization) -> dict[str, int]:
    """The figure's margins around the plot area (room for the title and axis labels)."""
    return {"top": 50 if look.title else 20, "bottom": 55, "left": 75, "right": 30}


def plot_length(look: Customization, vertical: bool) -> int:
    """The plot area's height (``vertical``) or width in pixels: what an axis spans."""
    margin = figure_margin(look)
    if vertical:
        return (look.height or DEFAULT_HEIGHT) - margin["top"] - margin["bottom"]
    return (look.width or DEFAULT_WIDTH) - margin["left"] - margin["right"]


def axes_titles(fields: Channels, look: Customization, x: str = "x", y: str = "y") -> list[str]:
    x_title = look.x_label if look.x_label is not None else fields.title(x)
    y_title = look.y_label if look.y_label is not None else fields.title(y)
    return [x_title, y_title]


def extent_of(values: np.ndarray, kind: str) -> tuple[Any, Any]:
    if len(values) == 0:
        return (None, None)
    if kind in ("nominal", "ordinal"):
        order = in_order(values)
        return (order[0], order[-1])
    return (values.min(), values.max())


def style_figure(figure: bq.Figure, look: Customization) -> None:
    if look.theme != "dark":
        figure.background_style = {"fill": "white"}
        return
    figure.background_style = {"fill": DARK["background"]}
    figure.title_style = {"fill": DARK["text"]}
    figure.legend_text = {"fill": DARK["text"]}
    for axis in figure.axes:
        axis.color = DARK["axis"]
        axis.label_color = DARK["text"]
        axis.grid_color = DARK["grid"]


# -- annotations ----------------------------------------------------------------------------------


def annotation_marks(notes: list[Annotation], plot: Plot, look: Customization) -> list[bq.Mark]:
    """Text at a data point and dashed rules across the plot, on the chart's own scales; a
    missing coordinate puts text at the left or top of the data (as the export does)."""
    ink = "#dddddd" if look.theme == "dark" else "#333333"  # the export's annotation ink
    scales = {"x": plot.scales["x"], "y": plot.scales["y"]}
    marks: list[bq.Mark] = []
    for note in notes:
        x = position(note.x, plot.kinds["x"])
        y = position(note.y, plot.kinds["y"])
        if note.rule:
            if x is not None:
                xs, ys = [x, x], list(plot.extent["y"])
            else:
                xs, ys = list(plot.extent["x"]), [y, y]
            if None not in xs and None not in ys:
                marks.append(
                    bq.Lines(
                        x=xs,
                        y=ys,
                        scales=scales,
                        colors=[ink],
                        line_style="dashed",
                        stroke_width=1,
                        preserve_domain={"x": True, "y": True},
                    )
                )
        if note.text:
            at_x = x if x is not None else plot.extent["x"][0]
            at_y = y if y is not None else plot.extent["y"][1]
            if at_x is None or at_y is None:
                continue
            marks.append(
                bq.Label(
                    x=[at_x],
                    y=[at_y],
                    text=[note.text],
                    scales=scales,
                    colors=[ink],
                    default_size=11,
                    align="start",
                    x_offset=4,
                    y_offset=-4,
                )
            )
    return marks


def position(value: Any, kind: str) -> Any:
    """An annotation's coordinate on an axis of ``kind`` (ISO text on a time axis)."""
    if value is None:
        return None
    if kind == "temporal":
        return np.datetime64(str(value).rstrip("Z"), "ms")
    if kind in ("nominal", "ordinal"):
        return category_text(value)
    return float(value)

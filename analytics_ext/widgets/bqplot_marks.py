"""A chart spec and its rows as bqplot marks, axes and scales: one builder per chart type.

The rows arrive drawn-ready (aggregated, sorted and limited by the server, histograms binned);
each builder places them as ``engine.vega_lite`` does for the export (see ``chart_look`` for the
shared reading rules): bars of a ``color`` side by side on a discrete axis unless ``stacked``,
horizontal when x is the value; lines and areas per series in x order, areas overlapping unless
stacked; histogram bars spanning their bins; pies round in the rows' order; heatmap cells by x
and y; Tukey box plots. A box plot whose category is on y is drawn vertically here.

Before any mark is made, big inputs are reduced (``downsample``) so that the marks hold at most
``budget`` points in all: line and area series by MinMaxLTTB, scatters by 2D binning (or a
stratified sample on a category axis), box plots as exact five-number rows; bars, slices and
cells, which the server has already aggregated, are cut to the first ones past the budget.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import bqplot as bq
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemas.charts import ChartSpec, Customization
from .chart_look import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    LEGEND_PLACES,
    Channels,
    Plot,
    annotation_marks,
    axes_titles,
    axis_for,
    categories,
    category_colors,
    continuous_colors,
    extent_of,
    figure_margin,
    in_order,
    plot_length,
    scale_for,
    style_figure,
)
from .date_ticks import bound_date_axis
from .downsample import (
    MAX_POINTS,
    Reduction,
    bin_scatter,
    box_values,
    downsample_lines,
    drop_nulls,
    line_indices,
    numeric,
    sample_rows,
)

CONTINUOUS = ("quantitative", "temporal")


@dataclass
class Drawing:
    """A figure, and how its rows were reduced on the way."""

    figure: bq.Figure
    reduction: Reduction
    notes: list[str] = field(default_factory=list)
    subtitle: str = ""

    @property
    def points(self) -> int:
        """How many data values the marks hold (what crosses to the browser)."""
        return sum(mark_points(mark) for mark in self.figure.marks)


def mark_points(mark: bq.Mark) -> int:
    """The data values a mark draws: one per point, bar, slice, cell or box value."""
    if isinstance(mark, bq.Pie):
        return int(np.size(mark.sizes))
    if isinstance(mark, bq.GridHeatMap):
        return int(np.size(mark.color))
    if isinstance(mark, bq.Bars | bq.Boxplot):
        return int(np.size(mark.y))
    return int(np.size(mark.x))


def draw(
    spec: ChartSpec,
    look: Customization,
    table: pa.Table,
    columns: Mapping[str, str],
    *,
    budget: int = MAX_POINTS,
) -> Drawing:
    """The bqplot figure of ``table`` (the chart's rows) as ``spec`` and ``look`` say."""
    fields = Channels(spec, table, columns)
    reserved = sum(2 * note.rule + bool(note.text) for note in look.annotations)
    plot = BUILDERS[spec.type](fields, look, max(1, budget - reserved))
    if plot.reduction.reduced:  # count what the marks hold (a stack shares its x positions)
        drawn = sum(mark_points(mark) for mark in plot.marks)
        plot.reduction = replace(plot.reduction, drawn_points=drawn)
    notes = list(plot.notes)
    if look.annotations:
        if spec.type == "pie":
            notes.append("A pie chart has no axes to place notes on: its notes are not shown.")
        else:
            plot.marks.extend(annotation_marks(look.annotations, plot, look))
    figure = bq.Figure(
        marks=plot.marks,
        axes=plot.axes,
        title=look.title or "",
        animation_duration=0,
        fig_margin=figure_margin(look),
        legend_location=LEGEND_PLACES.get(look.legend or "right", "right"),
    )
    width, height = look.width or DEFAULT_WIDTH, look.height or DEFAULT_HEIGHT
    figure.layout.width, figure.layout.height = f"{width}px", f"{height}px"
    style_figure(figure, look)
    return Drawing(figure, plot.reduction, notes, look.subtitle or "")


# -- helpers ------------------------------------------------------------------------------------


def _series(fields: Channels, table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Each row's series number and the series names, in order of first appearance (one
    unnamed series without a ``color``)."""
    if not fields.has("color"):
        return np.zeros(table.num_rows, np.int64), [""]
    return categories(table.column(fields.columns["color"]))


def _legend(look: Customization, names: list[str]) -> bool:
    """A legend for named series, unless the customization hides it."""
    return look.legend != "none" and names != [""]


def _xy_plot(
    fields: Channels,
    look: Customization,
    marks: list[bq.Mark],
    scales: dict[str, bq.Scale],
    table: pa.Table,
    reduction: Reduction,
) -> Plot:
    kinds = {"x": fields.kind("x"), "y": fields.kind("y")}
    x_title, y_title = axes_titles(fields, look)
    axes = [
        axis_for(scales["x"], x_title, kinds["x"], look, vertical=False),
        axis_for(scales["y"], y_title, kinds["y"], look, vertical=True),
    ]
    extent = {c: extent_of(fields.values(c, table), kinds[c]) for c in ("x", "y")}
    for axis, channel in zip(axes, ("x", "y"), strict=True):
        if kinds[channel] == "temporal":  # dates as calendar ticks whose labels fit
            length = plot_length(look, vertical=channel == "y")
            bound_date_axis(axis, extent[channel], length, look.date_format)
    return Plot(marks, axes, reduction, scales, kinds, extent)


def _scales(fields: Channels, table: pa.Table) -> dict[str, bq.Scale]:
    return {c: scale_for(fields.kind(c), in_order(fields.values(c, table))) for c in ("x", "y")}


def _cut(table: pa.Table, budget: int, per_row: int = 1) -> tuple[pa.Table, Reduction]:
    total = table.num_rows * per_row
    if total <= budget:
        return table, Reduction("none", total, total)
    kept = table.slice(0, budget // per_row)
    return kept, Reduction("first", total, kept.num_rows * per_row)


# -- lines and areas ----------------------------------------------------------------------------


def lines(fields: Channels, look: Customization, budget: int) -> Plot:
    x, y = fields.columns["x"], fields.columns["y"]
    series = fields.columns.get("color")
    table = drop_nulls(fields.table, x, y)
    stacked = fields.spec.type == "area" and fields.spec.stacked and series is not None
    if fields.kind("x") not in CONTINUOUS:
        table, reduction = _cut(table, budget)  # points in the category axis's order
    elif stacked:
        table, reduction = _stack_reduce(table, x, y, series, budget)
    else:
        table, reduction = downsample_lines(table, x, y, series, budget)
    scales = _scales(fields, table)
    codes, names = _series(fields, table)
    colors = category_colors(look.palette, len(names))
    xs, ys = fields.values("x", table), fields.values("y", table)
    area = fields.spec.type == "area"
    overlap = area and series is not None and not stacked
    traces = [(xs[codes == i], ys[codes == i]) for i in range(len(names))]
    if stacked:
        traces = _cumulative(traces)
    marks: list[bq.Mark] = []
    order = range(len(names) - 1, -1, -1) if stacked else range(len(names))
    for i in order:  # stacked areas paint the highest first, each lower one over it
        marks.append(
            bq.Lines(
                x=traces[i][0],
                y=traces[i][1],
                scales=scales,
                colors=[colors[i]],
                labels=[names[i]],
                display_legend=_legend(look, names) and series is not None,
                fill="bottom" if area else "none",
                fill_colors=[colors[i]],
                fill_opacities=[0.6 if overlap else 1.0],
                stroke_width=2 if not area else 1,
            )
        )
    return _xy_plot(fields, look, marks, scales, table, reduction)


def _stack_reduce(
    table: pa.Table, x: str, y: str, series: str, budget: int
) -> tuple[pa.Table, Reduction]:
    """Stacked series share their x positions: above the budget, keep the positions MinMaxLTTB
    picks on the total (the stack's top edge), the same for every series."""
    totals = table.group_by(x).aggregate([(y, "sum")]).sort_by(x)
    series_count = pc.count_distinct(table.column(series)).as_py() or 1
    share = budget // series_count
    total = table.num_rows
    if totals.num_rows * series_count <= budget:
        return table, Reduction("none", total, total)
    xs = totals.column(x).to_numpy()
    chosen = line_indices(xs, totals.column(f"{y}_sum").to_numpy(), share)
    keep = table.filter(pc.is_in(table.column(x), value_set=totals.column(x).take(chosen)))
    return keep, Reduction("minmax-lttb", total, keep.num_rows)


def _cumulative(traces: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each series' top edge in a stack: the sum of it and the series before it at every x of
    any series (a series missing at an x adds nothing there)."""
    union = np.unique(np.concatenate([t[0] for t in traces])) if traces else np.array([])
    running = np.zeros(len(union))
    out = []
    for xs, ys in traces:
        level = np.zeros(len(union))
        np.add.at(level, np.searchsorted(union, xs), np.nan_to_num(ys.astype(np.float64)))
        running = running + level
        out.append((union, running.copy()))
    return out


# -- scatters -----------------------------------------------------------------------------------


def scatter(fields: Channels, look: Customization, budget: int) -> Plot:
    x, y = fields.columns["x"], fields.columns["y"]
    color_is_series = fields.has("color") and fields.discrete("color")
    series = fields.columns["color"] if color_is_series else None
    means = [fields.columns["size"]] if fields.has("size") else []
    if fields.has("color") and not color_is_series:
        means.append(fields.columns["color"])
    table = drop_nulls(fields.table, x, y)
    binned = fields.kind("x") in CONTINUOUS and fields.kind("y") in CONTINUOUS
    count = "__cell_count"
    if binned:
        table, reduction = bin_scatter(table, x, y, series, means, budget, count)
    else:
        numeric_columns = [c for c in (x, y) if fields.kind("x" if c == x else "y") in CONTINUOUS]
        table, reduction = sample_rows(table, series, numeric_columns, budget)
    scales = _scales(fields, table)
    codes, names = _series(fields, table)
    colors = category_colors(look.palette, len(names))
    xs, ys = fields.values("x", table), fields.values("y", table)
    size_values = None
    if fields.has("size"):
        size_values = table.column(fields.columns["size"]).cast(pa.float64()).to_numpy()
    elif count in table.column_names:
        size_values = table.column(count).to_numpy().astype(np.float64)
    marks: list[bq.Mark] = []
    if fields.has("color") and not color_is_series:
        color_values = table.column(fields.columns["color"]).cast(pa.float64()).to_numpy()
        color_scale = bq.ColorScale(colors=continuous_colors(look.palette, heatmap=False))
        marks.append(_points(xs, ys, size_values, {**scales, "color": color_scale}, color_values))
    else:
        for i, name in enumerate(names):
            rows = codes == i
            sizes = None if size_values is None else size_values[rows]
            mark = _points(xs[rows], ys[rows], sizes, dict(scales), None, colors[i])
            mark.labels = [name]
            mark.display_legend = _legend(look, names)
            marks.append(mark)
    return _xy_plot(fields, look, marks, scales, table, reduction)


def _points(
    xs: np.ndarray,
    ys: np.ndarray,
    sizes: np.ndarray | None,
    scales: dict[str, bq.Scale],
    color: np.ndarray | None,
    fill: str = "#4c78a8",
) -> bq.Scatter:
    options: dict[str, object] = {"default_size": 30, "stroke": None, "default_opacities": [0.8]}
    if sizes is not None:
        scales["size"] = bq.LinearScale(min=0)
        options.update(size=sizes, default_size=200)
    if color is not None:
        options["color"] = color
    else:
        options["colors"] = [fill]
    return bq.Scatter(x=xs, y=ys, scales=scales, marker="circle", **options)


# -- bars and histograms --------------------------------------------------------------------------


def bars(fields: Channels, look: Customization, budget: int) -> Plot:
    kinds = {"x": fields.kind("x"), "y": fields.kind("y")}
    horizontal = kinds["x"] == "quantitative" and kinds["y"] != "quantitative"
    category, value = ("y", "x") if horizontal else ("x", "y")
    table = drop_nulls(fields.table, fields.columns[category])
    codes, names = _series(fields, table)
    if fields.kind(category) in ("nominal", "ordinal"):
        cats = in_order(fields.values(category, table))
        reduction = Reduction("none", len(cats) * len(names), len(cats) * len(names))
        if len(cats) * len(names) > budget:
            cats = cats[: max(1, budget // len(names))]
            reduction = Reduction("first", reduction.source_points, len(cats) * len(names))
        positions = {c: i for i, c in enumerate(cats)}
        matrix = np.zeros((len(names), len(cats)))
        for s, c, v in zip(
            codes, fields.values(category, table), fields.values(value, table), strict=True
        ):
            if c in positions and v == v:  # v == v: not NaN
                matrix[s, positions[c]] += v
        cat_scale = bq.OrdinalScale(domain=cats)
        layout = "stacked" if fields.spec.stacked or len(names) == 1 else "grouped"
        marks: list[bq.Mark] = [
            _bars(
                cats,
                matrix if len(names) > 1 else matrix[0],
                cat_scale,
                names,
                look,
                horizontal,
                layout,
            )
        ]
    else:  # bars at positions on a continuous axis: per series, overlapping or stacked
        table, reduction = _cut(table, budget)
        codes, names = _series(fields, table)
        cat_scale = scale_for(fields.kind(category))
        marks = _continuous_bars(
            fields.values(category, table),
            fields.values(value, table),
            codes,
            names,
            cat_scale,
            look,
            fields.spec.stacked,
            opacity=1.0,
            padding=0.1,
        )
    value_scale = bq.LinearScale()
    for mark in marks:
        mark.scales = {"x": cat_scale, "y": value_scale}
    scales = {category: cat_scale, value: value_scale}
    return _xy_plot(fields, look, marks, scales, table, reduction)


def _bars(
    cats: list[object] | np.ndarray,
    values: np.ndarray,
    scale: bq.Scale,
    names: list[str],
    look: Customization,
    horizontal: bool,
    layout: str,
    opacity: float = 1.0,
    padding: float = 0.1,
    colors: list[str] | None = None,
) -> bq.Bars:
    colors = colors or category_colors(look.palette, len(names))
    return bq.Bars(
        x=cats,
        y=values,
        scales={"x": scale, "y": bq.LinearScale()},
        type=layout,
        colors=colors,
        labels=names,
        display_legend=_legend(look, names),
        orientation="horizontal" if horizontal else "vertical",
        padding=padding,
        opacities=[opacity] * len(names),
        stroke=None,
    )


def _continuous_bars(
    positions: np.ndarray,
    values: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    scale: bq.Scale,
    look: Customization,
    stacked: bool,
    opacity: float,
    padding: float,
) -> list[bq.Mark]:
    """Bars at x positions: one mark per series (overlapping), or one stacked mark on the
    positions of every series."""
    colors = category_colors(look.palette, len(names))
    if stacked and len(names) > 1:
        union = np.unique(positions)
        matrix = np.zeros((len(names), len(union)))
        np.add.at(matrix, (codes, np.searchsorted(union, positions)), np.nan_to_num(values))
        return [_bars(union, matrix, scale, names, look, False, "stacked", 1.0, padding)]
    return [
        _bars(
            positions[codes == i],
            values[codes == i],
            scale,
            [name],
            look,
            False,
            "stacked",
            opacity if len(names) > 1 else 1.0,
            padding,
            [colors[i]],
        )
        for i, name in enumerate(names)
    ]


def histogram(fields: Channels, look: Customization, budget: int) -> Plot:
    table, reduction = _cut(fields.table, budget)
    kind = "temporal" if fields.kind("x") == "temporal" else "quantitative"
    starts = _bin_edges(table.column(fields.columns["x"]), kind)
    ends = _bin_edges(table.column(fields.columns["x_end"]), kind)
    middles = starts + (ends - starts) / 2
    counts = table.column(fields.columns["y"]).to_numpy().astype(np.float64)
    codes, names = _series(fields, table)
    scale = scale_for(kind)
    marks = _continuous_bars(
        middles, counts, codes, names, scale, look, fields.spec.stacked, 0.7, padding=0.0
    )
    value_scale = bq.LinearScale(min=0)
    for mark in marks:
        mark.scales = {"x": scale, "y": value_scale}
    plot = _xy_plot(fields, look, marks, {"x": scale, "y": value_scale}, table, reduction)
    plot.kinds["x"] = kind
    plot.extent["x"] = (starts.min(), ends.max()) if len(starts) else (None, None)
    return plot


def _bin_edges(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    if kind == "temporal":
        return column.cast(pa.timestamp("ms")).to_numpy().astype("datetime64[ms]")
    return column.cast(pa.float64()).to_numpy()


# -- pies, heatmaps, box plots ------------------------------------------------------------------


def pie(fields: Channels, look: Customization, budget: int) -> Plot:
    table, reduction = _cut(fields.table, budget)
    labels = [str(v) for v in fields.values("x", table)]
    sizes = np.nan_to_num(fields.values("y", table))
    width, height = look.width or DEFAULT_WIDTH, look.height or DEFAULT_HEIGHT
    mark = bq.Pie(
        sizes=sizes,
        labels=labels,
        colors=category_colors(look.palette, len(labels)),
        display_labels="none",
        display_legend=look.legend != "none",
        sort=False,
        inner_radius=0,
        radius=max(20, min(width, height) // 2 - 60),
        stroke="white",
    )
    return Plot([mark], [], reduction)


def heatmap(fields: Channels, look: Customization, budget: int) -> Plot:
    table = drop_nulls(fields.table, fields.columns["x"], fields.columns["y"])
    xs, ys = fields.values("x", table), fields.values("y", table)
    columns, rows = in_order(xs), in_order(ys)
    source = len(columns) * len(rows)
    if source > budget:
        columns = columns[:budget]
        rows = rows[: max(1, budget // len(columns))]
    reduction = Reduction("first" if source > budget else "none", source, len(columns) * len(rows))
    at_column = {c: i for i, c in enumerate(columns)}
    at_row = {r: i for i, r in enumerate(rows)}
    matrix = np.full((len(rows), len(columns)), np.nan)
    for x, y, v in zip(xs, ys, fields.values("color", table), strict=True):
        if x in at_column and y in at_row:
            matrix[at_row[y], at_column[x]] = v
    column_scale, row_scale = bq.OrdinalScale(domain=columns), bq.OrdinalScale(domain=rows)
    color_scale = bq.ColorScale(colors=continuous_colors(look.palette, heatmap=True))
    background = "#1e1e1e" if look.theme == "dark" else "white"
    mark = bq.GridHeatMap(
        row=rows,
        column=columns,
        color=matrix,
        null_color=background,
        stroke=background,
        scales={"row": row_scale, "column": column_scale, "color": color_scale},
    )
    x_title, y_title = axes_titles(fields, look)
    axes = [
        axis_for(column_scale, x_title, "ordinal", look, vertical=False),
        axis_for(row_scale, y_title, "ordinal", look, vertical=True),
    ]
    if look.legend != "none":
        axes.append(bq.ColorAxis(scale=color_scale, label=fields.title("color"), side="right"))
    scales = {"x": column_scale, "y": row_scale}
    extent = (
        {"x": (columns[0], columns[-1]), "y": (rows[0], rows[-1])}
        if source
        else {"x": (None, None), "y": (None, None)}
    )
    return Plot([mark], axes, reduction, scales, {"x": "ordinal", "y": "ordinal"}, extent)


def box(fields: Channels, look: Customization, budget: int) -> Plot:
    notes = []
    category, value = "x", "y"
    if fields.kind("x") == "quantitative" and fields.discrete("y"):
        category, value = "y", "x"
        notes.append("Box plots are drawn vertically here (the export draws them across).")
    table = drop_nulls(fields.table, fields.columns[category], fields.columns[value])
    cat_codes, cats = categories(table.column(fields.columns[category]))
    values = numeric(fields.values(value, table)).astype(np.float64)
    codes, names = _series(fields, table)
    most_boxes = max(1, budget // 5 // len(names))
    if len(cats) > most_boxes:
        notes.append(f"The first {most_boxes} of {len(cats)} boxes are shown.")
        cats = cats[:most_boxes]
    cat_scale, value_scale = bq.OrdinalScale(domain=cats), bq.LinearScale()
    colors = category_colors(look.palette, len(names))
    marks: list[bq.Mark] = []
    source = drawn = 0
    # rows ordered by (series, category): each box's values are one slice
    order = np.lexsort((cat_codes, codes))
    keys = codes[order] * len(cat_codes) + cat_codes[order]
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    slices = {int(keys[a]): values[order[a:b]] for a, b in itertools.pairwise(bounds)}
    for i, name in enumerate(names):
        present = [c for j, c in enumerate(cats) if i * len(cat_codes) + j in slices]
        if not present:
            continue
        groups = [slices[i * len(cat_codes) + cats.index(c)] for c in present]
        matrix, reduction = box_values(groups, budget // len(names))
        source, drawn = source + reduction.source_points, drawn + reduction.drawn_points
        marks.append(
            bq.Boxplot(
                x=np.array(present, dtype=object),
                y=matrix,
                scales={"x": cat_scale, "y": value_scale},
                box_fill_color=colors[i],
                outlier_fill_color=colors[i],
                stroke="#333333",
                labels=[name],
                display_legend=names != [""] and look.legend != "none",
                opacities=[0.8],
            )
        )
    summary = Reduction("box-summary" if source > drawn else "none", source, drawn)
    scales = {category: cat_scale, value: value_scale}
    plot = _xy_plot(fields, look, marks, scales, table, summary)
    if category == "y":  # drawn vertically: the category on the horizontal axis
        plot.axes[0].scale, plot.axes[1].scale = cat_scale, value_scale
        plot.axes[0].label, plot.axes[1].label = plot.axes[1].label, plot.axes[0].label
        plot.scales = {"x": cat_scale, "y": value_scale}
        plot.kinds = {"x": plot.kinds["y"], "y": plot.kinds["x"]}
        plot.extent = {"x": plot.extent["y"], "y": plot.extent["x"]}
    plot.notes = notes
    return plot


BUILDERS: dict[str, Callable[[Channels, Customization, int], Plot]] = {
    "bar": bars,
    "line": lines,
    "area": lines,
    "scatter": scatter,
    "pie": pie,
    "histogram": histogram,
    "heatmap": heatmap,
    "box": box,
}

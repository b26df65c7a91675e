"""A chart (``ChartSpec`` + ``Customization`` + the rows it draws) as a Vega-Lite spec.

The server renders exports from this spec (``engine.chart_render``) and offers it as the chart's
``vega-lite`` export, so it is self-contained: data inline, no URL, theme and palette in
``config``.

The rows arrive drawn-ready (``engine.chart_sql``): aggregated, sorted and limited on the
datasource, histograms already binned (``x``, ``x_end``, ``y`` = count); ``columns`` maps each
channel to its column. The spec only draws them, so discrete axes list their categories in the
rows' order (which is the chart's sort), and Vega-Lite aggregates nothing except a box plot's
quartiles.

Safety: every title, label and annotation is placed as a plain string, which Vega draws as
escaped SVG text; nothing here builds markup or a Vega expression from user text. Column names
Vega would parse as nested paths (``a.b``, ``c[0]``, quotes, backslashes) travel under a plain
alias (``_c0``), with the real name as the title. Temporal values are UTC ISO strings drawn on
UTC scales, so a chart reads the same whatever the server's time zone (naive timestamps are
shown as stored, zoned ones in UTC).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Invalid
from ..schemas.charts import Annotation, ChartSpec, Customization
from .export import jsonable

VEGA_LITE_VERSION = "5.20"
"""The Vega-Lite library (bundled in vl-convert) every export is compiled with."""
SCHEMA_URL = f"https://vega.github.io/schema/vega-lite/v{VEGA_LITE_VERSION}.json"
DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 400
MAX_FACETS = 36

NAMED_PALETTES: dict[str, str | list[str]] = {
    "category10": "category10",
    "tableau10": "tableau10",
    "viridis": "viridis",
    # Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
    "colorblind": ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"],
}
FIRST_COLOR = {"category10": "#1f77b4", "tableau10": "#4c78a8", "viridis": "#440154"}
DARK_CONFIG: dict[str, Any] = {
    "background": "#1e1e1e",
    "title": {"color": "#f0f0f0", "subtitleColor": "#cccccc"},
    "style": {"guide-label": {"fill": "#e0e0e0"}, "guide-title": {"fill": "#f0f0f0"}},
    "axis": {"domainColor": "#aaaaaa", "gridColor": "#444444", "tickColor": "#aaaaaa"},
    "view": {"stroke": "#555555"},
}
ANNOTATION_INK = {"light": "#333333", "dark": "#dddddd"}
_PLAIN_NAME = re.compile(r"^[^.\[\]\\\"']+$")
_AGGREGATE_TITLES = {"count_distinct": "distinct count", "mean": "mean"}


def default_columns(spec: ChartSpec) -> dict[str, str]:
    """Channel → column when the rows carry each encoded field under its own name (and a
    count without a y field as ``count``)."""
    columns = {channel: encoding.field for channel, encoding in spec.channels().items()}
    if "y" not in columns:
        columns["y"] = "count"
    return columns


def to_vega_lite(
    spec: ChartSpec,
    customization: Customization,
    table: pa.Table,
    columns: Mapping[str, str] | None = None,
    *,
    width: int | None = None,
    height: int | None = None,
) -> dict[str, Any]:
    """The Vega-Lite spec drawing ``table`` as ``spec`` says, styled by ``customization``,
    ``width`` by ``height`` CSS pixels overall (default: the customization's size)."""
    width = width or customization.width or DEFAULT_WIDTH
    height = height or customization.height or DEFAULT_HEIGHT
    fields = Fields(spec, table, columns or default_columns(spec))
    encoding = _pie(spec, customization, fields) if spec.type == "pie" else None
    encoding = encoding or _encoding(spec, customization, fields)
    unit: dict[str, Any] = {"mark": _mark(spec), "encoding": encoding}
    layers = _annotations(spec, customization, encoding)
    if layers:
        unit = {"layer": [unit, *layers]}
    chart: dict[str, Any] = {"$schema": SCHEMA_URL}
    title = _title(customization)
    if title:
        chart["title"] = title
    chart["data"] = {"values": fields.rows(numbered=spec.type == "pie")}
    if "facet" not in fields.columns:
        chart.update(width=width, height=height, autosize={"type": "fit", "contains": "padding"})
        chart.update(unit)
    else:
        grid_columns, grid_rows = _facet_grid(table, fields.columns["facet"])
        chart["facet"] = fields.channel("facet")
        chart["facet"].pop("scale", None)
        chart["facet"]["header"] = {"title": chart["facet"].pop("title")}
        chart["columns"] = grid_columns
        chart["spec"] = {
            "width": max(20, (width - 90) // grid_columns - 20),
            "height": max(20, (height - 80 - (40 if title else 0)) // grid_rows - 30),
            **unit,
        }
        chart["autosize"] = {"type": "pad"}
        chart["usermeta"] = {"grid": [grid_columns, grid_rows]}
    chart["config"] = _config(customization)
    return chart


# -- data --------------------------------------------------------------------------------------


class Fields:
    """The columns a chart draws: their Vega-Lite field names, types, titles and rows."""

    def __init__(self, spec: ChartSpec, table: pa.Table, columns: Mapping[str, str]) -> None:
        self.spec, self.table, self.columns = spec, table, dict(columns)
        self.names: dict[str, str] = {}  # table column -> Vega-Lite field
        taken = set(table.column_names)
        for channel, column in self.columns.items():
            if column not in taken:
                raise Invalid(
                    f"spec.encodings.{channel}.field", f"the rows have no column {column!r}"
                )
            alias, number = column, 0
            while not _PLAIN_NAME.match(alias) or (alias != column and alias in taken):
                alias, number = f"_c{number}", number + 1
            taken.add(alias)
            self.names.setdefault(column, alias)

    def aggregated(self, channel: str) -> bool:
        return self.spec.aggregated(channel)

    def type_of(self, channel: str) -> str:
        if self.aggregated(channel):
            return "quantitative"
        encoding = self.spec.channels().get(channel)
        if encoding is not None and encoding.type is not None:
            return encoding.type
        return infer_type(self.table.schema.field(self.columns[channel]).type)

    def title(self, channel: str) -> str:
        encoding = self.spec.channels().get(channel)
        if not self.aggregated(channel):
            return encoding.field if encoding is not None else self.columns[channel]
        if self.spec.type == "histogram" or encoding is None or self.spec.aggregation is None:
            return "count"
        op = self.spec.aggregation.op
        return f"{_AGGREGATE_TITLES.get(op, op)} of {encoding.field}"

    def channel(self, channel: str) -> dict[str, Any]:
        kind = self.type_of(channel)
        out: dict[str, Any] = {"field": self.names[self.columns[channel]], "type": kind}
        out["title"] = self.title(channel)
        if kind == "temporal":
            out["scale"] = {"type": "utc"}
        return out

    def order(self, channel: str) -> list[Any]:
        """The channel's distinct values in the rows' order: the chart's sort, done in SQL."""
        distinct = pc.unique(self.table.column(self.columns[channel]))
        return [value for value in json_values(distinct) if value is not None]

    @property
    def row_number(self) -> str:
        """A field holding each row's position (0, 1, ...), named apart from the columns."""
        name, taken = "_row", {*self.names, *self.names.values()}
        while name in taken:
            name += "_"
        return name

    def rows(self, numbered: bool = False) -> list[dict[str, Any]]:
        values = {
            alias: json_values(self.table.column(column)) for column, alias in self.names.items()
        }
        if numbered:
            values[self.row_number] = list(range(self.table.num_rows))
        return [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]


def infer_type(arrow_type: pa.DataType) -> str:
    """Numbers are quantitative, dates and timestamps temporal, the rest nominal."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "quantitative"
    if pa.types.is_decimal(arrow_type):
        return "quantitative"
    if pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type):
        return "temporal"
    return "nominal"


def json_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """A column as JSON values: dates and timestamps as UTC ISO text, decimals as floats,
    NaN and infinities as null, durations in seconds, anything else through ``jsonable``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.dictionary_decode()
        kind = column.type
    if pa.types.is_decimal(kind):
        column, kind = column.cast(pa.float64()), pa.float64()
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_finite(column), column, pa.nulls(len(column), kind)).to_pylist()
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return column.to_pylist()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.to_pylist()
    if pa.types.is_date(kind):
        return pc.strftime(column, format="%Y-%m-%d").to_pylist()
    if pa.types.is_timestamp(kind):
        utc = column.cast(pa.timestamp("ms"), safe=False)  # zoned: its UTC instant
        text = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S")
        return pc.binary_join_element_wise(text, pa.scalar("Z"), "").to_pylist()
    if pa.types.is_duration(kind):
        return [None if v is None else v.total_seconds() for v in column.to_pylist()]
    return [jsonable(value) for value in column.to_pylist()]


def _facet_grid(table: pa.Table, column: str) -> tuple[int, int]:
    panels = pc.count_distinct(table.column(column), mode="all").as_py()
    if panels > MAX_FACETS:
        raise Invalid(
            "spec.encodings.facet",
            f"{panels} panels are more than the {MAX_FACETS} a chart draws; facet by a column "
            "with fewer values",
        )
    grid_columns = max(1, math.ceil(math.sqrt(panels)))
    return grid_columns, max(1, math.ceil(panels / grid_columns))


# -- marks and encodings -------------------------------------------------------------------------


def _mark(spec: ChartSpec) -> dict[str, Any]:
    overlap = spec.encodings.color is not None and not spec.stacked
    marks = {
        "bar": {"type": "bar"},
        "line": {"type": "line"},
        "area": {"type": "area", **({"opacity": 0.6} if overlap else {})},
        "scatter": {"type": "point", "filled": True},
        "pie": {"type": "arc"},
        "histogram": {"type": "bar", **({"opacity": 0.7} if overlap else {})},
        "heatmap": {"type": "rect"},
        "box": {"type": "boxplot"},
    }
    return marks[spec.type]


def _encoding(spec: ChartSpec, custom: Customization, fields: Fields) -> dict[str, Any]:
    x, y = fields.channel("x"), fields.channel("y")
    out: dict[str, Any] = {"x": x, "y": y}
    if spec.type == "histogram":  # binned in Arrow: bars span [x, x_end)
        x["bin"] = "binned"
        out["x2"] = {"field": fields.names[fields.columns["x_end"]]}
    if spec.type == "heatmap":  # one cell per (x, y) group: discrete axes
        for channel in (x, y):
            if channel["type"] != "nominal":
                channel["type"] = "ordinal"
                channel.pop("scale", None)
    for name, channel in (("x", x), ("y", y)):
        if _discrete(channel):
            channel["sort"] = fields.order(name)
    if custom.x_label is not None:
        x["title"] = custom.x_label
    if custom.y_label is not None:
        y["title"] = custom.y_label
    for channel in (x, y):
        axis = _format(custom, channel)
        if axis:
            channel["axis"] = axis
    for name in ("color", "size"):
        if name in fields.columns:
            out[name] = fields.channel(name)
            out[name]["legend"] = _legend(custom, out[name])
            if name == "color" and _discrete(out[name]):
                out[name]["sort"] = fields.order(name)
    if "color" in out and spec.type in ("bar", "area", "histogram"):
        _stack(spec, out)
    return out


def _discrete(channel: dict[str, Any]) -> bool:
    return channel["type"] in ("nominal", "ordinal") and "bin" not in channel


def _stack(spec: ChartSpec, out: dict[str, Any]) -> None:
    """Series of a bar, area or histogram stack on the value axis when the chart is
    ``stacked``; otherwise bars on a discrete axis sit side by side and the rest overlap."""
    x_is_value = out["x"]["type"] == "quantitative" and "bin" not in out["x"]
    value = "x" if x_is_value and out["y"]["type"] != "quantitative" else "y"
    category = "y" if value == "x" else "x"
    if spec.stacked:
        out[value]["stack"] = "zero"
        return
    out[value]["stack"] = None
    if spec.type == "bar" and _discrete(out[category]):
        color = out["color"]
        out[f"{category}Offset"] = {"field": color["field"], "type": color["type"]}
        if "sort" in color:
            out[f"{category}Offset"]["sort"] = color["sort"]


def _pie(spec: ChartSpec, custom: Customization, fields: Fields) -> dict[str, Any]:
    category, value = fields.channel("x"), fields.channel("y")
    value.pop("scale", None)
    value["stack"] = True
    category["legend"] = _legend(custom, category)
    category["sort"] = fields.order("x")  # slices and legend in the rows' order
    if custom.x_label is not None:
        category["title"] = custom.x_label
    if custom.y_label is not None:
        value["title"] = custom.y_label
    # Slices go round in the rows' order (the chart's sort): by a row number, since Vega-Lite
    # would otherwise stack them in the colour domain's alphabetical order.
    out: dict[str, Any] = {"theta": value, "color": category}
    out["order"] = {"field": fields.row_number, "type": "quantitative"}
    return out


def _format(custom: Customization, channel: dict[str, Any]) -> dict[str, Any]:
    if channel["type"] == "quantitative" and custom.number_format:
        return {"format": custom.number_format}
    if channel["type"] == "temporal" and custom.date_format:
        return {"format": custom.date_format}
    return {}


def _legend(custom: Customization, channel: dict[str, Any]) -> dict[str, Any] | None:
    if custom.legend == "none":
        return None
    legend = _format(custom, channel)
    if custom.legend is not None:
        legend["orient"] = custom.legend
    return legend


# -- title, annotations, config ------------------------------------------------------------------


def _title(custom: Customization) -> dict[str, Any] | None:
    if not custom.title and not custom.subtitle:
        return None
    title: dict[str, Any] = {"text": custom.title or ""}
    if custom.subtitle:
        title["subtitle"] = custom.subtitle
    return title


def _annotations(
    spec: ChartSpec, custom: Customization, encoding: dict[str, Any]
) -> list[dict[str, Any]]:
    """Text and rule layers placed in data coordinates on the chart's own axes."""
    if not custom.annotations:
        return []
    if spec.type == "pie":
        raise Invalid("customization.annotations", "a pie chart has no axes to place notes on")
    x_type, y_type = encoding["x"]["type"], encoding["y"]["type"]
    ink = ANNOTATION_INK[custom.theme or "light"]  # not the palette's colour: notes are not data
    return [
        layer
        for index, note in enumerate(custom.annotations)
        for layer in _annotation(note, f"customization.annotations.{index}", x_type, y_type, ink)
    ]


def _annotation(
    note: Annotation, where: str, x_type: str, y_type: str, ink: str
) -> list[dict[str, Any]]:
    """A dashed rule at ``x`` (else at ``y``), and/or text at (``x``, ``y``); a missing
    coordinate puts the text at the plot's left or top edge."""
    x = None if note.x is None else _datum(note.x, x_type, f"{where}.x")
    y = None if note.y is None else _datum(note.y, y_type, f"{where}.y")
    data = {"values": [{}]}  # one mark, not one per row
    layers: list[dict[str, Any]] = []
    if note.rule:
        rule = {"x": x} if x is not None else {"y": y}
        mark = {"type": "rule", "strokeDash": [4, 4], "color": ink}
        layers.append({"data": data, "mark": mark, "encoding": rule})
    if note.text:
        text = {
            "text": {"value": note.text},
            "x": x if x is not None else {"value": 4},
            "y": y if y is not None else {"value": 4},
        }
        baseline = "bottom" if y is not None else "top"
        mark = {"type": "text", "align": "left", "baseline": baseline, "dx": 4, "dy": -4}
        mark["color"] = ink
        layers.append({"data": data, "mark": mark, "encoding": text})
    return layers


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?Z?"
)


def _datum(value: Any, kind: str, where: str) -> dict[str, Any]:
    """A data-space position; on a time axis an ISO date becomes a UTC DateTime object."""
    if kind == "quantitative" and isinstance(value, str):
        raise Invalid(where, "must be a number on this chart's quantitative axis")
    if kind != "temporal":
        return {"datum": value, "type": kind}
    match = _ISO.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(where, "must be an ISO date such as 2024-01-31 or 2024-01-31T12:00")
    year, month, day, hours, minutes, seconds, millis = match.groups()
    moment: dict[str, Any] = {"utc": True, "year": int(year), "month": int(month)}
    moment["date"] = int(day)
    for name, part in (("hours", hours), ("minutes", minutes), ("seconds", seconds)):
        if part is not None:
            moment[name] = int(part)
    if millis is not None:
        moment["milliseconds"] = int(millis.ljust(3, "0"))
    return {"datum": moment, "type": kind}


def _config(custom: Customization) -> dict[str, Any]:
    config: dict[str, Any] = dict(DARK_CONFIG) if custom.theme == "dark" else {}
    config.setdefault("background", "white")
    palette = custom.palette
    if palette is not None:
        colors = NAMED_PALETTES.get(palette, palette) if isinstance(palette, str) else palette
        if isinstance(colors, str):
            config["range"] = {"category": {"scheme": colors}}
            if colors == "viridis":  # sequential: continuous colour (heatmaps) too
                config["range"]["ramp"] = {"scheme": colors}
            config["mark"] = {"color": FIRST_COLOR[colors]}
        else:
            config["range"] = {"category": list(colors), "ramp": list(colors)}
            config["mark"] = {"color": colors[0]}
    if custom.legend not in (None, "none"):
        config["legend"] = {"orient": custom.legend}
    return config

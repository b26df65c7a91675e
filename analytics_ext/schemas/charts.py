"""The declarative chart: what is drawn (``ChartSpec``) and how it looks (``Customization``).

One spec feeds every view of a chart: the notebook's bqplot figure, the server's Vega-Lite
export (PNG, SVG, PDF) and dashboard tiles, so each renderer reads these models and nothing
else. Aggregation, sort and limit belong to the spec (they change the data, and run in SQL);
titles, formats, palette, legend, size and annotations to the customization (they change only
the picture), whose unset fields come from the user's settings.

Text fields (titles, labels, annotations) are plain text: renderers escape them, and no field
is ever read as markup or as a format string beyond the d3 number/time format checked here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr, field_validator, model_validator

from .base import RequestModel
from .settings import ChartPalette

ChartType = Literal["bar", "line", "area", "scatter", "pie", "histogram", "heatmap", "box"]
FieldType = Literal["quantitative", "temporal", "nominal", "ordinal"]
AggregateOp = Literal["sum", "mean", "median", "min", "max", "count", "count_distinct"]
ColumnName = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(max_length=200)]

MAX_LIMIT = 100_000
MIN_SIZE, MAX_SIZE = 50, 4000
# d3-format: [[fill]align][sign][symbol][0][width][,][.precision][~][type]
_NUMBER_FORMAT = re.compile(
    r"^(?:.?[<>=^])?[-+( ]?[$#]?0?\d{0,3},?(?:\.\d{1,2})?~?[eEfgGrsp%dxXobcn]?$"
)
# d3-time-format: literal text plus %-directives from its documented set.
_TIME_FORMAT = re.compile(r"^(?:[^%]|%[-_0]?[aAbBcdefgHIjLmMpQqsSuUVwWxXyYZ%])*$")
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class Encoding(RequestModel):
    """One visual channel bound to a result column."""

    field: ColumnName
    type: FieldType | None = None
    """How to read the column; None: from its Arrow type (numbers quantitative, dates and
    timestamps temporal, the rest nominal)."""


class Encodings(RequestModel):
    x: Encoding | None = None
    y: Encoding | None = None
    color: Encoding | None = None
    size: Encoding | None = None
    facet: Encoding | None = None


class Aggregation(RequestModel):
    """Group by every encoded column except ``y`` (and ``size``) and apply ``op`` to them."""

    op: AggregateOp


class Sort(RequestModel):
    by: Literal["x", "y"]
    order: Literal["ascending", "descending"] = "ascending"


# Which channels each chart type needs, and which it can use at all.
REQUIRED_CHANNELS: dict[str, tuple[str, ...]] = {
    "bar": ("x", "y"),
    "line": ("x", "y"),
    "area": ("x", "y"),
    "scatter": ("x", "y"),
    "pie": ("x", "y"),
    "histogram": ("x",),
    "heatmap": ("x", "y", "color"),
    "box": ("x", "y"),
}
ALLOWED_CHANNELS: dict[str, tuple[str, ...]] = {
    "bar": ("x", "y", "color", "facet"),
    "line": ("x", "y", "color", "facet"),
    "area": ("x", "y", "color", "facet"),
    "scatter": ("x", "y", "color", "size", "facet"),
    "pie": ("x", "y", "facet"),
    "histogram": ("x", "color", "facet"),
    "heatmap": ("x", "y", "color", "facet"),
    "box": ("x", "y", "color", "facet"),
}


class ChartSpec(RequestModel):
    """What a chart draws from its query's result.

    ``pie``: ``x`` is the category, ``y`` the value (the slice angle). ``histogram``: ``x`` is
    binned into ``bins`` and counted. ``heatmap``: ``color`` is the cell value over ``x`` by ``y``.
    ``y`` may be omitted only when ``aggregation.op`` is ``count``.
    """

    type: ChartType
    encodings: Encodings
    aggregation: Aggregation | None = None
    sort: Sort | None = None
    limit: int | None = Field(None, ge=1, le=MAX_LIMIT)
    """At most this many rows (after aggregation and sort): "top 10"."""
    bins: int = Field(20, ge=1, le=500)
    """Histogram bins."""
    stacked: bool = False
    """Bar and area series with a ``color`` stack instead of sitting side by side."""

    @model_validator(mode="after")
    def _channels_fit_the_type(self) -> ChartSpec:
        counting = self.aggregation is not None and self.aggregation.op == "count"
        for channel in REQUIRED_CHANNELS[self.type]:
            if getattr(self.encodings, channel) is None and not (channel == "y" and counting):
                raise ValueError(
                    f"encodings.{channel}: a {self.type} chart needs a {channel} field"
                )
        allowed = ALLOWED_CHANNELS[self.type]
        for channel in ("x", "y", "color", "size", "facet"):
            if getattr(self.encodings, channel) is not None and channel not in allowed:
                raise ValueError(f"encodings.{channel}: a {self.type} chart has no {channel}")
        if self.type == "histogram" and self.aggregation is not None:
            raise ValueError("aggregation: a histogram counts its bins; leave aggregation out")
        if self.type == "heatmap" and self.aggregation is None:
            raise ValueError("aggregation: a heatmap needs an aggregation of its color field")
        return self

    def aggregated(self, channel: str) -> bool:
        """Whether ``channel`` shows a value the SQL computed (``y`` and ``size`` under an
        aggregation, a heatmap's ``color``, a histogram's count in ``y``): always quantitative,
        whatever its column's own type. Every renderer reads this one rule."""
        if self.type == "histogram":
            return channel == "y"
        if self.aggregation is None:
            return False
        return channel == "color" if self.type == "heatmap" else channel in ("y", "size")

    def channels(self) -> dict[str, Encoding]:
        """The encoded channels, by name."""
        return {
            name: encoding
            for name in ("x", "y", "color", "size", "facet")
            if (encoding := getattr(self.encodings, name)) is not None
        }


class Annotation(RequestModel):
    """A note on the chart: text at a data point, or a rule across it at ``x`` or ``y``."""

    text: Text = ""
    x: StrictStr | StrictInt | StrictFloat | None = None
    y: StrictInt | StrictFloat | None = None
    rule: bool = False
    """Draw a line across the chart at ``x`` (vertical) or ``y`` (horizontal)."""

    @model_validator(mode="after")
    def _placed(self) -> Annotation:
        if self.x is None and self.y is None:
            raise ValueError("an annotation needs an x or a y position")
        if not self.rule and not self.text:
            raise ValueError("a text annotation needs text")
        return self


Palette = ChartPalette | Annotated[list[str], Field(min_length=1, max_length=40)]


class Customization(RequestModel):
    """How a chart looks; every field is optional and falls back to the user's settings (palette,
    theme) or the renderer's default. Stored with the chart, so each view looks the same."""

    title: Text | None = None
    subtitle: Text | None = None
    x_label: Text | None = None
    y_label: Text | None = None
    number_format: str | None = Field(None, max_length=32)
    """d3-format of quantitative axes and tooltips: ``,.2f``, ``.0%``, ``$,.0f``."""
    date_format: str | None = Field(None, max_length=64)
    """d3-time-format of temporal axes: ``%Y-%m-%d``, ``%b %Y``."""
    palette: Palette | None = None
    """A named palette or a list of ``#rrggbb`` colours."""
    theme: Literal["light", "dark"] | None = None
    legend: Literal["right", "left", "top", "bottom", "none"] | None = None
    width: int | None = Field(None, ge=MIN_SIZE, le=MAX_SIZE)
    height: int | None = Field(None, ge=MIN_SIZE, le=MAX_SIZE)
    annotations: list[Annotation] = Field(default_factory=list, max_length=50)

    @field_validator("number_format")
    @classmethod
    def _d3_number_format(cls, value: str | None) -> str | None:
        if value is not None and not _NUMBER_FORMAT.match(value):
            raise ValueError(f"{value!r} is not a d3 number format such as ',.2f' or '.0%'")
        return value

    @field_validator("date_format")
    @classmethod
    def _d3_time_format(cls, value: str | None) -> str | None:
        if value is not None and not _TIME_FORMAT.match(value):
            raise ValueError(f"{value!r} is not a d3 time format such as '%Y-%m-%d'")
        return value

    @field_validator("palette")
    @classmethod
    def _colors(cls, value: Palette | None) -> Palette | None:
        if isinstance(value, list):
            for index, color in enumerate(value):
                if not _HEX_COLOR.match(color):
                    raise ValueError(f"palette.{index}: {color!r} is not a #rrggbb colour")
        return value

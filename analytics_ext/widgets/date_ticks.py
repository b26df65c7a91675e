"""Readable ticks for a temporal axis: calendar-aligned dates, few enough that labels never overlap.

bqplot's ``DateScale`` asks d3 for about ten ticks whatever the axis length, so a four-year
monthly chart gets a label every quarter, sixteen ``2022-01-01``-wide labels in 500 px, written
over each other. Here the axis gets explicit ``tick_values``: the finest calendar step (seconds
to centuries, aligned to whole minutes, days, months or years) whose labels, measured in the
format they are written in, fit side by side in the axis's length; and a ``tick_format``: the
customization's ``date_format`` if set, else one that suits the step (``%Y`` for years,
``%Y-%m`` for months, ``%Y-%m-%d`` for days, with the time below a day).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import bqplot as bq
import numpy as np

STEPS: tuple[tuple[int, str], ...] = (
    *((n, "s") for n in (1, 5, 15, 30)),
    *((n, "m") for n in (1, 5, 15, 30)),
    *((n, "h") for n in (1, 3, 6, 12)),
    *((n, "D") for n in (1, 2, 7)),
    *((n, "M") for n in (1, 3, 6)),
    *((n, "Y") for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
)
"""Tick steps, finest first (numpy datetime units: s, m, h, D, M, Y)."""
DEFAULT_FORMATS = {
    "s": "%H:%M:%S",
    "m": "%Y-%m-%d %H:%M",
    "h": "%Y-%m-%d %H:%M",
    "D": "%Y-%m-%d",
    "M": "%Y-%m",
    "Y": "%Y",
}
CHAR_PX, LABEL_GAP_PX, LINE_PX = 7, 24, 30
"""A tick label's width per character and the gap between labels (bqplot's axis font is about
11 px), and the height one label needs on a vertical axis."""


def tick_count(low: np.datetime64, high: np.datetime64, step: int, unit: str) -> int:
    """How many ticks of ``step`` ``unit`` fall in ``[low, high]``."""
    first, last = _aligned_range(low, high, step, unit)
    return 0 if last < first else (last - first) // step + 1


def ticks(low: np.datetime64, high: np.datetime64, step: int, unit: str) -> np.ndarray:
    """The ticks of ``step`` ``unit`` in ``[low, high]``, aligned to multiples of the step
    since 1970 (so months land on January, April…, years on round years), in ms."""
    first, last = _aligned_range(low, high, step, unit)
    values = np.arange(first, last + 1, step, dtype=np.int64)
    return values.astype(f"datetime64[{unit}]").astype("datetime64[ms]")


def _aligned_range(
    low: np.datetime64, high: np.datetime64, step: int, unit: str
) -> tuple[int, int]:
    start = low.astype(f"datetime64[{unit}]")
    if start.astype("datetime64[ms]") < low.astype("datetime64[ms]"):
        start = start + np.timedelta64(1, unit)
    first = int(start.astype(np.int64))
    first = -(-first // step) * step
    last = int(high.astype(f"datetime64[{unit}]").astype(np.int64))
    return first, last


def label_width(tick_format: str, sample: np.datetime64) -> int:
    """The pixels a label of ``tick_format`` takes, measured on a written-out ``sample``."""
    moment = sample.astype("datetime64[ms]").astype(dt.datetime)
    try:
        text = moment.strftime(tick_format) if isinstance(moment, dt.datetime) else tick_format
    except ValueError:  # a d3 directive Python lacks: guess from the pattern's length
        text = tick_format * 2
    return len(text) * CHAR_PX + LABEL_GAP_PX


def date_ticks(
    low: Any, high: Any, length_px: int, date_format: str | None, vertical: bool = False
) -> tuple[np.ndarray, str]:
    """Tick values and their format for a temporal axis ``length_px`` long spanning
    ``[low, high]``: the finest step whose labels fit, at least two ticks when the span
    allows."""
    low, high = np.datetime64(low, "ms"), np.datetime64(high, "ms")
    if high < low:
        low, high = high, low
    if low == high:
        unit = "D" if low.astype("datetime64[D]") == low else "m"
        return np.array([low]), date_format or DEFAULT_FORMATS[unit]
    for step, unit in STEPS:
        tick_format = date_format or DEFAULT_FORMATS[unit]
        per_tick = LINE_PX if vertical else label_width(tick_format, high)
        count = tick_count(low, high, step, unit)
        if count <= max(2, length_px // per_tick):
            values = ticks(low, high, step, unit) if count else np.array([low])
            return values, tick_format
    step, unit = STEPS[-1]
    return ticks(low, high, step, unit), date_format or DEFAULT_FORMATS[unit]


def bound_date_axis(
    axis: bq.Axis, extent: tuple[Any, Any], length_px: int, date_format: str | None
) -> None:
    """Give a temporal ``axis`` explicit, readable ticks over the data's ``extent``."""
    low, high = extent
    if low is None or high is None:
        axis.tick_format = date_format or DEFAULT_FORMATS["D"]
        return
    vertical = axis.orientation == "vertical"
    values, tick_format = date_ticks(low, high, length_px, date_format, vertical)
    axis.tick_values = values
    axis.tick_format = tick_format

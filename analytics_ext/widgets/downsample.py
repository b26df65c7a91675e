"""Keeping what a chart sends to the browser to a few thousand points, whatever the data's size.

Aggregation, sort and limit run in SQL on the server; what still arrives large is raw series
(line, area, scatter without an aggregation) and the values of box plots. Each is reduced in the
kernel to at most ``MAX_POINTS`` points, in a way that keeps what the eye reads:

- lines and areas: MinMaxLTTB (Van Der Donckt et al., 2023, via ``tsdownsample``) per series,
  with each series' first and last points and its minimum and maximum always kept, and the point
  budget shared between series in proportion to their length;
- scatters: 2D binning of each series into at most ``MAX_POINTS`` cells in all, each cell drawn
  once at the mean position of its points, sized by how many it holds; a scatter with a category
  axis (no distance to bin by) is a stratified random sample instead, the same share of every
  series, with each series' extreme points kept;
- box plots: each box's five numbers and a capped, evenly spread set of its outliers, written as
  a short array whose quartiles are exactly the data's (see ``box_values``).

Everything here is pure numpy/Arrow, so it is tested without a widget or a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tsdownsample import MinMaxLTTBDownsampler

MAX_POINTS = 4000
"""The most points a chart's marks hold."""
SAMPLE_SEED = 20240101
"""Stratified samples are drawn with a fixed seed, so one chart always looks the same."""


@dataclass(frozen=True)
class Reduction:
    """What happened to the rows on their way to the marks."""

    method: str
    """``none``, ``minmax-lttb``, ``binned``, ``sampled``, ``box-summary`` or ``first``."""
    source_points: int
    drawn_points: int
    detail: str = ""

    @property
    def reduced(self) -> bool:
        return self.method != "none"

    def note(self) -> str:
        """One line for under the figure ("" when nothing was reduced)."""
        if not self.reduced:
            return ""
        what = {
            "minmax-lttb": "downsampled with MinMaxLTTB (first, last, minimum and maximum kept)",
            "binned": "binned into cells drawn at their points' mean, sized by their count",
            "sampled": "a stratified random sample (each series' extremes kept)",
            "box-summary": "box plots from each box's quartiles and whiskers",
            "first": "cut to the first ones",
        }[self.method]
        text = f"{self.drawn_points:,} of {self.source_points:,} points drawn: {what}"
        return f"{text}; {self.detail}" if self.detail else text


# -- shares of a budget -------------------------------------------------------------------------


def share_budget(sizes: Sequence[int], budget: int) -> list[int]:
    """How many points each series may keep: as many as it has while that is less than an equal
    share, and the rest shared equally among the longer ones (water filling). The sum is at
    most ``budget``."""
    shares = [0] * len(sizes)
    remaining = budget
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    for position, index in enumerate(order):
        equal = remaining // (len(sizes) - position)
        shares[index] = min(sizes[index], equal)
        remaining -= shares[index]
    return shares


# -- lines ----------------------------------------------------------------------------------------


def numeric(values: np.ndarray) -> np.ndarray:
    """A numeric view of x or y values (dates and timestamps as their integer ticks)."""
    if np.issubdtype(values.dtype, np.datetime64) or np.issubdtype(values.dtype, np.timedelta64):
        return values.view(np.int64)
    if values.dtype == np.bool_:
        return values.astype(np.int8)
    return values


def line_indices(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Positions of at most ``n_out`` points of one series (x ascending) that draw like all of
    it: MinMaxLTTB, plus the first and last points and y's minimum and maximum."""
    size = len(y)
    if size <= n_out:
        return np.arange(size)
    if n_out <= 0:
        return np.arange(0)
    if n_out < 5:  # too few for LTTB: the ends and the extremes, in that priority
        keep = dict.fromkeys([0, size - 1, int(np.argmin(y)), int(np.argmax(y))])
        return np.sort(np.fromiter(keep, np.int64)[:n_out])
    xs = np.ascontiguousarray(numeric(x))
    ys = np.ascontiguousarray(numeric(y))
    if not (np.issubdtype(xs.dtype, np.number) and np.issubdtype(ys.dtype, np.number)):
        raise TypeError("a line downsamples numbers and dates")
    chosen = MinMaxLTTBDownsampler().downsample(xs, ys, n_out=n_out - 2)
    extremes = np.array([0, size - 1, int(np.argmin(ys)), int(np.argmax(ys))], np.int64)
    return np.union1d(chosen.astype(np.int64), extremes)[:n_out]


def series_codes(table: pa.Table, column: str | None) -> tuple[np.ndarray, list[object]]:
    """Each row's series number, and the series' values in order of first appearance."""
    if column is None:
        return np.zeros(table.num_rows, np.int64), [None]
    # dictionary_encode numbers values in order of first appearance; a null gets its own slot
    encoded = pc.dictionary_encode(table.column(column).combine_chunks(), null_encoding="encode")
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()


def drawing_order(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Row positions grouped by series (in code order) and ascending in x within each. Cheap
    for the usual case of rows already in x order: a stable sort of small integer codes."""
    if len(x) > 1 and not bool(np.all(x[1:] >= x[:-1])):
        by_x = np.argsort(x, kind="stable")
        return by_x[np.argsort(codes[by_x], kind="stable")]
    if len(codes) and codes.max() == 0:
        return np.arange(len(x))
    return np.argsort(codes.astype(np.int16 if codes.max() < 2**15 else np.int64), kind="stable")


def drop_nulls(table: pa.Table, *columns: str) -> pa.Table:
    """Rows with a value in each of ``columns`` (a chart draws no point for the others)."""
    if all(table.column(name).null_count == 0 for name in columns):
        return table
    keep = pc.is_valid(table.column(columns[0]))
    for name in columns[1:]:
        keep = pc.and_(keep, pc.is_valid(table.column(name)))
    return table.filter(keep)


def downsample_lines(
    table: pa.Table, x: str, y: str, series: str | None, budget: int = MAX_POINTS
) -> tuple[pa.Table, Reduction]:
    """``table``'s rows sorted by x within each series (as a line is drawn) and, above
    ``budget`` rows, reduced per series with ``line_indices``. Rows with a null x or y are
    dropped first (a chart draws no point for them)."""
    table = drop_nulls(table, x, y)
    codes, _ = series_codes(table, series)
    xs = table.column(x).to_numpy()
    order = drawing_order(numeric(xs), codes)
    total = table.num_rows
    if total <= budget:
        return table.take(order), Reduction("none", total, total)
    codes, xs = codes[order], xs[order]
    ys = table.column(y).to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], total]
    shares = share_budget(list(ends - starts), budget)
    keep = [
        start + line_indices(xs[start:end], ys[start:end], share)
        for start, end, share in zip(starts, ends, shares, strict=True)
    ]
    chosen = order[np.concatenate(keep)]
    return table.take(chosen), Reduction("minmax-lttb", total, len(chosen))


# -- scatters -------------------------------------------------------------------------------------


def bin_scatter(
    table: pa.Table,
    x: str,
    y: str,
    series: str | None,
    means: Sequence[str] = (),
    budget: int = MAX_POINTS,
    count_column: str = "count",
) -> tuple[pa.Table, Reduction]:
    """Each series binned on a g by g grid (g² times the series count at most ``budget``): one
    row per non-empty cell with the mean x and y of its points, the series, the mean of each
    numeric column of ``means`` (a size or a quantitative colour) and ``count_column`` (how
    many points the cell holds). Dates stay dates (their mean instant). Tables within the
    budget come back unchanged."""
    table = drop_nulls(table, x, y)
    total = table.num_rows
    if total <= budget:
        return table, Reduction("none", total, total)
    codes, values = series_codes(table, series)
    grid = max(1, int(np.sqrt(budget / len(values))))
    xs_raw, ys_raw = table.column(x).to_numpy(), table.column(y).to_numpy()
    xs, ys = numeric(xs_raw).astype(np.float64), numeric(ys_raw).astype(np.float64)
    cell = _grid_index(xs, grid) * grid + _grid_index(ys, grid)
    key = codes * grid * grid + cell
    cells = len(values) * grid * grid
    all_counts = np.bincount(key, minlength=cells)
    unique = np.flatnonzero(all_counts)
    counts = all_counts[unique]

    def mean_of(weights: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights, minlength=cells)[unique] / counts

    out: dict[str, pa.Array] = {
        x: _as_type(mean_of(xs), xs_raw.dtype, table.schema.field(x).type),
        y: _as_type(mean_of(ys), ys_raw.dtype, table.schema.field(y).type),
    }
    if series is not None and series not in out:
        series_type = table.schema.field(series).type
        out[series] = pa.array([values[i] for i in unique // (grid * grid)], series_type)
    for name in means:
        if name not in out:
            column = table.column(name).cast(pa.float64(), safe=False)
            values_of = column.fill_null(np.nan).to_numpy()
            out[name] = pa.array(mean_of(values_of))
    out[count_column] = pa.array(counts, pa.int64())
    detail = f"{grid} by {grid} cells per series"
    return pa.table(out), Reduction("binned", total, len(unique), detail)


def _grid_index(values: np.ndarray, grid: int) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(len(values), np.int64)
    return np.minimum(((values - low) / (high - low) * grid).astype(np.int64), grid - 1)


def _as_type(means: np.ndarray, dtype: np.dtype, arrow_type: pa.DataType) -> pa.Array:
    if np.issubdtype(dtype, np.datetime64):
        return pa.array(np.round(means).astype(np.int64).view(dtype)).cast(arrow_type)
    return pa.array(means)


def sample_rows(
    table: pa.Table, series: str | None, keep_extremes: Sequence[str], budget: int = MAX_POINTS
) -> tuple[pa.Table, Reduction]:
    """At most ``budget`` rows: each series' share (``share_budget``) drawn at random with a
    fixed seed, always including the rows holding each series' minimum and maximum of the
    ``keep_extremes`` numeric columns. Rows keep their original order."""
    total = table.num_rows
    if total <= budget:
        return table, Reduction("none", total, total)
    codes, _ = series_codes(table, series)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    ends = np.r_[starts[1:], total]
    shares = share_budget(list(ends - starts), budget)
    columns = [table.column(name).to_numpy(zero_copy_only=False) for name in keep_extremes]
    rng = np.random.default_rng(SAMPLE_SEED)
    chosen: list[np.ndarray] = []
    for start, end, share in zip(starts, ends, shares, strict=True):
        rows = order[start:end]
        extremes: list[int] = []
        for column in columns:
            values = column[rows]
            if (
                np.issubdtype(values.dtype, np.number)
                and len(values)
                and not np.isnan(values.astype(np.float64)).all()
            ):
                values = values.astype(np.float64)
                extremes += [int(rows[np.nanargmin(values)]), int(rows[np.nanargmax(values)])]
        fixed = np.array(list(dict.fromkeys(extremes))[:share], np.int64)
        drawn = rows[rng.choice(len(rows), size=share, replace=False)]
        drawn = drawn[~np.isin(drawn, fixed)][: share - len(fixed)]
        chosen.append(np.concatenate([fixed, drawn]))
    picked = np.sort(np.concatenate(chosen))
    return table.take(picked), Reduction("sampled", total, len(picked))


# -- box plots ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxStats:
    q1: float
    median: float
    q3: float
    whisker_low: float
    whisker_high: float
    outliers_low: np.ndarray
    outliers_high: np.ndarray


def box_stats(values: np.ndarray) -> BoxStats:
    """Quartiles (linear interpolation, as Vega and d3 compute them), Tukey whiskers at the
    furthest values within 1.5 IQR of the box, and the values beyond them."""
    values = np.sort(values[~np.isnan(values)])
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    low_fence, high_fence = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = values[(values >= low_fence) & (values <= high_fence)]
    return BoxStats(
        float(q1),
        float(median),
        float(q3),
        float(inside.min()),
        float(inside.max()),
        values[values < low_fence],
        values[values > high_fence],
    )


def spread(values: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` of the sorted ``values``, evenly spaced, the first and last kept."""
    if len(values) <= count:
        return values
    if count <= 0:
        return values[:0]
    return values[np.unique(np.linspace(0, len(values) - 1, count).round().astype(np.int64))]


def box_values(
    groups: Sequence[np.ndarray], budget: int = MAX_POINTS
) -> tuple[np.ndarray, Reduction]:
    """One row per box, all of one length, whose quartiles, whiskers and outliers (as a box
    plot mark computes them: d3 quantiles, 1.5 IQR fences) are exactly those of the group.

    A row is ``K`` low values (outliers, padded with the lower whisker), the lower whisker,
    ``K + 1`` copies of q1, the median, ``K + 1`` copies of q3, the upper whisker and ``K`` high
    values: ``4K + 5`` values whose 25th, 50th and 75th percentiles fall exactly on q1, the
    median and q3. ``K`` is the most outliers of any box on one side, capped so that all rows
    hold at most ``budget`` values; a box with more keeps an even spread including its most
    extreme ones.
    """
    stats = [box_stats(np.asarray(group, np.float64)) for group in groups]
    source = sum(len(group) for group in groups)
    most = max((max(len(s.outliers_low), len(s.outliers_high)) for s in stats), default=0)
    cap = max(0, (budget // max(1, len(stats)) - 5) // 4)
    k = min(most, cap)
    rows = []
    for s in stats:
        low, high = spread(s.outliers_low, k), spread(s.outliers_high, k)
        row = np.concatenate(
            [
                low,
                np.full(k - len(low) + 1, s.whisker_low),
                np.full(k + 1, s.q1),
                [s.median],
                np.full(k + 1, s.q3),
                np.full(k - len(high) + 1, s.whisker_high),
                high,
            ]
        )
        rows.append(row)
    matrix = np.array(rows, np.float64).reshape(len(stats), 4 * k + 5)
    detail = f"outliers capped at {k} per side" if most > k else ""
    return matrix, Reduction("box-summary", source, matrix.size, detail)

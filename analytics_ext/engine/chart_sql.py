"""The SQL a chart runs: its saved query wrapped in the spec's aggregation, sort and limit.

A chart of a million-row query draws a few hundred marks, so the reduction happens where the
data lives: ``SELECT <groups>, <op>(<value>) FROM (<saved sql>) AS chart_source GROUP BY ...
ORDER BY ... LIMIT n`` runs on the datasource. The saved SQL is kept as text, byte for byte
(only a trailing semicolon goes), so its ``:name`` placeholders are still bound by the driver
and nothing the user wrote is re-rendered by sqlglot. Identifiers are quoted for the
datasource's dialect, so a column called ``order`` or ``a"b`` is a column, never SQL.

Histograms are binned in Arrow, not SQL (``histogram_table``): binning in SQL needs FLOOR,
LEAST and epoch arithmetic that differ in every dialect (SQLite has no FLOOR without its math
extension) and for dates too. The datasource still does the projection and the cap: only the
x column (and colour/facet) of at most ``cap`` non-null rows comes back, and a capped read is
reported as truncated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp, tokenize
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from analytics_ext.engine.dialects import sqlglot_dialect
from analytics_ext.errors import Invalid
from analytics_ext.schemas.charts import ChartSpec, Encoding

SOURCE_ALIAS = "chart_source"
GROUP_CHANNELS = ("x", "color", "facet")
"""Channels an aggregating chart groups by (a heatmap also groups by ``y``)."""

_NUMERIC_AS_TEXT = frozenset({"postgresql", "redshift"})
"""Dialects whose SUM and AVG of a NUMERIC answer an unconstrained NUMERIC, which the engine
reads as text (it cannot know a precision): charts cast those to double."""
_MEDIAN_PERCENTILE = frozenset({"postgresql", "redshift"})
_MEDIAN_FUNCTION = frozenset({"duckdb", "snowflake", "oracle", "databricks", "teradata"})
_MEDIAN_QUANTILE = frozenset({"clickhouse"})


@dataclass(frozen=True)
class ChartQuery:
    """A chart's statement and the names of what it returns."""

    sql: str
    columns: dict[str, str]
    """Channel → output column: ``{"x": "region", "y": "revenue"}``; a histogram adds
    ``x_end`` (each bin's upper edge) and ``y`` (its count). Channels sharing a field share
    a column."""
    histogram: bool = False
    """The rows are raw values still to be binned (``histogram_table``)."""
    value_channels: tuple[str, ...] = field(default=())
    """Channels whose column is an aggregate (``y``, ``size``; a heatmap's ``color``)."""


def value_channels(spec: ChartSpec) -> tuple[str, ...]:
    """The channels an aggregation applies to (the rest are grouped by): ``y`` (a count
    without a y field still makes one) and ``size``; a heatmap's ``color``."""
    if spec.aggregation is None:
        return ()
    if spec.type == "heatmap":
        return ("color",)
    return ("y", "size") if spec.encodings.size is not None else ("y",)


def strip_terminator(sql: str, backend: str) -> str:
    """``sql`` without a trailing ``;`` (and any comment after it), else unchanged."""
    try:
        tokens = tokenize(sql, read=sqlglot_dialect(backend))
    except SqlglotError as error:
        raise Invalid("sql", f"the query could not be read: {error}") from None
    while tokens and tokens[-1].token_type is TokenType.SEMICOLON:
        sql = sql[: tokens[-1].start]
        tokens = tokens[:-1]
    return sql.rstrip()


def quote(name: str, backend: str) -> str:
    """An identifier quoted for the datasource's dialect (embedded quotes doubled)."""
    return exp.to_identifier(name, quoted=True).sql(dialect=sqlglot_dialect(backend))


def aggregate_sql(op: str, column: str | None, backend: str) -> str:
    """``op`` over ``column`` (None: rows) in the dialect; ``Invalid`` where it has none."""
    if column is None:
        return "COUNT(*)"
    if op in ("sum", "mean"):
        function = "SUM" if op == "sum" else "AVG"
        if backend in _NUMERIC_AS_TEXT:  # NUMERIC without precision reaches Arrow as text
            return f"CAST({function}({column}) AS DOUBLE PRECISION)"
        return f"{function}({column})"
    if op in ("min", "max", "count"):
        return f"{op.upper()}({column})"
    if op == "count_distinct":
        return f"COUNT(DISTINCT {column})"
    if op == "median":
        if backend in _MEDIAN_PERCENTILE:
            return f"PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY {column})"
        if backend in _MEDIAN_FUNCTION:
            return f"MEDIAN({column})"
        if backend in _MEDIAN_QUANTILE:
            return f"quantile(0.5)({column})"
        raise Invalid(
            "spec.aggregation.op",
            f"median is not available on {backend} datasources; use mean, or compute the "
            "median in the query",
        )
    raise Invalid("spec.aggregation.op", f"unknown aggregation {op!r}")


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    taken.add(candidate)
    return candidate


def chart_query(source_sql: str, spec: ChartSpec, backend: str, cap: int) -> ChartQuery:
    """The statement drawing ``spec`` from ``source_sql``'s result, reading at most ``cap + 1``
    rows (one more than the chart may show, so the caller can tell the cap was hit)."""
    if spec.type == "box" and spec.aggregation is not None:
        raise Invalid(
            "spec.aggregation", "a box plot shows the spread of y's values; leave aggregation out"
        )
    inner = strip_terminator(source_sql, backend)
    source = f"FROM (\n{inner}\n) AS {SOURCE_ALIAS}"
    q = lambda name: quote(name, backend)  # noqa: E731
    channels = spec.channels()
    columns: dict[str, str] = {}
    selected: list[str] = []  # output names, in order
    select: list[str] = []

    def take(channel: str, encoding: Encoding) -> None:
        if encoding.field not in selected:
            selected.append(encoding.field)
            select.append(q(encoding.field))
        columns[channel] = encoding.field

    if spec.type == "histogram":
        for channel, encoding in channels.items():
            take(channel, encoding)
        x = q(channels["x"].field)
        taken = set(selected)
        columns["x_end"] = _unique(f"{channels['x'].field}_end", taken)
        columns["y"] = _unique("count", taken)
        sql = f"SELECT {', '.join(select)} {source}\nWHERE {x} IS NOT NULL\nLIMIT {cap + 1}"
        return ChartQuery(sql, columns, histogram=True)

    values = value_channels(spec)
    if spec.aggregation is None:
        for channel, encoding in channels.items():
            take(channel, encoding)
        order = _order(spec, columns, selected, [])
        return ChartQuery(_assemble(select, source, None, order, spec.limit, cap), columns)

    groups = [name for name in channels if name not in values]
    for channel in groups:
        take(channel, channels[channel])
    group_count = len(select)
    taken = set(selected)
    op = spec.aggregation.op
    for channel in values:
        encoding = channels.get(channel)
        name = _unique(encoding.field if encoding else op, taken)
        column = q(encoding.field) if encoding else None
        select.append(f"{aggregate_sql(op, column, backend)} AS {q(name)}")
        selected.append(name)
        columns[channel] = name
    group_by = ", ".join(str(position) for position in range(1, group_count + 1)) or None
    order = _order(spec, columns, selected, groups)
    sql = _assemble(select, source, group_by, order, spec.limit, cap)
    return ChartQuery(sql, columns, value_channels=values)


def _order(
    spec: ChartSpec, columns: dict[str, str], selected: list[str], tiebreak: list[str]
) -> str:
    """ORDER BY output positions: the spec's sort first, then the ``tiebreak`` channels (an
    aggregate's groups), so ties and unsorted aggregates come back in one stable order on
    every dialect."""
    keys: list[str] = []
    used: set[int] = set()
    if spec.sort is not None:
        position = selected.index(columns[spec.sort.by]) + 1
        keys.append(f"{position} {'DESC' if spec.sort.order == 'descending' else 'ASC'}")
        used.add(position)
    for channel in tiebreak:
        position = selected.index(columns[channel]) + 1
        if position not in used:
            keys.append(f"{position} ASC")
            used.add(position)
    return ", ".join(keys)


def _assemble(
    select: list[str], source: str, group_by: str | None, order: str, limit: int | None, cap: int
) -> str:
    sql = f"SELECT {', '.join(select)} {source}"
    if group_by:
        sql += f"\nGROUP BY {group_by}"
    if order:
        sql += f"\nORDER BY {order}"
    return sql + f"\nLIMIT {min(limit, cap + 1) if limit is not None else cap + 1}"


# -- fields and their types ---------------------------------------------------------------------

_NUMERIC_OPS = frozenset({"sum", "mean", "median"})
_VALUE_TYPES = {"pie": "a number", "box": "a number"}
"""Chart types whose unaggregated ``y`` must be a number (others also take dates)."""


def describe_type(kind: pa.DataType) -> str:
    """How a column's type reads in an error message."""
    if pa.types.is_null(kind):
        return "unknown (only nulls seen)"
    if is_numeric(kind):
        return "a number"
    if pa.types.is_temporal(kind):
        return "a date or time"
    if pa.types.is_boolean(kind):
        return "a boolean"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    return str(kind)


def is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _fits(kind: pa.DataType, wanted: str) -> bool:
    """Whether a column of ``kind`` can be read as the field type ``wanted`` (an all-null
    sample fits anything: there is nothing to contradict it)."""
    if pa.types.is_null(kind) or wanted in ("nominal", "ordinal"):
        return True
    if wanted == "quantitative":
        return is_numeric(kind)
    temporal = pa.types.is_temporal(kind)
    return temporal or pa.types.is_string(kind) or pa.types.is_large_string(kind)


def check_columns(spec: ChartSpec, schema: pa.Schema, where: str = "spec") -> None:
    """Every encoded field is a column of the query's result and its type suits its role;
    ``Invalid`` naming the first field that is not (``spec.encodings.x.field: ...``)."""
    names = schema.names
    shown = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
    values = value_channels(spec)
    op = spec.aggregation.op if spec.aggregation is not None else None
    for channel, encoding in spec.channels().items():
        path = f"{where}.encodings.{channel}"
        if encoding.field not in names:
            raise Invalid(
                f"{path}.field",
                f"{encoding.field!r} is not a column of the query (columns: {shown})",
            )
        kind = schema.field(encoding.field).type
        if pa.types.is_null(kind):
            continue
        has = describe_type(kind)
        if encoding.type is not None and not _fits(kind, encoding.type):
            raise Invalid(
                f"{path}.type", f"{encoding.field!r} is {has}; it cannot be read as {encoding.type}"
            )
        if spec.type == "histogram" and channel == "x":
            if not (is_numeric(kind) or pa.types.is_temporal(kind)):
                raise Invalid(
                    f"{path}.field",
                    f"a histogram bins numbers or dates; {encoding.field!r} is {has}",
                )
        elif channel in values and op in _NUMERIC_OPS and not is_numeric(kind):
            raise Invalid(
                f"{path}.field", f"{op} needs a numeric column; {encoding.field!r} is {has}"
            )
        elif op is None and channel == "size" and not is_numeric(kind):
            raise Invalid(
                f"{path}.field", f"size needs a numeric column; {encoding.field!r} is {has}"
            )
        elif op is None and channel == "y" and spec.type != "scatter" and spec.type != "heatmap":
            wanted = _VALUE_TYPES.get(spec.type, "a number or a date")
            if not (is_numeric(kind) or (wanted != "a number" and pa.types.is_temporal(kind))):
                raise Invalid(
                    f"{path}.field",
                    f"the y of a {spec.type} chart must be {wanted}; {encoding.field!r} is "
                    f"{has} (or aggregate it with count)",
                )


def plain_numbers(table: pa.Table) -> pa.Table:
    """Decimal columns as numbers a renderer plots: whole decimals (DuckDB's HUGEINT sums) as
    int64 where they fit, the rest as float64. A chart draws; it does not keep cents exact."""
    for index, column in enumerate(table.columns):
        kind = column.type
        if not pa.types.is_decimal(kind):
            continue
        converted = None
        if kind.scale == 0:
            try:
                converted = column.cast(pa.int64())
            except (pa.ArrowInvalid, OverflowError):
                converted = None
        if converted is None:
            converted = column.cast(pa.float64(), safe=False)
        table = table.set_column(index, table.field(index).with_type(converted.type), converted)
    return table


# -- histograms ---------------------------------------------------------------------------------


def histogram_table(table: pa.Table, spec: ChartSpec, columns: dict[str, str]) -> pa.Table:
    """``spec.bins`` equal-width bins from the smallest to the largest x, counted (per colour
    and facet when encoded); bins are ``[start, end)``, the last one closed. Without colour or
    facet every bin is listed, empty ones with count 0."""
    x_name, end_name, count_name = columns["x"], columns["x_end"], columns["y"]
    values = table.column(x_name)
    groups = [columns[c] for c in ("color", "facet") if c in columns and columns[c] != x_name]
    groups = list(dict.fromkeys(groups))
    kind = values.type
    numbers = _as_numbers(values)
    if len(numbers) == 0:
        empty = {x_name: pa.array([], kind), end_name: pa.array([], kind)}
        empty.update({name: table.column(name).slice(0, 0) for name in groups})
        return pa.table({**empty, count_name: pa.array([], pa.int64())})
    low, high = float(np.min(numbers)), float(np.max(numbers))
    width = (high - low) / spec.bins if high > low else 1.0
    index = np.minimum(((numbers - low) / width).astype(np.int64), spec.bins - 1)
    if high == low:
        index = np.zeros(len(numbers), dtype=np.int64)
    if not groups:
        counts = np.bincount(index, minlength=spec.bins if high > low else 1)
        bins = np.arange(len(counts))
        result = {count_name: pa.array(counts, pa.int64())}
        group_values: dict[str, pa.Array] = {}
    else:
        keyed = pa.table({"__bin": index, **{n: table.column(n) for n in groups}})
        counted = keyed.group_by(["__bin", *groups]).aggregate([("__bin", "count")])
        counted = counted.sort_by([("__bin", "ascending")] + [(n, "ascending") for n in groups])
        bins = counted.column("__bin").to_numpy()
        result = {count_name: counted.column("__bin_count").cast(pa.int64())}
        group_values = {name: counted.column(name) for name in groups}
    starts = low + bins * width
    ends = low + (bins + 1) * width
    out = {x_name: _from_numbers(starts, kind), end_name: _from_numbers(ends, kind)}
    out.update(group_values)
    out.update(result)
    binned = pa.table(out)
    if spec.sort is not None:
        key = x_name if spec.sort.by == "x" else count_name
        binned = binned.sort_by([(key, spec.sort.order)])
    if spec.limit is not None:
        binned = binned.slice(0, spec.limit)
    return binned


def _as_numbers(values: pa.ChunkedArray) -> np.ndarray:
    """Numbers to bin: numeric columns as float, dates and timestamps as their integer ticks."""
    values = pc.drop_null(values)
    kind = values.type
    if pa.types.is_temporal(kind):
        ticks = pa.int32() if pa.types.is_date32(kind) or pa.types.is_time32(kind) else pa.int64()
        return values.cast(ticks).to_numpy().astype(np.float64)
    return values.cast(pa.float64()).to_numpy()


def _from_numbers(numbers: np.ndarray, kind: pa.DataType) -> pa.Array:
    if pa.types.is_temporal(kind):
        ticks = pa.int32() if pa.types.is_date32(kind) or pa.types.is_time32(kind) else pa.int64()
        return pa.array(np.floor(numbers).astype(np.int64), ticks).cast(kind)
    return pa.array(numbers, pa.float64())

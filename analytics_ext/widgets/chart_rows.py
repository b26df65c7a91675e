"""The rows a chart draws from a result already in the kernel, exactly as the server makes them.

A chart of a saved query gets its rows from the server, where ``engine.chart_sql`` wraps the
query in the spec's aggregation, sort and limit. A chart of a local result (an Arrow table from
``client.query_arrow``, a DataFrame) runs that same generated SQL on the table in an in-process
DuckDB (the table is read in place, nothing is copied to the server or a datasource), and bins
histograms with the server's own ``histogram_table``; so a spec draws the same rows either way.
A spec that only picks columns (no aggregation, sort, limit or binning) skips SQL altogether.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ..engine.chart_sql import chart_query, check_columns, histogram_table, plain_numbers
from ..errors import AnalyticsError as ServerSideError
from ..schemas.charts import ChartSpec

SOURCE = "chart_input"
SOURCE_SQL = "SELECT * FROM chart_input"
DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "D MMM YYYY": "%-d %b %Y",
}
"""The settings' date formats as d3-time-format (as ``services.chart_data`` maps them), for
charts whose customization sets none."""


def local_rows(table: pa.Table, spec: ChartSpec) -> tuple[pa.Table, dict[str, str]]:
    """``table`` reduced to the rows ``spec`` draws, and the column of each channel.
    ``ValueError`` names the spec's field when a column is missing or of the wrong type."""
    try:
        check_columns(spec, table.schema)
        statement = chart_query(SOURCE_SQL, spec, "duckdb", table.num_rows)
    except ServerSideError as error:
        raise ValueError(str(error)) from None
    plain = spec.aggregation is None and spec.sort is None and spec.limit is None
    if plain and not statement.histogram:
        names = list(dict.fromkeys(statement.columns.values()))
        return plain_numbers(table.select(names)), statement.columns
    with duckdb.connect() as connection:
        connection.register(SOURCE, table)
        result = connection.sql(statement.sql).to_arrow_table()
    if statement.histogram:
        result = histogram_table(result, spec, statement.columns)
    return plain_numbers(result), statement.columns

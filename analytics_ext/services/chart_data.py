"""The rows a chart draws, and how it looks for the person looking: one service for every view.

``ChartDataService.data(actor_id, chart_id)`` is what the REST data route, the server-side
picture export and dashboard tiles all call, so each shows the same rows: the chart's query,
run with the chart's parameter values, wrapped in the spec's aggregation, sort and limit
(``engine.chart_sql``), which run on the datasource.

Permission: a chart's ``view`` is enough to see its data — a viewer of the chart need not be
able to view its query. The query runs with its owner's datasource authority, as it does for
the query's own viewers; the run belongs to the actor (their history, their per-user limit).

Also here, because every chart service needs them: reading a spec or customization from a
request with errors at their full path, and resolving a customization against the viewer's
settings (``effective_customization``).
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pydantic import TypeAdapter, ValidationError

from ..engine.chart_sql import chart_query, check_columns, histogram_table, plain_numbers
from ..engine.errors import QueryFailed
from ..engine.export import json_rows
from ..engine.runs import Run, RunState
from ..engine.spec import SourceSpec
from ..errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from ..schemas.chart_objects import ChartDataOut, ChartOut, DataColumn
from ..schemas.charts import ChartSpec, Customization
from ..schemas.parameters import QueryParameter, bind_values
from ..schemas.settings import UserSettings
from ..store import Database
from ..store.models import Chart, SavedQuery
from .datasources import DatasourceService
from .queries import QueryService
from .settings import SettingsService
from .sharing import SharingService, is_link_actor

CHART = "chart"
MAX_CHART_ROWS = 100_000
"""Most rows a chart draws; more are cut and the data says ``truncated``."""
HISTOGRAM_MAX_VALUES = 1_000_000
"""Most x values a histogram bins (binning happens in Arrow, see ``engine.chart_sql``)."""
SAMPLE_ROWS = 100
"""Rows read to learn a query's columns and their types when a chart is saved."""
WAIT_MARGIN_SECONDS = 30.0

DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "D MMM YYYY": "%-d %b %Y",
}
"""The settings' date formats as d3-time-format, for charts that set none."""

_PARAMETERS = TypeAdapter(list[QueryParameter])
_PATH_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): (.+)$", re.DOTALL)


@dataclass(frozen=True)
class ChartData:
    """What a renderer needs to draw a chart, resolved for one viewer."""

    chart: ChartOut | None
    """The saved chart (None for an unsaved spec: previews, templates)."""
    spec: ChartSpec
    customization: Customization
    """The chart's customization with the viewer's settings filling unset fields."""
    table: pa.Table
    """The rows drawn: aggregated, sorted and limited; columns named by ``columns``."""
    columns: dict[str, str]
    """Channel → column of ``table`` (``x``, ``y``, ...; a histogram adds ``x_end``; a count
    without a y field is column ``count``)."""
    truncated: bool
    """The chart's rows hit ``MAX_CHART_ROWS`` (a histogram: its input hit its cap)."""
    cached: bool = False
    """The rows came from the engine's result cache (no query ran on the datasource)."""


# -- reading request bodies ---------------------------------------------------------------------


def invalid_from(error: ValidationError, where: str) -> Invalid:
    """The first problem of ``error`` as ``Invalid`` at its full path under ``where``: a model
    rule's ``encodings.y: ...`` message becomes field ``spec.encodings.y``."""
    item = error.errors(include_url=False)[0]
    path = [where, *(str(part) for part in item["loc"])]
    message = str(item["msg"]).removeprefix("Value error, ")
    match = _PATH_PREFIX.match(message)
    if match:
        inner = match.group(1).split(".")
        if len(path) > 1 and inner[0] == path[-1]:  # a field rule naming its own field again
            inner = inner[1:]
        path.extend(inner)
        message = match.group(2)
    return Invalid(".".join(path), message)


def parse_spec(raw: Mapping[str, Any], where: str = "spec") -> ChartSpec:
    try:
        return ChartSpec.model_validate(raw)
    except ValidationError as error:
        raise invalid_from(error, where) from None


def parse_customization(raw: Mapping[str, Any], where: str = "customization") -> Customization:
    try:
        return Customization.model_validate(raw)
    except ValidationError as error:
        raise invalid_from(error, where) from None


def effective_customization(stored: Customization, settings: UserSettings) -> Customization:
    """``stored`` with the viewer's settings filling palette, theme and date format. A
    ``chart_theme`` of ``auto`` (follow the page) is light here: a server has no page."""
    theme = stored.theme or (settings.chart_theme if settings.chart_theme != "auto" else "light")
    return stored.model_copy(
        update={
            "palette": stored.palette if stored.palette is not None else settings.chart_palette,
            "theme": theme,
            "date_format": stored.date_format or DATE_FORMATS.get(settings.date_format),
        }
    )


def query_bindings(query: SavedQuery, values: Mapping[str, Any]) -> dict[str, Any]:
    """Driver bindings for ``values`` of ``query``'s parameters (422 naming the parameter)."""
    return bind_values(_PARAMETERS.validate_python(query.parameters or []), values)


# -- the service --------------------------------------------------------------------------------


class ChartDataService:
    """Chart rows for viewers. Blocking (it waits for the run): call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        sharing: SharingService,
        datasources: DatasourceService,
        queries: QueryService,
        settings: SettingsService,
    ) -> None:
        self._db = db
        self._sharing = sharing
        self._datasources = datasources
        self._queries = queries
        self._settings = settings

    # -- for viewers ------------------------------------------------------------------------

    def data(
        self,
        actor_id: str,
        chart_id: str,
        *,
        bypass_cache: bool = False,
        parameters: Mapping[str, Any] | None = None,
    ) -> ChartData:
        """The saved chart's rows and look, for anyone who may view the chart. ``parameters``
        override the chart's stored values one by one (a dashboard tile's fixed values and
        its filters); they go through the query's typed parameters like any other value."""
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART, chart_id, "view")
            chart: Chart = access.obj
            query = tx.get(SavedQuery, chart.query_id)
            if query is None:
                raise NotFound("chart not found")
            stored = Customization.model_validate(chart.customization or {})
            out = self.chart_out(actor_id, chart, access.level, stored)
            spec = ChartSpec.model_validate(chart.spec)
            values = {**(chart.parameters or {}), **(parameters or {})}
        bindings = query_bindings(query, values)
        drawn = self._draw(actor_id, query, bindings, spec, bypass_cache)
        table, columns, truncated, cached = drawn
        return ChartData(out, spec, out.effective_customization, table, columns, truncated, cached)

    def data_for(
        self,
        actor_id: str,
        query_id: str,
        parameters: Mapping[str, Any],
        spec: ChartSpec,
        customization: Customization | None = None,
    ) -> ChartData:
        """An unsaved chart's rows (previews, templates): needs ``view`` on the query."""
        query = self.viewable_query(actor_id, query_id)
        bindings = query_bindings(query, parameters)
        self.check(actor_id, query, bindings, spec)
        table, columns, truncated, cached = self._draw(actor_id, query, bindings, spec, False)
        look = self.resolve(actor_id, customization or Customization())
        return ChartData(None, spec, look, table, columns, truncated, cached)

    def data_json(self, actor_id: str, chart_id: str) -> ChartDataOut:
        """``GET /api/chart/{id}/data``: the rows as JSON objects."""
        return to_json(self.data(actor_id, chart_id))

    def data_arrow(self, actor_id: str, chart_id: str) -> bytes:
        """``GET /api/chart/{id}/data?format=arrow``: the rows as one Arrow IPC stream."""
        table = self.data(actor_id, chart_id).table
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    def preview(
        self, actor_id: str, query_id: str, parameters: Mapping[str, Any], raw_spec: Any
    ) -> ChartDataOut:
        """``POST /api/chart/preview``: an unsaved spec's rows."""
        return to_json(self.data_for(actor_id, query_id, parameters, parse_spec(raw_spec)))

    # -- shared with the chart services -----------------------------------------------------

    def viewable_query(self, actor_id: str, query_id: str) -> SavedQuery:
        """The saved query if the caller may view it; ``NotFound`` otherwise."""
        with self._db.transaction() as tx:
            return self._sharing.require(tx, actor_id, "query", query_id, "view").obj

    def resolve(self, actor_id: str, stored: Customization) -> Customization:
        settings = UserSettings() if is_link_actor(actor_id) else self._settings.get(actor_id)
        return effective_customization(stored, settings)

    def chart_out(
        self, actor_id: str, chart: Chart, level: str, stored: Customization | None = None
    ) -> ChartOut:
        stored = stored or Customization.model_validate(chart.customization or {})
        return ChartOut(
            id=chart.id,
            name=chart.name,
            description=chart.description,
            owner_id=chart.owner_id,
            query_id=chart.query_id,
            parameters=dict(chart.parameters or {}),
            spec=ChartSpec.model_validate(chart.spec),
            customization=stored,
            effective_customization=self.resolve(actor_id, stored),
            permission=level,
            created_at=chart.created_at,
            updated_at=chart.updated_at,
        )

    def check(
        self,
        actor_id: str,
        query: SavedQuery,
        bindings: Mapping[str, Any],
        spec: ChartSpec,
        schema: pa.Schema | None = None,
    ) -> pa.Schema:
        """``spec`` can be drawn from ``query``'s result: its SQL builds on the datasource's
        dialect (a median where there is none: 422) and every field is a column of a fitting
        type. The result's ``schema`` comes from running the query once for ``SAMPLE_ROWS``
        rows unless the caller already has it."""
        chart_query(query.sql, spec, self._source(actor_id, query).dialect, MAX_CHART_ROWS)
        if schema is None:
            schema = self.result_schema(actor_id, query, bindings)
        check_columns(spec, schema)
        return schema

    def result_schema(
        self, actor_id: str, query: SavedQuery, bindings: Mapping[str, Any]
    ) -> pa.Schema:
        """The columns of ``query``'s result (types from its first ``SAMPLE_ROWS`` rows)."""
        run = self._wait(self._start(actor_id, query, query.sql, bindings, SAMPLE_ROWS, False))
        assert run.result is not None
        return run.result.schema

    # -- running --------------------------------------------------------------------------------

    def _draw(
        self,
        actor_id: str,
        query: SavedQuery,
        bindings: Mapping[str, Any],
        spec: ChartSpec,
        bypass_cache: bool,
    ) -> tuple[pa.Table, dict[str, str], bool, bool]:
        """The rows drawn, channel → column, whether they were cut, whether they were cached."""
        source = self._source(actor_id, query)
        cap = HISTOGRAM_MAX_VALUES if spec.type == "histogram" else MAX_CHART_ROWS
        statement = chart_query(query.sql, spec, source.dialect, cap)
        run = self._start(actor_id, query, statement.sql, bindings, cap + 1, bypass_cache, source)
        run = self._wait(run)
        assert run.result is not None
        table = run.result.to_table()
        truncated = run.result.truncated or table.num_rows > cap
        table = table.slice(0, cap) if truncated else table
        if statement.histogram:
            table = histogram_table(table, spec, statement.columns)
        return plain_numbers(table), statement.columns, truncated, run.cached

    def _source(self, actor_id: str, query: SavedQuery) -> SourceSpec:
        """The query's datasource as the caller may use it, else as its owner may: the same
        authority ``SavedQueryService.run_as_viewer`` gives a query's viewers."""
        if query.datasource_id is None:
            raise Conflict(
                "this chart's query has no datasource (it was deleted): someone who may edit "
                "the query must choose another datasource"
            )
        for who in dict.fromkeys(w for w in (actor_id, query.owner_id) if w is not None):
            try:
                return self._datasources.source_for(who, query.datasource_id, "use")
            except (NotFound, Forbidden):
                continue
        raise Forbidden(
            "this chart cannot run: neither you nor its query's owner may use the datasource; "
            "ask whoever manages the datasource for the 'use' permission"
        )

    def _start(
        self,
        actor_id: str,
        query: SavedQuery,
        sql: str,
        bindings: Mapping[str, Any],
        row_limit: int,
        bypass_cache: bool,
        source: SourceSpec | None = None,
    ) -> Run:
        source = source or self._source(actor_id, query)
        return self._queries.start(
            actor_id, source, sql, bindings, row_limit=row_limit, bypass_cache=bypass_cache
        )

    def _wait(self, run: Run) -> Run:
        """Block this worker thread (never the event loop) until ``run`` ends."""
        try:
            run.future.result(timeout=self._timeout(run))
        except concurrent.futures.TimeoutError:
            self._queries.engine.cancel(run.id)
            raise Unavailable("the chart's query did not finish in time") from None
        if run.state is not RunState.SUCCEEDED or run.result is None:
            raise QueryFailed(f"the chart's query {run.state.value}: {run.error}")
        return run

    def _timeout(self, run: Run) -> float:
        flight = run.flight
        seconds = flight.spec.timeout_seconds if flight is not None else 0.0
        return seconds + WAIT_MARGIN_SECONDS


def to_json(data: ChartData) -> ChartDataOut:
    rows = [row for batch in data.table.to_batches() for row in json_rows(batch)]
    return ChartDataOut(
        chart_id=data.chart.id if data.chart is not None else None,
        columns=[DataColumn(name=f.name, type=str(f.type)) for f in data.table.schema],
        channels=data.columns,
        rows=rows,
        truncated=data.truncated,
    )

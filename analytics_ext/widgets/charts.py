"""``ChartBuilder``: a bqplot chart of a saved query (or of a result already in the kernel) from
the chart spec, with controls for type, x, y, colour and aggregation, and Save, Favorite and
Share. ``open_chart(id)`` reopens a saved chart with its parameters and customization.

Where the rows come from:

- a saved chart: ``GET /api/chart/{id}/data?format=arrow``; an unsaved spec over a saved query:
  ``POST /api/chart/preview``. Either way the spec's aggregation, sort and limit run in SQL on
  the datasource, so a million-row query arrives as the few hundred rows the chart draws;
- a result in the kernel (``data=``: an Arrow table, a DataFrame or a ``QueryRun``): the same
  chart SQL the server writes (``engine.chart_sql``) runs on it in an in-process DuckDB, and
  histograms are binned by the server's own function, so both paths draw the same rows. Such a
  chart can be explored but not saved (a chart belongs to a saved query).

Raw series that are still large are reduced in the kernel before any mark is made
(``downsample``): the figure's marks never hold more than ``budget`` points (4,000), and a note
under the figure says what was done. Loading runs in a worker thread, so the kernel stays
usable and Cancel works; failures show as one readable line.
"""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pyarrow as pa
import traitlets
from pydantic import ValidationError

from ..client.charts import chart_columns
from ..client.errors import AnalyticsError, NotFound, PermissionDenied
from ..schemas.charts import ALLOWED_CHANNELS, ChartSpec, Customization
from ..schemas.settings import UserSettings
from ._background import DEFAULT_TIMEOUT, Background, Job, describe_error
from .bqplot_marks import Drawing, draw
from .chart_look import DEFAULT_HEIGHT, DEFAULT_WIDTH
from .chart_rows import DATE_FORMATS, local_rows
from .downsample import MAX_POINTS
from .results import _client

if TYPE_CHECKING:
    from ..client import AnalyticsClient, QueryRun

CHART_TYPES = ["bar", "line", "area", "scatter", "pie", "histogram", "heatmap", "box"]
AGGREGATIONS = ["none", "sum", "mean", "median", "min", "max", "count", "count_distinct"]
NONE = "(none)"


class ChartBuilder(widgets.VBox):
    """The figure, its controls and the Save/Favorite/Share row.

    ``status`` is ``idle``, ``loading``, ``drawn`` or ``error`` (``error`` holds the message);
    ``points`` is how many data points the marks hold; ``note`` says how the rows were reduced.
    ``wait()`` blocks until the current load has finished (scripts and tests).
    """

    status = traitlets.Unicode("idle")
    error = traitlets.Unicode("")
    note = traitlets.Unicode("")
    points = traitlets.Int(0)
    chart_id = traitlets.Unicode(None, allow_none=True)
    favorite = traitlets.Bool(False)
    message = traitlets.Unicode("")

    def __init__(
        self,
        client: AnalyticsClient | None = None,
        *,
        chart: str | dict[str, Any] | None = None,
        query: str | None = None,
        data: pa.Table | Any | None = None,
        spec: dict[str, Any] | ChartSpec | None = None,
        customization: dict[str, Any] | Customization | None = None,
        parameters: dict[str, Any] | None = None,
        name: str = "",
        budget: int = MAX_POINTS,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if sum(source is not None for source in (chart, query, data)) != 1:
            raise ValueError("give one of chart=..., query=... (a saved query id) or data=...")
        self._client = _client(client) if data is None or client is not None else None
        self._background = Background(timeout)
        self.budget = budget
        self.query_id = query
        self.parameters = dict(parameters or {})
        self.spec: ChartSpec | None = _spec(spec)
        self.customization = _customization(customization)
        """As stored with the chart: only what was chosen (the user's settings fill the rest)."""
        self.look = self.customization
        """What is drawn: the customization with the viewer's settings filling the gaps."""
        self.saved: dict[str, Any] | None = None
        self.drawing: Drawing | None = None
        self.table: pa.Table | None = None
        """The chart's rows as they arrived (before any downsampling)."""
        self._data = data
        self._local: pa.Table | None = None
        self._quiet = False

        self.kind = widgets.Dropdown(description="Type", options=CHART_TYPES, value="bar")
        self.x = widgets.Dropdown(description="x", options=[NONE])
        self.y = widgets.Dropdown(description="y", options=[NONE])
        self.color = widgets.Dropdown(description="Colour", options=[NONE])
        self.aggregation = widgets.Dropdown(description="Aggregate", options=AGGREGATIONS)
        for control in (self.kind, self.x, self.y, self.color, self.aggregation):
            control.layout = {"width": "210px"}
            control.observe(self._controls_changed, "value")
        self.name = widgets.Text(value=name, placeholder="name of the chart")
        self._save = widgets.Button(description="Save", icon="save")
        self._favorite = widgets.Button(description="Favorite", icon="star-o", disabled=True)
        self._share_toggle = widgets.Button(description="Share…", icon="share", disabled=True)
        self._cancel = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self._save.on_click(lambda _: self.save())
        self._favorite.on_click(lambda _: self.toggle_favorite())
        self._share_toggle.on_click(lambda _: self._toggle_share_panel())
        self._cancel.on_click(lambda _: self.cancel())
        self.user = widgets.Text(placeholder="user id", layout={"width": "240px"})
        self.level = widgets.Dropdown(options=["view", "edit", "manage"], layout={"width": "100px"})
        share_user = widgets.Button(description="Share with user")
        share_link = widgets.Button(description="Create link", icon="link")
        share_user.on_click(lambda _: self.share(self.user.value.strip(), self.level.value))
        share_link.on_click(lambda _: self.share_link())
        self._share_panel = widgets.HBox(
            [self.user, self.level, share_user, share_link], layout={"display": "none"}
        )
        self._figure = widgets.Box(
            layout={"min_height": f"{DEFAULT_HEIGHT}px", "min_width": f"{DEFAULT_WIDTH}px"}
        )
        self._subtitle = widgets.Label("")
        self._note = widgets.HTML("")
        self._status = widgets.HTML("")
        controls = widgets.HBox([self.kind, self.x, self.y, self.color, self.aggregation])
        library = widgets.HBox(
            [self.name, self._save, self._favorite, self._share_toggle, self._cancel]
        )
        super().__init__(
            [controls, self._figure, self._subtitle, self._note, library, self._share_panel,
             self._status]
        )  # fmt: skip
        if data is not None:
            self._save.disabled = True
            self._save.tooltip = "A chart of data in the kernel cannot be saved: save its query"
            self._start(self._load_local, "Loading the data…")
        elif chart is not None:
            self._start(lambda job: self._load_chart(job, chart), "Loading the chart…")
        else:
            self._start(self._load_query, "Loading the query's columns…")

    # -- driving it from code ----------------------------------------------------------------

    def wait(self, timeout: float = 120.0) -> ChartBuilder:
        """Block until loading and drawing are done (``TimeoutError`` after ``timeout``)."""
        if not self._background.join(timeout):
            raise TimeoutError(f"the chart was still loading after {timeout:g} s")
        return self

    def cancel(self) -> None:
        """Stop loading (the figure keeps what it showed)."""
        self._background.cancel("draw")

    def set_spec(self, spec: dict[str, Any] | ChartSpec) -> Job[Any] | None:
        """Draw another spec (the controls follow it)."""
        try:
            self.spec = _spec(spec)
        except ValidationError as error:
            self._fail(_first_problem(error))
            return None
        self._sync_controls()
        return self.redraw()

    def customize(self, **fields: Any) -> Job[Any] | None:
        """Change the look (``title``, ``x_label``, ``number_format``, ``palette``, ...)."""
        try:
            stored = Customization.model_validate({**self._stored_fields(), **fields})
        except ValidationError as error:
            self._fail(_first_problem(error))
            return None
        self.customization = stored
        return self._start(self._refresh_look, "Drawing…")

    def redraw(self) -> Job[Any]:
        """Fetch the rows of the current spec again and draw them."""
        return self._start(self._fetch_and_draw, "Loading the chart's data…")

    # -- library -----------------------------------------------------------------------------

    def save(self) -> Job[Any] | None:
        """Save as a new chart the first time, then update it (spec, look, parameters, name)."""
        name, spec = self.name.value.strip(), self.spec
        if self._client is None or self.query_id is None:
            self._say("A chart of data in the kernel cannot be saved: save its query, then chart "
                      "it with query=...", error=True)  # fmt: skip
            return None
        client, chart_id, query_id = self._client, self.chart_id, self.query_id
        body = {
            "spec": spec.model_dump(mode="json", exclude_none=True) if spec else {},
            "customization": self._stored_fields(),
            "parameters": self.parameters,
        }

        def save(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            if not name:
                raise ValueError("give the chart a name first")
            if chart_id is None:
                return client.create_chart(name, query_id, **body)
            return client.update_chart(chart_id, name=name, **body)

        def saved(chart: dict[str, Any]) -> None:
            self._follow(chart)
            self._say(f"Saved chart {chart['name']!r}.")

        return self._background.start(save, on_result=saved, on_error=self._say_error)

    def toggle_favorite(self) -> Job[Any] | None:
        if self._client is None or self.chart_id is None:
            return None
        client, chart_id, add = self._client, self.chart_id, not self.favorite

        def toggle(job: Job[bool]) -> bool:
            job.check()
            if add:
                client.add_favorite(chart_id, "chart")
            else:
                client.remove_favorite(chart_id, "chart")
            return add

        return self._background.start(
            toggle, on_result=self._show_favorite, on_error=self._say_error, key="favorite"
        )

    def share(self, user_id: str, level: str = "view") -> Job[Any] | None:
        """Give the account ``user_id`` ``level`` on the saved chart."""
        if self._client is None or self.chart_id is None:
            return None
        client, chart_id = self._client, self.chart_id

        def grant(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            if not user_id:
                raise ValueError("enter the id of the user to share with")
            return client.share_chart(chart_id, user_id, level)

        def granted(grant: dict[str, Any]) -> None:
            who = grant.get("principal_name") or grant["principal_id"]
            self._say(f"Shared with {who} ({grant['level']}).")

        return self._background.start(grant, on_result=granted, on_error=self._say_error)

    def share_link(self) -> Job[Any] | None:
        """A view-only share link to the chart; its address is shown once."""
        if self._client is None or self.chart_id is None:
            return None
        client, chart_id = self._client, self.chart_id

        def link(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            return client.share_chart(chart_id, link=True)

        def made(grant: dict[str, Any]) -> None:
            url = html.escape(grant.get("url") or grant.get("token") or "")
            self._say(f"Share link (view only, shown once): <code>{url}</code>", is_html=True)

        return self._background.start(link, on_result=made, on_error=self._say_error)

    # -- loading (worker threads) ------------------------------------------------------------

    def _load_chart(self, job: Job[Any], chart: str | dict[str, Any]) -> None:
        assert self._client is not None
        saved = chart if isinstance(chart, dict) else self._client.chart(chart)
        job.check()
        self.query_id = saved["query_id"]
        self.parameters = dict(saved.get("parameters") or {})
        self.spec = ChartSpec.model_validate(saved["spec"])
        self.customization = Customization.model_validate(saved.get("customization") or {})
        self.look = Customization.model_validate(saved["effective_customization"])
        self._follow(saved)
        self._set_columns(self._query_columns(job) or _spec_fields(self.spec))
        self._sync_controls()
        table = self._client.chart_arrow(saved["id"], timeout=self._background.timeout)
        self._draw(job, table, chart_columns(self.spec), truncated=False)
        self._check_favorite(job)

    def _load_query(self, job: Job[Any]) -> None:
        self.look = self._with_settings(job, self.customization)
        self._set_columns(self._query_columns(job) or [])
        self._sync_controls()
        if self.spec is not None:
            self._fetch_and_draw(job)
        else:
            self._set(status="idle")
            self._say("Pick a type, x and y to draw the chart.")

    def _load_local(self, job: Job[Any]) -> None:
        data = self._data
        if hasattr(data, "wait") and hasattr(data, "arrow"):  # a QueryRun
            run: QueryRun = data
            while not run.refresh().done:  # Cancel stops the waiting (the run is the caller's)
                job.sleep(0.1)
            run.wait(timeout=0)  # raises QueryFailed or QueryCancelled
            job.check()
            data = run.arrow()
        if not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data, preserve_index=False)
        self._local = data
        if self._client is not None:
            self.look = self._with_settings(job, self.customization)
        self._set_columns(list(data.column_names))
        self._sync_controls()
        if self.spec is not None:
            self._fetch_and_draw(job)
        else:
            self._set(status="idle")

    def _fetch_and_draw(self, job: Job[Any]) -> None:
        spec = self.spec
        if spec is None:
            return
        job.check()
        if self._local is not None:
            table, columns = local_rows(self._local, spec)
            self._draw(job, table, columns, truncated=False)
            return
        assert self._client is not None
        assert self.query_id is not None
        spec_body = spec.model_dump(mode="json", exclude_none=True)
        if self.saved is not None and self.saved.get("spec") == spec_body:
            table = self._client.chart_arrow(self.saved["id"], timeout=self._background.timeout)
            truncated = False
        else:
            table, truncated = self._client.chart_preview_arrow(
                self.query_id, spec_body, self.parameters, timeout=self._background.timeout
            )
        self._draw(job, table, chart_columns(spec), truncated)

    def _refresh_look(self, job: Job[Any]) -> None:
        self.look = self._with_settings(job, self.customization)
        if self.table is not None and self.spec is not None and self._columns_of_table:
            self._draw(job, self.table, self._columns_of_table, truncated=False)
        else:
            self._fetch_and_draw(job)

    _columns_of_table: dict[str, str] | None = None

    def _draw(self, job: Job[Any], table: pa.Table, columns: dict[str, str], truncated: bool):
        assert self.spec is not None
        job.check()
        drawing = draw(self.spec, self.look, table, columns, budget=self.budget)
        job.check()
        self.table, self._columns_of_table, self.drawing = table, columns, drawing
        self._figure.children = [drawing.figure]
        self._subtitle.value = drawing.subtitle
        notes = [drawing.reduction.note(), *drawing.notes]
        if truncated:
            notes.insert(0, "The chart's rows were cut at the server's row cap (first rows).")
        self.note = " ".join(note for note in notes if note)
        self._note.value = (
            f'<small style="color:var(--jp-ui-font-color2,#666)">{html.escape(self.note)}</small>'
            if self.note
            else ""
        )
        self._set(status="drawn", points=drawing.points)
        self._say("")

    def _query_columns(self, job: Job[Any]) -> list[str] | None:
        """The saved query's result columns (one row run), or None if the caller may not run
        it (a chart's viewer need not see its query)."""
        assert self._client is not None
        assert self.query_id is not None
        try:
            run = self._client.run_saved(self.query_id, self.parameters, row_limit=1)
            run.wait(timeout=self._background.timeout)
        except (NotFound, PermissionDenied):
            return None
        job.check()
        return [column["name"] for column in run.columns]

    def _with_settings(self, job: Job[Any], stored: Customization) -> Customization:
        """``stored`` with the user's chart settings filling palette, theme and date format,
        as the server fills them for a saved chart (defaults when settings cannot be read)."""
        settings = UserSettings()
        if self._client is not None:
            with contextlib.suppress(AnalyticsError, ValidationError):  # defaults will do
                settings = UserSettings.model_validate(
                    self._client.transport.json("GET", "api/user/settings")
                )
        job.check()
        theme = stored.theme or (
            settings.chart_theme if settings.chart_theme != "auto" else "light"
        )
        return stored.model_copy(
            update={
                "palette": stored.palette if stored.palette is not None else settings.chart_palette,
                "theme": theme,
                "date_format": stored.date_format or DATE_FORMATS.get(settings.date_format),
            }
        )

    def _check_favorite(self, job: Job[Any]) -> None:
        assert self._client is not None
        chart_id = self.chart_id
        try:
            favorites = self._client.favorites()
        except AnalyticsError:  # a share link has no favorites: the chart is drawn all the same
            return
        job.check()
        self._show_favorite(any(f["object_id"] == chart_id for f in favorites))

    # -- controls ------------------------------------------------------------------------------

    def _set_columns(self, names: list[str]) -> None:
        self._quiet = True
        try:
            self.x.options = [NONE, *names]
            self.y.options = [NONE, *names]
            self.color.options = [NONE, *names]
        finally:
            self._quiet = False

    def _sync_controls(self) -> None:
        """Controls showing the current spec (without redrawing)."""
        spec = self.spec
        if spec is None:
            return
        self._quiet = True
        try:
            self.kind.value = spec.type
            for control, channel in ((self.x, "x"), (self.y, "y"), (self.color, "color")):
                encoding = getattr(spec.encodings, channel)
                value = encoding.field if encoding is not None else NONE
                if value not in control.options:
                    control.options = [*control.options, value]
                control.value = value
            self.aggregation.value = spec.aggregation.op if spec.aggregation else "none"
        finally:
            self._quiet = False

    def _controls_changed(self, _: Any) -> None:
        if self._quiet:
            return
        raw = self.spec.model_dump(exclude_none=True) if self.spec else {"encodings": {}}
        kind = self.kind.value
        encodings = dict(raw.get("encodings") or {})
        for control, channel in ((self.x, "x"), (self.y, "y"), (self.color, "color")):
            old = encodings.get(channel)
            if control.value == NONE:
                encodings.pop(channel, None)
            elif old is None or old.get("field") != control.value:
                encodings[channel] = {"field": control.value}
        encodings = {k: v for k, v in encodings.items() if k in ALLOWED_CHANNELS[kind]}
        op = self.aggregation.value
        raw.update(type=kind, encodings=encodings)
        raw["aggregation"] = None if op == "none" or kind in ("histogram", "box") else {"op": op}
        self.set_spec(raw)

    # -- messages ------------------------------------------------------------------------------

    def _start(self, work: Any, message: str) -> Job[Any]:
        self._set(status="loading", error="")
        self._say(message)
        self._cancel.disabled = False
        return self._background.start(
            work, on_result=lambda _: self._done(), on_error=self._fail, key="draw"
        )

    def _done(self) -> None:
        self._cancel.disabled = True
        if self.status == "loading":
            self._set(status="idle")
            self._say("")

    def _fail(self, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else describe_error(error)
        self._cancel.disabled = True
        self._set(status="error", error=message)
        self._say(message, error=True)

    def _say_error(self, error: BaseException) -> None:
        self._say(describe_error(error), error=True)

    def _set(self, **traits: Any) -> None:
        with self.hold_trait_notifications():
            for name, value in traits.items():
                setattr(self, name, value)

    def _say(self, text: str, *, error: bool = False, is_html: bool = False) -> None:
        self.message = text
        body = text if is_html else html.escape(text)
        color = "var(--jp-error-color1,#c00)" if error else "inherit"
        self._status.value = f'<span style="color:{color}">{body}</span>' if text else ""

    def _follow(self, chart: dict[str, Any]) -> None:
        self.saved = chart
        self.chart_id = chart["id"]
        self.name.value = chart["name"]
        self._favorite.disabled = self._share_toggle.disabled = False

    def _show_favorite(self, favorite: bool) -> None:
        self.favorite = favorite
        self._favorite.icon = "star" if favorite else "star-o"
        self._favorite.description = "Favorited" if favorite else "Favorite"

    def _toggle_share_panel(self) -> None:
        shown = self._share_panel.layout.display != "none"
        self._share_panel.layout.display = "none" if shown else "flex"

    def _stored_fields(self) -> dict[str, Any]:
        return self.customization.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def open_chart(
    chart_id: str, client: AnalyticsClient | None = None, **options: Any
) -> ChartBuilder:
    """A ``ChartBuilder`` on the saved chart ``chart_id``: its spec, parameters and
    customization, its rows from the server. It loads in the background; ``.wait()`` blocks
    until it is drawn."""
    return ChartBuilder(client, chart=chart_id, **options)


def _spec(spec: dict[str, Any] | ChartSpec | None) -> ChartSpec | None:
    if spec is None or isinstance(spec, ChartSpec):
        return spec
    return ChartSpec.model_validate(spec)


def _customization(value: dict[str, Any] | Customization | None) -> Customization:
    if isinstance(value, Customization):
        return value
    return Customization.model_validate(value or {})


def _spec_fields(spec: ChartSpec) -> list[str]:
    return list(dict.fromkeys(encoding.field for encoding in spec.channels().values()))


def _first_problem(error: ValidationError) -> str:
    item = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in item["loc"])
    message = str(item["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message

"""``QueryEditor``: write SQL, fill its parameters, run it on the server, watch it, page its
result; save, favorite and share it. ``open_query(id)`` reopens a saved query.

Run starts the query on the server and returns at once: a worker thread (``Background``) polls
the run and updates ``status`` (queued, running, then succeeded, failed or cancelled; ``error``
when it could not start), ``rows`` and ``elapsed`` (the server's figures), so Cancel stays
clickable and the kernel stays usable. Cancel stops the statement in the database. Every wait is
bounded: each request by the client's timeout, the whole run by ``timeout`` (then the run is
cancelled). The result shows in a ``ResultGrid`` below, paged on the server.

A saved query runs through ``POST /api/query/{id}/run`` with typed parameter values (its SQL, or
the edited SQL, which needs ``edit``); ad-hoc SQL through ``POST /api/query/run`` with the
values of its ``:name`` placeholders.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ..client.errors import AnalyticsError, QueryFailed
from ._background import DEFAULT_TIMEOUT, Background, Job, JobCancelled, JobTimeout, describe_error
from ._parameter_form import ParameterForm
from .library_buttons import LibraryButtons
from .results import ResultGrid, _client

if TYPE_CHECKING:
    from ..client import AnalyticsClient, QueryRun

PROGRESS = {"queued": 0.05, "succeeded": 1.0}
BAR_STYLES = {"succeeded": "success", "failed": "danger", "error": "danger", "cancelled": "warning"}
STYLE = (
    "<style>.ae-sql textarea{font-family:var(--jp-code-font-family,monospace);"
    "font-size:var(--jp-code-font-size,13px)}</style>"
)
CANCEL_GRACE = 10.0
"""Seconds a cancelled run may take to report that it stopped before the widget lets go."""


class QueryEditor(widgets.VBox):
    """Datasource picker, SQL, parameters, Run/Cancel with a live status, the result grid, and
    the Save/Favorite/Share row. ``run()``, ``cancel()`` and ``wait()`` drive it from code."""

    status = traitlets.Unicode("idle")
    rows = traitlets.Int(0)
    elapsed = traitlets.Float(0.0)
    error = traitlets.Unicode("")
    run_id = traitlets.Unicode(None, allow_none=True)
    query_id = traitlets.Unicode(None, allow_none=True)

    def __init__(
        self,
        client: AnalyticsClient | None = None,
        *,
        sql: str = "",
        datasource: str | None = None,
        query: str | dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
        row_limit: int | None = None,
        page_size: int = 50,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = _client(client)
        self._background = Background(timeout)
        self.row_limit = row_limit
        self.saved: dict[str, Any] | None = None
        """The saved query as last opened or saved (None for ad-hoc SQL)."""
        self.last_run: QueryRun | None = None
        self._wanted_datasource = datasource
        self.datasource = widgets.Dropdown(description="Datasource", options=[])
        self.sql = widgets.Textarea(
            value=sql, placeholder="SELECT … WHERE region = :region", continuous_update=False,
            layout={"width": "100%", "height": "160px"},
        )  # fmt: skip
        self.sql.add_class("ae-sql")
        self.sql.observe(lambda _: self.form.show_placeholders(self.sql.value), "value")
        self.form = ParameterForm()
        self.form.show_placeholders(sql)
        self._run = widgets.Button(description="Run", icon="play", button_style="primary")
        self._cancel = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self._run.on_click(lambda _: self.run())
        self._cancel.on_click(lambda _: self.cancel())
        self._progress = widgets.FloatProgress(0.0, min=0.0, max=1.0, layout={"width": "160px"})
        self._status_line = widgets.Label("")
        self._message = widgets.HTML("")
        self.grid = ResultGrid(self._client, page_size=page_size, background=self._background)
        self.library = LibraryButtons(
            self._client, self._draft, background=self._background, on_saved=self._opened
        )
        controls = widgets.HBox(
            [self._run, self._cancel, self._progress, self._status_line],
            layout={"align_items": "center"},
        )
        super().__init__(
            [widgets.HTML(STYLE), self.datasource, self.sql, self.form, controls,
             self._message, self.library, self.grid]
        )  # fmt: skip
        self._background.start(
            lambda job: self._client.datasources(),
            on_result=self._datasources_arrived, on_error=self._show_error, key="datasources",
        )  # fmt: skip
        if query is not None:
            self.open_saved(query, parameters)
        elif parameters:
            self.form.set_values(parameters)

    # -- what a user (or a script) does --------------------------------------------------------

    def open_saved(
        self, query: str | dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> Job[Any]:
        """Load a saved query (by id, or as the client returned it): SQL, datasource, a form of
        its typed parameters with their defaults (``parameters`` override them)."""

        def fetch(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            return query if isinstance(query, dict) else self._client.saved_query(query)

        def opened(saved: dict[str, Any]) -> None:
            self._opened(saved)
            if parameters:
                self.form.set_values(parameters)

        return self._background.start(
            fetch, on_result=opened, on_error=self._show_error, key="open"
        )

    def run(self) -> Job[Any] | None:
        """Start the query and return at once (the run is followed in a worker thread)."""
        if self._background.running("run") is not None:
            return None
        try:
            values = self.form.values()
        except ValueError as error:
            self._finish("error", str(error))
            return None
        sql, datasource_id = self.sql.value, self.datasource.value
        saved = self.saved
        if not sql.strip():
            self._finish("error", "Write a query first.")
            return None
        if datasource_id is None and saved is None:
            self._finish("error", "Choose a datasource first.")
            return None
        bindings = self.form.bindings()
        self.grid.clear("Running…")
        self.error, self.rows, self.elapsed, self.run_id = "", 0, 0.0, None
        self._show_message("")
        self._set_status("queued")
        self._run.disabled, self._cancel.disabled = True, False

        def start() -> QueryRun:
            if saved is not None and datasource_id in (None, saved["datasource_id"]):
                edited = None if sql == saved["sql"] else sql
                return self._client.run_saved(saved["id"], values, edited, self.row_limit)
            return self._client.run(sql, datasource_id, bindings, self.row_limit)

        def follow(job: Job[QueryRun]) -> QueryRun:
            run = start()
            self.last_run, self.run_id = run, run.id
            try:
                job.check()
                interval = 0.05
                while not run.done:
                    self._show_run(run)
                    job.sleep(interval)
                    interval = min(interval * 1.5, 0.5)
                    run.refresh()
            except JobCancelled:
                self._stop(run)
                raise
            return run

        return self._background.start(
            follow, on_result=self._ended, on_error=self._failed, key="run"
        )

    def cancel(self) -> None:
        """Stop the running query (in the database too); the status becomes ``cancelled``."""
        self._background.cancel("run")

    def wait(self, timeout: float = 60.0) -> bool:
        """Until the run, its first page and every other call of the editor have finished."""
        return self._background.join(timeout)

    # -- internals -------------------------------------------------------------------------------

    def _draft(self) -> dict[str, Any]:
        datasource_id = self.datasource.value or (self.saved or {}).get("datasource_id")
        return {
            "sql": self.sql.value,
            "datasource_id": datasource_id,
            "parameters": self.form.definitions_to_save(),
        }

    def _opened(self, saved: dict[str, Any]) -> None:
        self.saved = saved
        self.query_id = saved["id"]
        self.sql.value = saved["sql"]
        self.form.show_definitions(saved["parameters"])
        self._pick_datasource(saved["datasource_id"])
        if self.library.query_id != saved["id"] or self.library.version != saved["version"]:
            self.library.load(saved)

    def _datasources_arrived(self, datasources: list[dict[str, Any]]) -> None:
        self.datasource.options = [(d["name"], d["id"]) for d in datasources]
        wanted = self._wanted_datasource
        if self.saved is not None:
            wanted = self.saved["datasource_id"]
        for d in datasources:
            if wanted in (d["id"], d["name"]):
                self.datasource.value = d["id"]
                return
        if wanted is not None:
            self._show_message(f"No datasource {wanted!r} that you may see.", error=True)
        elif datasources:
            self.datasource.value = datasources[0]["id"]

    def _pick_datasource(self, datasource_id: str | None) -> None:
        ids = [value for _, value in self.datasource.options]
        if datasource_id is not None and datasource_id in ids:
            self.datasource.value = datasource_id

    def _show_run(self, run: QueryRun) -> None:
        self.rows, self.elapsed = run.rows, run.elapsed_seconds
        self._set_status(run.state)

    def _stop(self, run: QueryRun) -> None:
        """Cancel ``run`` on the server and wait (briefly) until it says it stopped."""
        try:
            run.cancel()
            grace = Job("cancel", CANCEL_GRACE)
            while not run.done:
                grace.sleep(0.1)
                run.refresh()
        except (AnalyticsError, JobTimeout):
            pass  # the server is gone or slow to stop: the widget lets go all the same
        self._show_run(run)

    def _ended(self, run: QueryRun) -> None:
        self._show_run(run)
        if run.state == "succeeded":
            self._finish("succeeded")
            cut = " (cut at the row limit)" if run.truncated else ""
            self._show_message(f"{run.rows:,} rows in {run.elapsed_seconds:.2f} s{cut}.")
            self.grid.show(run)
        elif run.state == "cancelled":
            self._finish("cancelled", "Cancelled.")
        else:
            self._finish("failed", describe_error(QueryFailed(run.error or "the query failed")))

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, JobTimeout):
            self._finish("cancelled", f"{describe_error(error)} The run was cancelled.")
        elif isinstance(error, JobCancelled):
            self._finish("cancelled", "Cancelled.")
        else:
            self._finish("error", describe_error(error))

    def _finish(self, status: str, message: str | None = None) -> None:
        self._set_status(status)
        if status != "succeeded":
            self.error = message or ""
            self.grid.clear("No result.")
        if message is not None:
            self._show_message(message, error=status != "succeeded")
        self._run.disabled, self._cancel.disabled = False, True

    def _set_status(self, status: str) -> None:
        self.status = status
        if status == "running":
            self._progress.value = min(0.9, 0.1 + self.elapsed / (self.elapsed + 5.0))
        else:
            self._progress.value = PROGRESS.get(status, self._progress.value)
        self._progress.bar_style = BAR_STYLES.get(status, "info")
        details = [status]
        if status in ("running", "succeeded") or self.rows:
            details.append(f"{self.rows:,} rows")
        if self.elapsed:
            details.append(f"{self.elapsed:.1f} s")
        self._status_line.value = " · ".join(details)

    def _show_error(self, error: BaseException) -> None:
        self._show_message(describe_error(error), error=True)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        color = "var(--jp-error-color1,#c00)" if error else "inherit"
        self._message.value = (
            f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""
        )


def open_query(
    query_id: str,
    client: AnalyticsClient | None = None,
    parameters: dict[str, Any] | None = None,
    **options: Any,
) -> QueryEditor:
    """An editor on the saved query ``query_id``: its SQL, datasource and a form of its
    parameters with their defaults filled (``parameters`` override them). It loads in the
    background; ``editor.wait()`` blocks until it has."""
    return QueryEditor(client, query=query_id, parameters=parameters, **options)

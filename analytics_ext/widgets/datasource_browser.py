"""``DatasourceBrowser``: datasources → schemas → tables → columns, and a preview of a table.

Each level loads from the REST API in a worker thread (``GET /api/datasources``, ``GET
/api/datasources/schema``) with a loading line while it does and a readable line when it fails.
A table's columns show their types, nullability and keys. The preview runs ``SELECT *`` on the
table (at most ``preview_rows`` rows, the names quoted for the datasource's dialect) and pages
through it in a ``ResultGrid``, so only one page of it reaches the browser.
"""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ._background import DEFAULT_TIMEOUT, Background, Job, describe_error
from .results import ResultGrid, _client

if TYPE_CHECKING:
    from ..client import AnalyticsClient

BACKTICK_DIALECTS = frozenset({"mysql", "mariadb", "bigquery", "databricks", "hive"})
_SELECT = {"rows": 10, "layout": {"width": "240px"}}


def quote_identifier(name: str, dialect: str) -> str:
    """``name`` quoted for ``dialect`` (the quote character doubled inside), so any table name
    the server listed is one identifier."""
    if dialect in BACKTICK_DIALECTS:
        return "`" + name.replace("`", "``") + "`"
    if dialect == "mssql":
        return "[" + name.replace("]", "]]") + "]"
    return '"' + name.replace('"', '""') + '"'


class DatasourceBrowser(widgets.VBox):
    """Pick a datasource, a schema and a table; read its columns; preview its first rows.
    ``select_datasource``, ``select_schema``, ``select_table`` and ``preview`` drive it from
    code; ``wait()`` blocks until what they started has arrived."""

    datasource_id = traitlets.Unicode(None, allow_none=True)
    schema = traitlets.Unicode(None, allow_none=True)
    table = traitlets.Unicode(None, allow_none=True)
    loading = traitlets.Unicode("")
    error = traitlets.Unicode("")

    def __init__(
        self,
        client: AnalyticsClient | None = None,
        *,
        preview_rows: int = 1000,
        page_size: int = 25,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = _client(client)
        self._background = Background(timeout)
        self.preview_rows = preview_rows
        self.datasources: list[dict[str, Any]] = []
        self.relations: dict[str, dict[str, Any]] = {}
        """The tables and views of the chosen schema, by name (columns, keys, row estimate)."""
        self._quiet = 0
        self._datasources = widgets.Select(options=[], **_SELECT)
        self._schemas = widgets.Select(options=[], **_SELECT)
        self._tables = widgets.Select(options=[], **_SELECT)
        self._datasources.observe(self._datasource_picked, "value")
        self._schemas.observe(self._schema_picked, "value")
        self._tables.observe(self._table_picked, "value")
        self._columns = widgets.HTML("")
        self._preview = widgets.Button(description="Preview", icon="table", disabled=True)
        self._preview.on_click(lambda _: self.preview())
        self._status = widgets.HTML("")
        self.grid = ResultGrid(self._client, page_size=page_size, background=self._background)
        lists = widgets.HBox(
            [
                widgets.VBox([widgets.HTML("<b>Datasources</b>"), self._datasources]),
                widgets.VBox([widgets.HTML("<b>Schemas</b>"), self._schemas]),
                widgets.VBox([widgets.HTML("<b>Tables</b>"), self._tables]),
            ]
        )
        super().__init__([lists, self._status, self._columns, self._preview, self.grid])
        self._loading("Loading datasources…")
        self._background.start(
            lambda job: self._client.datasources(),
            on_result=self._datasources_arrived, on_error=self._failed, key="datasources",
        )  # fmt: skip

    # -- what a user (or a script) does --------------------------------------------------------

    def select_datasource(self, name_or_id: str) -> Job[Any]:
        """Show the schemas and the default schema's tables of a datasource."""
        found = next((d for d in self.datasources if name_or_id in (d["id"], d["name"])), None)
        datasource_id = found["id"] if found else name_or_id
        with self._quietly():
            if found:
                self._datasources.value = datasource_id
        return self._load_schema(datasource_id, None)

    def select_schema(self, schema: str) -> Job[Any]:
        if self.datasource_id is None:
            raise ValueError("choose a datasource first")
        return self._load_schema(self.datasource_id, schema)

    def select_table(self, name: str) -> dict[str, Any]:
        """Show a table's columns (already loaded with its schema); returns its description."""
        relation = self.relations.get(name)
        if relation is None:
            raise KeyError(f"no table or view {name!r} in schema {self.schema!r}")
        with self._quietly():
            self._tables.value = name
        self.table = name
        self._columns.value = _columns_html(relation)
        self._preview.disabled = False
        return relation

    def preview(self, table: str | None = None) -> Job[Any]:
        """Run ``SELECT *`` on the table (at most ``preview_rows`` rows) and page through it."""
        if table is not None:
            self.select_table(table)
        if self.datasource_id is None or self.table is None:
            raise ValueError("choose a table first")
        dialect = next(
            (d["dialect"] for d in self.datasources if d["id"] == self.datasource_id), ""
        )
        target = quote_identifier(self.table, dialect)
        if self.schema:
            target = f"{quote_identifier(self.schema, dialect)}.{target}"
        sql = f"SELECT * FROM {target}"  # noqa: S608 -- one quoted identifier the server listed
        datasource_id = self.datasource_id
        self._loading(f"Reading the first rows of {self.table}…")
        self.grid.clear("Loading…")

        def first_rows(job: Job[Any]) -> Any:
            run = self._client.run(sql, datasource_id, row_limit=self.preview_rows)
            try:
                while not run.done:
                    job.sleep(0.1)
                    run.refresh()
            except Exception:
                with contextlib.suppress(Exception):
                    run.cancel()
                raise
            return run.wait(timeout=0)

        def arrived(run: Any) -> None:
            self._loading("")
            self.grid.show(run)

        return self._background.start(
            first_rows, on_result=arrived, on_error=self._failed, key="preview"
        )

    def wait(self, timeout: float = 60.0) -> bool:
        return self._background.join(timeout)

    # -- internals -------------------------------------------------------------------------------

    def _load_schema(self, datasource_id: str, schema: str | None) -> Job[Any]:
        self.datasource_id = datasource_id
        self.table = None
        self._preview.disabled = True
        self._columns.value = ""
        with self._quietly():
            self._tables.options = []
        self._loading(f"Loading the tables of {schema}…" if schema else "Loading schemas…")
        return self._background.start(
            lambda job: self._client.schema(datasource_id, schema),
            on_result=self._schema_arrived, on_error=self._failed, key="schema",
        )  # fmt: skip

    def _datasources_arrived(self, datasources: list[dict[str, Any]]) -> None:
        self.datasources = datasources
        with self._quietly():
            self._datasources.options = [(d["name"], d["id"]) for d in datasources]
            self._datasources.value = None
        self._loading("" if datasources else "No datasources you may see yet.")

    def _schema_arrived(self, page: dict[str, Any]) -> None:
        self.schema = page.get("schema")
        self.relations = {r["name"]: r for r in page["items"]}
        with self._quietly():
            if page.get("schemas") is not None:
                self._schemas.options = page["schemas"]
            self._schemas.value = self.schema if self.schema in self._schemas.options else None
            self._tables.options = [
                (f"{r['name']} (view)" if r["kind"] == "view" else r["name"], r["name"])
                for r in page["items"]
            ]
            self._tables.value = None
        self._loading("" if page["items"] else f"No tables in {self.schema}.")

    def _datasource_picked(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._load_schema(change["new"], None)

    def _schema_picked(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None and self.datasource_id is not None:
            self._load_schema(self.datasource_id, change["new"])

    def _table_picked(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self.select_table(change["new"])

    def _failed(self, error: BaseException) -> None:
        self.loading = ""
        self.error = describe_error(error)
        self._status.value = (
            f'<span style="color:var(--jp-error-color1,#c00)">{html.escape(self.error)}</span>'
        )

    def _loading(self, text: str) -> None:
        self.loading, self.error = text, ""
        self._status.value = f"<i>⏳ {html.escape(text)}</i>" if text else ""

    def _quietly(self) -> _Quiet:
        return _Quiet(self)


class _Quiet:
    """Within it, setting a list's options or value does not load anything."""

    def __init__(self, browser: DatasourceBrowser) -> None:
        self._browser = browser

    def __enter__(self) -> None:
        self._browser._quiet += 1

    def __exit__(self, *_: object) -> None:
        self._browser._quiet -= 1


def _columns_html(relation: dict[str, Any]) -> str:
    """A table of the relation's columns: name, type, nullable, key (PK, FK → target)."""
    references: dict[str, str] = {}
    for key in relation.get("foreign_keys", []):
        target = key["referred_table"]
        if key.get("referred_schema"):
            target = f"{key['referred_schema']}.{target}"
        for mine, theirs in zip(key["columns"], key["referred_columns"], strict=False):
            references[mine] = f"FK → {target}.{theirs}"
    rows = []
    for column in relation["columns"]:
        keys = [
            k for k in ("PK" if column["primary_key"] else "", references.get(column["name"])) if k
        ]
        cells = (
            column["name"],
            column["type"],
            "yes" if column["nullable"] else "no",
            ", ".join(keys),
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    estimate = relation.get("row_estimate")
    caption = f"{html.escape(relation['name'])} ({relation['kind']}"
    caption += f", about {estimate:,} rows)" if estimate is not None else ")"
    return (
        f'<table class="ae-grid"><caption style="text-align:left">{caption}</caption>'
        "<thead><tr><th>column</th><th>type</th><th>nullable</th><th>key</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )

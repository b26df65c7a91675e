"""``ResultGrid``: a run's result, paged on the server, one page at a time in the browser.

The result stays on the server. The grid asks for one page (``GET /api/query/runs/{id}/result
?offset=&limit=``) and sends the browser only that page, rendered as an HTML table in one
``ipywidgets.HTML`` (no custom JavaScript), so a million-row result costs the browser what 50
rows cost. Sorting is server-side: clicking a column's header button asks the server for the
page of the whole result ordered by that column (``?sort=&order=``, a stable sort with nulls
last); clicking it again reverses the order. Nothing is re-run and no other rows move.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ._background import Background, Job, describe_error

if TYPE_CHECKING:
    from ..client import AnalyticsClient, QueryRun

PAGE_SIZES = (10, 25, 50, 100, 250, 500)
MAX_CELL_CHARS = 200
"""Longer text is cut in the cell (the whole value is one ``grid.rows`` away in the kernel)."""
INDEX_WIDTH = 64
STYLE = (
    "<style>.ae-grid{border-collapse:collapse;table-layout:fixed;font-size:12px;"
    "font-family:var(--jp-code-font-family,monospace)}.ae-grid td,.ae-grid th{border:1px solid "
    "var(--jp-border-color2,#ddd);padding:2px 6px;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap}.ae-grid th{font-weight:normal;color:var(--jp-ui-font-color2,#777)}"
    ".ae-grid .r{text-align:right}.ae-grid .n{color:var(--jp-ui-font-color3,#aaa)}</style>"
)


def _client(client: AnalyticsClient | None) -> AnalyticsClient:
    if client is not None:
        return client
    from ..client import connect

    return connect()


class ResultGrid(widgets.VBox):
    """A table over a finished run: first/previous/next/last, page size, total rows, column
    names with their Arrow types, sort by a column on the server.

    ``show(run)`` points it at a run (a ``QueryRun`` or a run id); page changes run in a worker
    thread (``wait()`` blocks until the page is there, for scripts and tests). ``rows`` and
    ``columns`` hold the visible page in the kernel.
    """

    page_size = traitlets.Int(50)
    offset = traitlets.Int(0)
    total_rows = traitlets.Int(0)
    sort_column = traitlets.Unicode(None, allow_none=True)
    sort_descending = traitlets.Bool(False)
    loading = traitlets.Bool(False)
    error = traitlets.Unicode("")
    run_id = traitlets.Unicode(None, allow_none=True)

    def __init__(
        self,
        client: AnalyticsClient | None = None,
        run: QueryRun | str | None = None,
        *,
        page_size: int = 50,
        column_width: int = 160,
        background: Background | None = None,
    ) -> None:
        self._client = _client(client)
        self._background = background or Background()
        self.column_width = column_width
        self.columns: list[dict[str, str]] = []
        self.rows: list[dict[str, Any]] = []
        self._pending: QueryRun | None = None
        """A run shown before it finished: the first page waits for it."""
        # Font Awesome 4 icons (JupyterLab ships the font): ⏮/⏭ have no glyph in common
        # Linux fonts and showed as empty boxes.
        self._first = self._nav_button("step-backward", "First page", self.first)
        self._previous = self._nav_button("chevron-left", "Previous page", self.previous)
        self._next = self._nav_button("chevron-right", "Next page", self.next)
        self._last = self._nav_button("step-forward", "Last page", self.last)
        self._position = widgets.Label("No result yet.")
        sizes = sorted({*PAGE_SIZES, page_size})
        self._size = widgets.Dropdown(
            options=sizes, value=page_size, description="Rows", layout={"width": "140px"}
        )
        self._size.observe(self._size_changed, "value")
        toolbar = widgets.HBox(
            [self._first, self._previous, self._position, self._next, self._last, self._size],
            layout={"align_items": "center"},
        )
        self._header = widgets.HBox([], layout={"margin": "0"})
        self._table = widgets.HTML("", layout={"margin": "0"})
        self._message = widgets.HTML("")
        body = widgets.VBox([self._header, self._table], layout={"overflow_x": "auto"})
        super().__init__([toolbar, body, self._message])
        self.page_size = page_size
        self._navigation_enabled()
        if run is not None:
            self.show(run)

    # -- what a user (or a script) does --------------------------------------------------------

    def show(self, run: QueryRun | str) -> Job[Any]:
        """Show the first page of a run's result (unsorted); a ``QueryRun`` still going is
        waited for first (in the worker thread)."""
        self._pending = None if isinstance(run, str) or run.done else run
        self.run_id = run if isinstance(run, str) else run.id
        self.sort_column = None
        self.sort_descending = False
        self.offset = 0
        self.columns = []
        return self.load()

    def clear(self, message: str = "") -> None:
        """No result (e.g. while a new run is on its way)."""
        self._background.cancel("page")
        self._pending = None
        self.run_id = None
        self.columns, self.rows = [], []
        self.total_rows = 0
        self._header.children = ()
        self._table.value = ""
        self._position.value = message or "No result yet."
        self._show_error("")
        self._navigation_enabled()

    def first(self) -> Job[Any] | None:
        return self._go(0)

    def previous(self) -> Job[Any] | None:
        return self._go(max(0, self.offset - self.page_size))

    def next(self) -> Job[Any] | None:
        if self.offset + self.page_size >= self.total_rows:
            return None
        return self._go(self.offset + self.page_size)

    def last(self) -> Job[Any] | None:
        return self._go(max(0, (self.total_rows - 1) // self.page_size * self.page_size))

    def sort_by(self, column: str | None, descending: bool | None = None) -> Job[Any] | None:
        """Order the whole result by ``column`` on the server (None: the result's own order);
        without ``descending``, the same column again flips the direction."""
        if column is not None and descending is None:
            descending = column == self.sort_column and not self.sort_descending
        self.sort_column = column
        self.sort_descending = bool(descending)
        return self._go(0)

    def load(self) -> Job[Any]:
        """Fetch the page at ``offset`` (a newer request supersedes one still on its way)."""
        if self.run_id is None:
            raise ValueError("no run to show: call show(run) first")
        self.loading = True
        self._position.value = "Loading…"
        self._navigation_enabled()
        run_id, offset, size = self.run_id, self.offset, self.page_size
        sort, descending = self.sort_column, self.sort_descending

        pending = self._pending

        def fetch(job: Job[dict[str, Any]]) -> dict[str, Any]:
            job.check()
            if pending is not None:
                while not pending.done:
                    job.sleep(0.2)
                    pending.refresh()
                pending.wait(timeout=0)  # QueryFailed / QueryCancelled say why there is none
                self._pending = None
            return self._client.result_page(run_id, offset, size, sort, descending)

        return self._background.start(
            fetch, on_result=self._page_arrived, on_error=self._page_failed, key="page"
        )

    def wait(self, timeout: float = 60.0) -> bool:
        """Until the page asked for is shown (False if ``timeout`` came first)."""
        return self._background.join(timeout)

    # -- internals -------------------------------------------------------------------------------

    def _go(self, offset: int) -> Job[Any] | None:
        if self.run_id is None:
            return None
        self.offset = offset
        return self.load()

    def _size_changed(self, change: dict[str, Any]) -> None:
        self.page_size = int(change["new"])
        if self.run_id is not None:
            self._go(self.offset // self.page_size * self.page_size)

    def _page_arrived(self, page: dict[str, Any]) -> None:
        columns = [{"name": c["name"], "type": c["type"]} for c in page["columns"]]
        if columns != self.columns:
            self.columns = columns
            self._header.children = (
                self._index_spacer(),
                *(self._column_button(c) for c in columns),
            )
            self._header.layout.width = f"{self._table_width()}px"
        else:
            buttons = self._header.children[1:]
            for button, column in zip(buttons, columns, strict=True):
                button.description = self._header_label(column["name"])  # type: ignore[attr-defined]
        self.rows = page["rows"]
        self.total_rows = page["total_rows"]
        self._table.value = self._render(page["rows"])
        shown = len(page["rows"])
        first = self.offset + 1 if shown else 0
        order = ""
        if self.sort_column is not None:
            order = f", by {self.sort_column} {'↓' if self.sort_descending else '↑'}"
        self._position.value = (
            f"Rows {first:,} to {self.offset + shown:,} of {self.total_rows:,}{order}"
        )
        self._show_error("")
        self.loading = False
        self._navigation_enabled()

    def _page_failed(self, error: BaseException) -> None:
        self._show_error(describe_error(error))
        self._position.value = "No page."
        self.loading = False
        self._navigation_enabled()

    def _show_error(self, message: str) -> None:
        self.error = message
        self._message.value = (
            f'<span style="color:var(--jp-error-color1,#c00)">{html.escape(message)}</span>'
            if message
            else ""
        )

    def _navigation_enabled(self) -> None:
        idle = not self.loading and self.run_id is not None
        at_start = self.offset == 0
        at_end = self.offset + self.page_size >= self.total_rows
        self._first.disabled = not idle or at_start
        self._previous.disabled = not idle or at_start
        self._next.disabled = not idle or at_end
        self._last.disabled = not idle or at_end

    def _nav_button(self, icon: str, tooltip: str, action: Any) -> widgets.Button:
        button = widgets.Button(
            description="", icon=icon, tooltip=tooltip, layout={"width": "36px"}
        )
        button.on_click(lambda _: action())
        return button

    def _header_label(self, name: str) -> str:
        arrow = ""
        if name == self.sort_column:
            arrow = " ↓" if self.sort_descending else " ↑"
        return name + arrow

    @property
    def sort_buttons(self) -> tuple[widgets.Button, ...]:
        """The column headers' sort buttons, in the result's column order."""
        return tuple(self._header.children[1:])

    def _table_width(self) -> int:
        return INDEX_WIDTH + self.column_width * len(self.columns)

    def _index_spacer(self) -> widgets.Box:
        """Stands above the table's row-number column, so each sort button sits exactly over
        its column (both rows use the same fixed widths and neither may shrink)."""
        width = f"{INDEX_WIDTH}px"
        return widgets.Box(
            layout={"width": width, "min_width": width, "flex": "0 0 auto", "margin": "0"}
        )

    def _column_button(self, column: dict[str, str]) -> widgets.Button:
        width = f"{self.column_width}px"
        button = widgets.Button(
            description=self._header_label(column["name"]),
            tooltip=f"{column['name']} ({column['type']}): click to sort",
            layout={"width": width, "min_width": width, "flex": "0 0 auto", "margin": "0"},
        )
        button.on_click(lambda _: self.sort_by(column["name"]))
        return button

    def _render(self, rows: list[dict[str, Any]]) -> str:
        """The page as one HTML table: a row number column, then the result's columns, each
        ``column_width`` wide so the header buttons above line up with them."""
        names = [c["name"] for c in self.columns]
        width = self.column_width
        total = self._table_width()
        parts = [
            STYLE,
            f'<table class="ae-grid" style="width:{total}px"><colgroup>',
            f'<col style="width:{INDEX_WIDTH}px">',
            f'<col style="width:{width}px">' * len(names),
            "</colgroup><thead><tr><th>#</th>",
            *(f"<th>{html.escape(c['type'])}</th>" for c in self.columns),
            "</tr></thead><tbody>",
        ]
        for index, row in enumerate(rows, start=self.offset + 1):
            parts.append(f'<tr><td class="r n">{index:,}</td>')
            parts.extend(_cell(row.get(name)) for name in names)
            parts.append("</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return '<td class="n">null</td>'
    if isinstance(value, bool):
        return f"<td>{'true' if value else 'false'}</td>"
    if isinstance(value, int | float):
        return f'<td class="r">{value}</td>'
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    return f"<td>{html.escape(text)}</td>"

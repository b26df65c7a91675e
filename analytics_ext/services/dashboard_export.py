"""A dashboard exported as one self-contained HTML file, or as a PDF printed from it.

The export shows the dashboard's current state as anyone who may view it sees it (``view`` on
the dashboard: users, share links, dashboard kernels): every query and chart tile is run
exactly as ``POST .../tiles/{id}/data`` runs it — as the owner, with the filters' defaults,
through the result cache — and drawn on the server by ``engine.dashboard_html`` (charts as SVG
from the chart-export renderer). A tile that cannot be drawn says why in its place; the rest
of the dashboard still exports.

Speed: tiles are drawn concurrently (``concurrency`` at a time, each in the services' worker
pool; waiting on a query holds a worker, so not all of them), charts through the shared
renderer with its own limit. A 50-tile dashboard costs about its slowest queries, not their sum.

PDF: the HTML is printed by headless Chromium (``AnalyticsExtension.chromium_path``, else the
first of chromium, chromium-browser, google-chrome on PATH) from a private temporary folder,
with networking turned off (a proxy that does not exist, no DNS, no background services); the
document itself loads nothing and runs no script. No browser: 503 naming the setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ..engine.chart_render import MAX_RENDER_ROWS, ChartRenderer
from ..engine.dashboard_html import (
    RenderedTile,
    chart_html,
    chart_size,
    display_value,
    document,
    filter_html,
    fitting_rows,
    markdown_html,
    note_html,
    problem_html,
    table_html,
)
from ..engine.dashboard_markdown import render_markdown
from ..engine.vega_lite import to_vega_lite
from ..errors import AnalyticsError, Unavailable
from ..schemas.dashboards import ChartTile, FilterTile, LayoutItem, MarkdownTile, QueryTile, Tile
from ..store.types import utcnow
from .chart_export import content_disposition
from .dashboard_tiles import Board, DashboardTileService, filter_default

ExportFormat = Literal["html", "pdf"]
MEDIA_TYPES: Final[dict[str, str]] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_SETTING: Final = "AnalyticsExtension.chromium_path"
OFFLINE_FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # root in containers has no user namespaces; the page runs no script
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-quic",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
)
"""Print offline: every request would go to a proxy on the discard port (which nothing
serves), loopback included, and no name resolves."""
PDF_TIMEOUT_SECONDS = 120.0
EXPORT_CONCURRENCY = 4

Run = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class DashboardFile:
    content: bytes
    media_type: str
    content_disposition: str
    """``attachment`` with a server-chosen safe file name (see ``chart_export``)."""


def find_chromium(configured: str | None) -> str:
    """The browser to print with: ``configured`` if set (an executable path or a name on
    PATH), else the first known name on PATH. ``Unavailable`` naming the setting otherwise."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise Unavailable(
                f"PDF export needs Chromium, and {CHROMIUM_SETTING} = {configured!r} is not an "
                "executable; install Chromium or correct the setting"
            )
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise Unavailable(
        "PDF export needs Chromium or Chrome, and none is on the server's PATH "
        f"({', '.join(CHROMIUM_NAMES[:3])}); install one or set {CHROMIUM_SETTING}"
    )


class DashboardExportService:
    """``GET /api/dashboards/{id}/export``. Async: it fans tiles out to the worker pool."""

    def __init__(
        self,
        tiles: DashboardTileService,
        renderer: ChartRenderer,
        run: Run,
        *,
        chromium_path: str | None = None,
        concurrency: int = EXPORT_CONCURRENCY,
        pdf_timeout: float = PDF_TIMEOUT_SECONDS,
    ) -> None:
        self._tiles = tiles
        self._renderer = renderer
        self._run = run
        self.chromium_path = chromium_path
        self._concurrency = concurrency
        self._pdf_timeout = pdf_timeout

    async def export(self, actor_id: str, dashboard_id: str, fmt: ExportFormat) -> DashboardFile:
        """The dashboard as ``fmt``; ``NotFound`` for one the caller may not view."""
        board: Board = await self._run(self._tiles.board, actor_id, dashboard_id)
        chromium = find_chromium(self.chromium_path) if fmt == "pdf" else None
        html = await self.html(board)
        if chromium is None:
            content = html.encode()
        else:
            content = await self.print_pdf(html, chromium)
        return DashboardFile(
            content=content,
            media_type=MEDIA_TYPES[fmt],
            content_disposition=content_disposition(board.title, fmt, fallback="dashboard"),
        )

    # -- HTML ----------------------------------------------------------------------------------

    async def html(self, board: Board) -> str:
        """Every tile drawn (``concurrency`` at a time), placed on the board's grid."""
        places = {item.tile: item for item in board.layout}
        slots = asyncio.Semaphore(self._concurrency)

        async def draw(index: int, tile: Tile) -> RenderedTile:
            async with slots:
                body = await self._run(self._body, board, tile, places[tile.id], index)
            return RenderedTile(places[tile.id], tile.type, tile.title, body)

        drawn = await asyncio.gather(*(draw(i, t) for i, t in enumerate(board.tiles)))
        return document(board.title, board.description, utcnow(), drawn)

    def _body(self, board: Board, tile: Tile, place: LayoutItem, index: int) -> str:
        """One tile's markup (blocking: it waits for the tile's run, and renders)."""
        if isinstance(tile, MarkdownTile):
            return markdown_html(render_markdown(tile.text))
        if isinstance(tile, FilterTile):
            titles = {t.id: t.title or t.id for t in board.tiles}
            label = tile.parameter.label or tile.parameter.name
            aimed = list(dict.fromkeys(titles.get(t.tile, t.tile) for t in tile.targets))
            return filter_html(label, display_value(filter_default(tile)), aimed)
        try:
            if isinstance(tile, QueryTile):
                rows = self._tiles.query_rows(board, tile, {})
                return table_html(
                    rows.table,
                    truncated=rows.truncated,
                    row_limit=tile.row_limit,
                    fits=fitting_rows(place, titled=bool(tile.title)),
                )
            assert isinstance(tile, ChartTile)
            return self._chart(board, tile, place, index)
        except AnalyticsError as error:
            return problem_html(error.message)

    def _chart(self, board: Board, tile: ChartTile, place: LayoutItem, index: int) -> str:
        data = self._tiles.chart_data(board, tile, {})
        rows = data.table.num_rows
        if data.truncated or rows > MAX_RENDER_ROWS:
            return note_html(
                f"This chart draws {rows:,}{'+' if data.truncated else ''} rows, more than an "
                f"export draws ({MAX_RENDER_ROWS:,}); aggregate or limit them in the chart."
            )
        width, height = chart_size(place, titled=bool(tile.title))
        spec = to_vega_lite(
            data.spec, data.customization, data.table, data.columns, width=width, height=height
        )
        svg = self._renderer.render(spec, "svg", width, height).decode()
        return chart_html(svg, f"t{index}")

    # -- PDF -----------------------------------------------------------------------------------

    async def print_pdf(self, html: str, chromium: str) -> bytes:
        """``html`` printed by headless Chromium, offline, in a private temporary folder."""
        folder = Path(await self._run(tempfile.mkdtemp, prefix="analytics-pdf-"))
        try:
            page, pdf = folder / "dashboard.html", folder / "dashboard.pdf"
            await self._run(page.write_text, html, encoding="utf-8")
            process = await asyncio.create_subprocess_exec(
                chromium,
                *OFFLINE_FLAGS,
                f"--user-data-dir={folder / 'profile'}",
                f"--print-to-pdf={pdf}",
                page.as_uri(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its helpers share its process group: one kill ends all
            )
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), self._pdf_timeout)
            except TimeoutError:
                _kill_group(process.pid)
                await process.wait()
                raise Unavailable(
                    f"Chromium did not print the dashboard within {self._pdf_timeout:g} s"
                ) from None
            finally:
                _kill_group(process.pid)  # helpers left behind by a browser that exited
            content: bytes | None = await self._run(_read, pdf)
            if process.returncode != 0 or content is None or not content.startswith(b"%PDF"):
                lines = [line for line in stderr.decode(errors="replace").splitlines() if line]
                said = lines[-1][:300] if lines else "no message"
                raise Unavailable(
                    f"Chromium could not print the dashboard (exit {process.returncode}): {said}"
                )
            return content
        finally:
            await self._run(shutil.rmtree, folder, ignore_errors=True)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _kill_group(pid: int) -> None:
    """End the process group this service started for one print (never anything else)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

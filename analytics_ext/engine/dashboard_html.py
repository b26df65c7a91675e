"""A dashboard as ONE self-contained HTML document: the static export, and the page printed to PDF.

Everything is rendered on the server, so the file opens anywhere, offline, years later: query
tiles become HTML tables, chart tiles inline SVG from the chart-export renderer, markdown goes
through ``engine.dashboard_markdown``, filters show the value the tiles were run with. The
document fetches nothing — no script, no font, no stylesheet, no image URL — and says so to the
browser with a Content-Security-Policy (``default-src 'none'``), so even markup that slipped
through could not load or run anything.

Every piece of user text (titles, the description, table cells, filter values) is escaped
here; the only markup taken as-is comes from our own renderers (the markdown renderer and
Vega's SVG, which escapes text itself).

Layout: the board's 12-column grid becomes CSS grids. It is cut into *bands* — runs of grid
rows that no tile straddles — and the bands into printed pages, so a PDF never cuts a tile in
half and its page count follows from the layout alone (``print_pages``): A4 landscape,
``PAGE_ROWS`` grid rows a page (the grid keeps its screen proportions), the title taking
``HEADER_ROWS`` of the first; a band taller
than a page gets a page of its own with its rows shrunk to fit.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from ..schemas.dashboards import GRID_COLUMNS, LayoutItem
from .export import jsonable

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""The document's own policy (a ``<meta>``): nothing loads but inline styles and data: images."""
BOARD_WIDTH = 1200
"""Screen width of the grid in CSS pixels (narrower windows scale it down)."""
ROW_HEIGHT = 80
"""Screen height of one grid row in CSS pixels."""
TILE_MARGIN = 4
TILE_TITLE_HEIGHT = 28
TABLE_ROW_HEIGHT = 23
"""A table row's height in CSS pixels (cells do not wrap)."""
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 277.0, 190.0
"""What A4 landscape leaves inside 10 mm margins."""
PRINT_ROW_MM = round(PAGE_WIDTH_MM / BOARD_WIDTH * ROW_HEIGHT, 3)
"""One grid row on paper: the grid keeps its screen proportions at the page's width, so a
chart fills its printed tile as it fills it on screen."""
PAGE_ROWS = int(PAGE_HEIGHT_MM // PRINT_ROW_MM)
"""Grid rows on one A4 landscape page (10)."""
HEADER_ROWS = 2
"""Rows the dashboard's title and description take on the first printed page."""
EXPORT_TABLE_ROWS = 200
"""Most rows a query tile shows in an export; the rest are counted in a note."""
_SVG_ID = re.compile(r'\bid="([^"]+)"')


@dataclass(frozen=True)
class RenderedTile:
    """One tile's finished markup, and where it sits."""

    place: LayoutItem
    kind: str
    """``query``, ``chart``, ``markdown``, ``filter`` (a CSS class)."""
    title: str
    """Plain text; escaped when written."""
    body: str
    """Safe HTML made by this module's helpers (never user text as-is)."""


@dataclass
class Band:
    """Grid rows ``start`` .. ``end - 1`` (no tile crosses either edge)."""

    start: int
    end: int

    @property
    def rows(self) -> int:
        return self.end - self.start


@dataclass
class Page:
    """What one printed page holds: bands, and the height of one grid row on it."""

    capacity: int
    bands: list[Band] = field(default_factory=list)
    row_mm: float = PRINT_ROW_MM

    @property
    def rows(self) -> int:
        return sum(band.rows for band in self.bands)


# -- layout -----------------------------------------------------------------------------------


def bands(layout: Sequence[LayoutItem]) -> list[Band]:
    """The layout's rows cut wherever no tile straddles the cut (empty rows kept)."""
    bottom = max((item.y + item.h for item in layout), default=0)
    edges = sorted({0, bottom, *(item.y for item in layout), *(item.y + item.h for item in layout)})
    cuts = [edge for edge in edges if not any(item.y < edge < item.y + item.h for item in layout)]
    return [Band(start, end) for start, end in itertools.pairwise(cuts)]


def print_pages(layout: Sequence[LayoutItem]) -> list[Page]:
    """Bands packed onto A4 pages in order: a band that does not fit on the current page
    starts the next; one taller than a whole page is shrunk onto a page of its own."""
    pages = [Page(PAGE_ROWS - HEADER_ROWS)]
    for band in bands(layout):
        page = pages[-1]
        if page.rows + band.rows > page.capacity and page.bands:
            page = Page(PAGE_ROWS)
            pages.append(page)
        page.bands.append(band)
        if band.rows > page.capacity:
            page.row_mm = PRINT_ROW_MM * page.capacity / band.rows
            pages.append(Page(PAGE_ROWS))
    if len(pages) > 1 and not pages[-1].bands:
        pages.pop()
    return pages


def chart_size(place: LayoutItem, titled: bool) -> tuple[int, int]:
    """The CSS pixel size of a chart filling the tile at ``place`` on screen."""
    width = place.w * BOARD_WIDTH // GRID_COLUMNS - 2 * TILE_MARGIN - 2
    height = place.h * ROW_HEIGHT - 2 * TILE_MARGIN - 2 - (TILE_TITLE_HEIGHT if titled else 0)
    return max(width, 40), max(height, 40)


# -- tile bodies -------------------------------------------------------------------------------


def fitting_rows(place: LayoutItem, titled: bool) -> int:
    """About how many table rows the tile at ``place`` shows without scrolling (rows have a
    fixed height, ``TABLE_ROW_HEIGHT``): a printout shows no more, and says so."""
    body = place.h * ROW_HEIGHT - 2 * TILE_MARGIN - 2 - (TILE_TITLE_HEIGHT if titled else 0)
    return max(0, (body - 2 * TABLE_ROW_HEIGHT) // TABLE_ROW_HEIGHT)  # header row, note


def table_html(
    table: pa.Table,
    *,
    truncated: bool,
    row_limit: int,
    fits: int | None = None,
    shown: int = EXPORT_TABLE_ROWS,
) -> str:
    """A query tile's first ``shown`` rows as an escaped table, and a note of what is left.

    On screen the tile scrolls through those rows; on paper it cannot, so when more rows
    than ``fits`` exist the printout says how many there are instead."""
    head = "".join(
        f'<th title="{_attr(str(column.type))}">{_text(column.name)}</th>'
        for column in table.schema
    )
    numeric = [
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
        for column in table.schema
    ]
    lines = []
    for batch in table.slice(0, shown).to_batches():
        columns = [column.to_pylist() for column in batch.columns]
        for row in zip(*columns, strict=True):
            cells = "".join(_cell(value, right) for value, right in zip(row, numeric, strict=True))
            lines.append(f"<tr>{cells}</tr>")
    rest = table.num_rows - min(shown, table.num_rows)
    on_paper = ""
    if table.num_rows and fits is not None and (table.num_rows > fits or truncated):
        count = f"{table.num_rows:,}{'+' if truncated else ''}"
        on_paper = (
            f'<p class="note print-only">{count} rows in all; the printout shows those that '
            "fit.</p>"
        )
    on_screen = ' class="note screen-only"' if on_paper else ' class="note"'
    note = on_paper
    if not table.num_rows:
        note = '<p class="note">No rows.</p>'
    elif rest or truncated:
        more = f"{rest:,} more row{'' if rest == 1 else 's'}" if rest else "More rows"
        cut = f" (the tile reads at most {row_limit:,})" if truncated else ""
        note = f"<p{on_screen}>{more} not shown{cut}.</p>{on_paper}"
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table></div>{note}"
    )


def chart_html(svg: str, prefix: str) -> str:
    """An SVG from ``engine.chart_render`` (already checked for external references), its ids
    made unique in the document: each chart numbers its clip paths from 1, and a second
    ``id="clip1"`` would clip the second chart with the first one's path."""
    ids = set(_SVG_ID.findall(svg))
    if ids:
        alternatives = "|".join(re.escape(name) for name in sorted(ids, key=len, reverse=True))
        pattern = re.compile(r'(\bid="|url\(#|href="#)(' + alternatives + r')(?=["\)])')
        svg = pattern.sub(lambda match: f"{match.group(1)}{prefix}-{match.group(2)}", svg)
    return f'<div class="chart">{svg}</div>'


def filter_html(label: str, value: str, targets: Sequence[str]) -> str:
    applies = ", ".join(targets)
    return (
        f'<p class="filter"><span class="label">{_text(label)}</span>'
        f'<span class="value">{_text(value)}</span>'
        f'<span class="applies">applies to {_text(applies)}</span></p>'
    )


def markdown_html(rendered: str) -> str:
    """Output of ``engine.dashboard_markdown.render_markdown`` (already safe) in its frame."""
    return f'<div class="markdown">{rendered}</div>'


def problem_html(message: str) -> str:
    """A tile that could not be drawn says why, instead of failing the whole export."""
    return f'<p class="problem">This tile could not be drawn: {_text(message)}</p>'


def note_html(message: str) -> str:
    return f'<p class="note">{_text(message)}</p>'


# -- the document -------------------------------------------------------------------------------


def document(
    title: str, description: str, exported_at: datetime, tiles: Sequence[RenderedTile]
) -> str:
    """The whole export: header, then the grid cut into bands and pages."""
    pages = print_pages([tile.place for tile in tiles])
    stamp = exported_at.strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f'<header class="head"><h1>{_text(title)}</h1>'
        + (f'<p class="description">{_text(description)}</p>' if description else "")
        + f'<p class="stamp">Exported {_text(stamp)}</p></header>'
    )
    parts = []
    for number, page in enumerate(pages):
        sections = [_band_html(band, page.row_mm, tiles) for band in page.bands]
        first = header if number == 0 else ""
        parts.append(f'<div class="page">{first}{"".join(sections)}</div>')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main class="board">{"".join(parts)}</main></body></html>\n'
    )


def _band_html(band: Band, row_mm: float, tiles: Sequence[RenderedTile]) -> str:
    inside = [tile for tile in tiles if band.start <= tile.place.y < band.end]
    cells = []
    for tile in sorted(inside, key=lambda t: (t.place.y, t.place.x)):
        place = tile.place
        where = (
            f"grid-column:{place.x + 1} / span {place.w};"
            f"grid-row:{place.y - band.start + 1} / span {place.h}"
        )
        heading = f"<h2>{_text(tile.title)}</h2>" if tile.title else ""
        cells.append(
            f'<article class="tile tile-{_attr(tile.kind)}" style="{where}">'
            f'{heading}<div class="body">{tile.body}</div></article>'
        )
    style = f"--rows:{band.rows};--print-row:{row_mm:.3f}mm"
    return f'<section class="band" style="{style}">{"".join(cells)}</section>'


def display_value(value: object) -> str:
    """A filter's value as a reader sees it (a range as ``start to end``, none as a dash)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        return f"{value['start']} to {value['end']}"
    return str(jsonable(value))


def _cell(value: object, right: bool) -> str:
    if value is None:
        return '<td class="null"></td>'
    shown = jsonable(value)
    if isinstance(shown, bool):
        text = "true" if shown else "false"
    else:
        text = shown if isinstance(shown, str) else str(shown)
    return f'<td class="num">{_text(text)}</td>' if right else f"<td>{_text(text)}</td>"


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


_STYLE = f"""
*{{box-sizing:border-box}}
html{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
body{{margin:0;padding:16px;background:#f4f5f7;color:#1f2328;
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}}
.board{{width:{BOARD_WIDTH}px;max-width:100%;margin:0 auto}}
.head{{padding:0 {TILE_MARGIN}px 8px}}
.head h1{{margin:0 0 4px;font-size:24px}}
.description{{margin:0 0 4px;white-space:pre-wrap}}
.stamp{{margin:0;color:#6e7781;font-size:12px}}
.band{{display:grid;grid-template-columns:repeat({GRID_COLUMNS},minmax(0,1fr));
grid-template-rows:repeat(var(--rows),{ROW_HEIGHT}px)}}
.tile{{margin:{TILE_MARGIN}px;min-width:0;min-height:0;display:flex;flex-direction:column;
background:#fff;border:1px solid #d0d7de;border-radius:6px;overflow:hidden}}
.tile h2{{flex:none;margin:0;height:{TILE_TITLE_HEIGHT}px;padding:4px 10px;font-size:14px;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis;border-bottom:1px solid #eaeef2}}
.tile .body{{flex:1;min-height:0;display:flex;flex-direction:column}}
.scroll{{flex:1;min-height:0;overflow:auto}}
table{{border-collapse:collapse;width:100%;font-size:12px}}
th,td{{height:{TABLE_ROW_HEIGHT}px;padding:0 8px;border-bottom:1px solid #eaeef2;
text-align:left;white-space:nowrap;max-width:40em;overflow:hidden;text-overflow:ellipsis}}
th{{position:sticky;top:0;background:#f6f8fa}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}}
.chart{{flex:1;min-height:0}}
.chart>svg{{display:block;width:100%;height:100%}}
.markdown{{flex:1;min-height:0;overflow:auto;padding:4px 12px}}
.markdown table{{width:auto}}
.filter{{margin:4px 12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
.filter .label{{font-weight:600;margin-right:8px}}
.filter .applies{{margin-left:16px;color:#6e7781;font-size:12px}}
.note{{flex:none;margin:4px 10px;color:#6e7781;font-size:12px}}
.problem{{margin:10px;color:#9a2a2a}}
.print-only{{display:none}}
@page{{size:A4 landscape;margin:10mm}}
@media print{{
body{{padding:0;background:#fff}}
.board{{width:auto}}
.page{{break-after:page}}
.page:last-child{{break-after:auto}}
.head{{height:{HEADER_ROWS * PRINT_ROW_MM}mm;overflow:hidden;padding:0 {TILE_MARGIN}px}}
.head h1{{font-size:20px}}
.description{{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;overflow:hidden}}
.band{{grid-template-rows:repeat(var(--rows),var(--print-row))}}
.scroll,.markdown{{overflow:hidden}}
.screen-only{{display:none}}
.print-only{{display:block}}
th{{position:static}}
}}
"""

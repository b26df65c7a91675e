"""Chart export: a chart as PNG, SVG or PDF rendered on the server, or as its rows or its spec.

Everything a picture shows comes from ``ChartDataService`` (the same rows and the same
effective customization the notebook chart and dashboard tiles draw) through
``engine.vega_lite`` and ``engine.chart_render``; this service adds the permission check (by
way of the data service: ``view`` on the chart, or on the query of an unsaved chart), the
size defaults, the row cap of pictures, and a safe file name.

Thumbnails (``thumbnail``) are small PNGs of saved charts for lists such as the JupyterLab
panel: the same pipeline, with an ETag computed from everything the picture is drawn from (the
chart's revision, the size, the renderer version and the Vega-Lite spec with its rows inline,
so new data or a new customization makes a new tag). A caller whose tag still matches gets no
render at all, and rendered thumbnails are kept in a small LRU keyed by that tag.

Blocking (it waits for the chart's query, then renders): call through ``Services.run``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from ..engine.chart_render import MAX_RENDER_ROWS, MEDIA_TYPES, ChartRenderer
from ..engine.export import write_csv
from ..engine.vega_lite import DEFAULT_HEIGHT, DEFAULT_WIDTH, VEGA_LITE_VERSION, to_vega_lite
from ..errors import Invalid
from ..schemas.chart_export import ChartExportCreate, ChartThumbnailQuery
from .chart_data import ChartData, ChartDataService, parse_customization, parse_spec

MAX_STEM_CHARS = 80
FILE_TYPES: dict[str, tuple[str, str]] = {
    **{fmt: (media, fmt) for fmt, media in MEDIA_TYPES.items()},
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "vl.json"),
    "spec": ("application/json", "chart.json"),
}
"""Format → (Content-Type, file extension)."""
THUMBNAIL_CACHE_BYTES = 16 << 20
"""Rendered thumbnails kept in memory (a 320 by 200 chart is 10-30 kB: about a thousand)."""
THUMBNAIL_REVISION = "1"
"""Bump when the thumbnail drawing changes without the spec changing, so old tags expire."""


@dataclass(frozen=True)
class ExportedFile:
    content: bytes
    media_type: str
    content_disposition: str
    """``attachment`` (never inline: an SVG opened in the page could run script) with a
    server-chosen ASCII ``filename`` and the RFC 5987 ``filename*``."""
    rows: int
    truncated: bool


@dataclass(frozen=True)
class Thumbnail:
    etag: str
    """A weak entity tag (``W/"..."``) of what the picture is drawn from."""
    content: bytes | None
    """The PNG; ``None`` when the caller's ``If-None-Match`` already names this tag."""


class ThumbnailCache:
    """Rendered PNGs by entity tag, least recently used out first, at most ``max_bytes``.

    The tag is a hash of every input of the picture, so an entry can never be stale, and two
    viewers who would see the same picture share one entry; nothing else is needed to decide
    whether an entry may be served (the permission check runs before the tag is known).
    """

    def __init__(self, max_bytes: int = THUMBNAIL_CACHE_BYTES) -> None:
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            content = self._items.get(etag)
            if content is not None:
                self._items.move_to_end(etag)
            return content

    def put(self, etag: str, content: bytes) -> None:
        if len(content) > self._max:
            return
        with self._lock:
            old = self._items.pop(etag, None)
            self._size -= len(old) if old is not None else 0
            self._items[etag] = content
            self._size += len(content)
            while self._size > self._max:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


class ChartExportService:
    def __init__(
        self,
        chart_data: ChartDataService,
        renderer: ChartRenderer,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        self._data = chart_data
        self._renderer = renderer
        self.thumbnails = thumbnails or ThumbnailCache()

    def thumbnail(
        self,
        actor_id: str,
        chart_id: str,
        size: ChartThumbnailQuery,
        if_none_match: str | None = None,
    ) -> Thumbnail:
        """The saved chart as a ``size.width`` by ``size.height`` PNG, for anyone who may view
        it (``NotFound`` otherwise). The chart's rows come through the result cache like any
        view of it; the render is skipped when ``if_none_match`` names the current tag, or
        when the same picture was rendered before."""
        data = self._data.data(actor_id, chart_id)
        assert data.chart is not None
        _check_drawable(data)
        width, height = size.width, size.height
        spec = to_vega_lite(
            data.spec, data.customization, data.table, data.columns, width=width, height=height
        )
        tag = thumbnail_etag(chart_id, data.chart.updated_at.isoformat(), width, height, spec)
        if etag_matches(if_none_match, tag):
            return Thumbnail(tag, None)
        content = self.thumbnails.get(tag)
        if content is None:
            content = self._renderer.render(spec, "png", width, height)
            self.thumbnails.put(tag, content)
        return Thumbnail(tag, content)

    def export(self, actor_id: str, body: ChartExportCreate) -> ExportedFile:
        """The chart as ``body.format``; ``NotFound`` for a chart (or query) the caller may
        not view, ``Invalid`` naming the field for a spec, size or row count that cannot be
        drawn."""
        data, name = self._chart(actor_id, body)
        fmt = body.format
        if fmt == "spec":
            content = json.dumps(self._definition(data, body, name), indent=2).encode()
        elif fmt == "csv":
            sink = io.BytesIO()
            write_csv(data.table.to_batches(), data.table.schema, sink)
            content = sink.getvalue()
        else:
            width = body.width or data.customization.width or DEFAULT_WIDTH
            height = body.height or data.customization.height or DEFAULT_HEIGHT
            if fmt != "json":
                _check_drawable(data)
            spec = to_vega_lite(
                data.spec, data.customization, data.table, data.columns, width=width, height=height
            )
            if fmt == "json":
                content = json.dumps(spec, ensure_ascii=False, allow_nan=False).encode()
            else:
                content = self._renderer.render(spec, fmt, width, height, float(body.scale))
        media_type, extension = FILE_TYPES[fmt]
        return ExportedFile(
            content=content,
            media_type=media_type,
            content_disposition=content_disposition(name, extension),
            rows=data.table.num_rows,
            truncated=data.truncated,
        )

    def _chart(self, actor_id: str, body: ChartExportCreate) -> tuple[ChartData, str]:
        if body.chart_id is not None:
            data = self._data.data(actor_id, body.chart_id)
            assert data.chart is not None
            return data, data.chart.name
        assert body.query_id is not None
        assert body.spec is not None
        spec = parse_spec(body.spec)
        look = parse_customization(body.customization or {})
        data = self._data.data_for(actor_id, body.query_id, body.parameters, spec, look)
        return data, body.name or look.title or "chart"

    @staticmethod
    def _definition(data: ChartData, body: ChartExportCreate, name: str) -> dict[str, object]:
        """The chart as ``POST /api/chart`` takes it: stored customization, not the viewer's
        resolved one, so an import follows the importer's settings."""
        if data.chart is not None:
            chart = data.chart
            return {
                "name": chart.name,
                "description": chart.description,
                "query_id": chart.query_id,
                "parameters": chart.parameters,
                "spec": chart.spec.model_dump(mode="json", exclude_none=True),
                "customization": chart.customization.model_dump(
                    mode="json", exclude_none=True, exclude_defaults=True
                ),
            }
        return {
            "name": name,
            "query_id": body.query_id,
            "parameters": body.parameters,
            "spec": data.spec.model_dump(mode="json", exclude_none=True),
            "customization": body.customization or {},
        }


def _check_drawable(data: ChartData) -> None:
    """Pictures draw every row: too many (or a cut-off set) would mislead and take long."""
    rows = data.table.num_rows
    if data.truncated or rows > MAX_RENDER_ROWS:
        histogram = data.spec.type == "histogram"  # its limit counts bins, not values
        raise Invalid(
            "spec" if histogram else "spec.limit",
            f"the chart draws {rows:,}{'+' if data.truncated else ''} rows, more than a "
            f"picture export draws ({MAX_RENDER_ROWS:,}); aggregate them (spec.aggregation), "
            "set spec.limit, or filter the query",
        )


def thumbnail_etag(
    chart_id: str, revision: str, width: int, height: int, spec: dict[str, object]
) -> str:
    """``W/"<hash>"`` of everything a thumbnail is drawn from. The spec carries the rows
    inline, so a query whose data changed (or whose cached result expired into new rows) gets
    a new tag; weak, because equal inputs promise an equal picture, not equal PNG bytes."""
    inputs = {
        "chart": chart_id,
        "revision": revision,
        "size": [width, height],
        "renderer": [VEGA_LITE_VERSION, THUMBNAIL_REVISION],
        "spec": spec,
    }
    encoded = json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str).encode()
    return f'W/"{hashlib.sha256(encoded).hexdigest()[:40]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` (a list of tags, or ``*``) with
    ``etag``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def content_disposition(name: str, extension: str, fallback: str = "chart") -> str:
    """``attachment; filename="<ascii slug>.<ext>"; filename*=UTF-8''<name>.<ext>``: the slug
    has only ``a-z0-9-`` (no quote, slash or control character can reach the header), the
    RFC 5987 form keeps letters such as ``ä`` for clients that read it. ``fallback`` (plain
    ``a-z``) names the file when ``name`` leaves nothing."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")[:MAX_STEM_CHARS]
    wide = re.sub(r"[^\w-]+", "-", unicodedata.normalize("NFC", name)).strip("-_")
    wide = wide[:MAX_STEM_CHARS].strip("-_")
    slug, wide = slug.strip("-") or fallback, wide or fallback
    encoded = quote(f"{wide}.{extension}", safe="")
    return f"attachment; filename=\"{slug}.{extension}\"; filename*=UTF-8''{encoded}"

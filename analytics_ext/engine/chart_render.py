"""Vega-Lite specs rendered to SVG, PNG and PDF on the server, with no browser (vl-convert).

vl-convert bundles Vega, Vega-Lite and a font stack, so rendering needs no network; it is still
told to fetch nothing (``allowed_base_urls=[]``), and our specs carry their data inline.

Every picture is exactly the requested size: single and layered views compile with
``autosize: fit`` (Vega sizes the plot so axes, legend and title fit inside); faceted views,
which Vega-Lite cannot fit, are re-rendered with their cells resized by the difference (twice
at most) and any pixel left over is absorbed by scaling the SVG into the requested box. PNG and
PDF are made from that same SVG, so the three formats show one picture: PNG pixels are
``width * scale`` by ``height * scale``; a PDF page is ``width`` by ``height`` points (vl-convert
maps one CSS pixel to one point, as measured).

Rendering is CPU-bound (about 0.4 s for the first chart of a process, 20 ms warm; ~20 ms more per
thousand marks): callers run it off the event loop, and ``ChartRenderer`` lets only a few
renders run at once so a burst of exports cannot occupy every worker thread.

vl-convert's SVG-to-PNG/PDF step would load an image an SVG refers to (measured: it fetched an
``<image href="http://...">``), so ``refuse_external_references`` refuses any SVG naming an
external resource before it is converted.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any, Literal

import vl_convert as vlc

from ..errors import Invalid, Unavailable
from .vega_lite import VEGA_LITE_VERSION

PictureFormat = Literal["svg", "png", "pdf"]
MEDIA_TYPES: dict[str, str] = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
}
MAX_RENDER_ROWS = 50_000
"""More rows than this make a picture nobody can read and a render of many seconds; the
export asks for an aggregation or a limit instead (422)."""
MIN_SCALE, MAX_SCALE = 1.0, 4.0
MAX_PNG_PIXELS = 40_000_000
"""About 160 MB of RGBA while encoding: a 4000 by 2500 chart at scale 2, or 6000 by 6000 at 1."""
_FIT_ATTEMPTS = 2
_PADDING = 5
"""Vega-Lite's default padding around a chart, in pixels."""
_ROOT = re.compile(r'^<svg\b[^>]*\bwidth="([\d.]+)" height="([\d.]+)"[^>]*>')
_EXTERNAL = re.compile(
    r'<image\b|\bhref="(?!#)|url\((?!#)|<foreignObject\b|<script\b', re.IGNORECASE
)
_IDS = re.compile(r'\bid="([A-Za-z_-]+)(\d+)"')


class ChartRenderer:
    """Renders Vega-Lite specs, at most ``concurrency`` at a time (others wait up to
    ``wait_seconds``, then get 503: the server is busy rendering, not broken)."""

    def __init__(self, concurrency: int = 2, wait_seconds: float = 60.0) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._wait = wait_seconds

    def render(
        self,
        spec: dict[str, Any],
        fmt: PictureFormat,
        width: int,
        height: int,
        scale: float = 1.0,
    ) -> bytes:
        """``spec`` drawn as ``fmt``, ``width`` by ``height`` CSS pixels (PNG: times ``scale``)."""
        if not self._slots.acquire(timeout=self._wait):
            raise Unavailable("the chart renderer is busy; try the export again shortly")
        try:
            return render(spec, fmt, width, height, scale)
        finally:
            self._slots.release()


def render(
    spec: dict[str, Any], fmt: PictureFormat, width: int, height: int, scale: float = 1.0
) -> bytes:
    """``spec`` as an SVG, PNG or PDF file of exactly ``width`` by ``height``."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise Invalid("scale", f"must be between {MIN_SCALE:g} and {MAX_SCALE:g}")
    if fmt == "png" and width * scale * height * scale > MAX_PNG_PIXELS:
        raise Invalid(
            "scale", f"a PNG of at most {MAX_PNG_PIXELS:,} pixels: lower the scale or the size"
        )
    svg = exact_size(fitted_svg(spec, width, height), width, height)
    svg = stable_ids(svg)
    refuse_external_references(svg)
    if fmt == "svg":
        return svg.encode()
    if fmt == "png":
        return bytes(vlc.svg_to_png(svg, scale=scale))
    if fmt == "pdf":
        return bytes(vlc.svg_to_pdf(svg))
    raise Invalid("format", "must be one of svg, png, pdf")


def to_svg(spec: dict[str, Any]) -> str:
    """One render through vl-convert, with every external fetch refused."""
    try:
        return vlc.vegalite_to_svg(
            spec, vl_version=VEGA_LITE_VERSION, allowed_base_urls=[], show_warnings=False
        )
    except ValueError as error:  # a spec Vega-Lite refuses: our bug, or an unusual result
        first = str(error).splitlines()[1:2] or [str(error)]
        raise Invalid("spec", f"the chart cannot be drawn: {first[0].strip()[:300]}") from None


def svg_size(svg: str) -> tuple[float, float]:
    match = _ROOT.match(svg)
    if match is None:
        raise ValueError("not an SVG document from Vega")
    return float(match.group(1)), float(match.group(2))


def fitted_svg(spec: dict[str, Any], width: int, height: int) -> str:
    """The SVG as close to ``width`` by ``height`` as Vega-Lite can lay it out.

    A faceted chart's cells are resized by the difference (Vega rounds each cell, so a pixel or
    two may remain), and what remains below the size becomes padding on the right and bottom.
    """
    spec = {**spec, "width": width, "height": height} if "facet" not in spec else spec
    svg = to_svg(spec)
    if "facet" not in spec:
        return svg
    columns, rows = spec.get("usermeta", {}).get("grid", [1, 1])
    spec = copy.deepcopy(spec)
    cell = spec["spec"]
    for _ in range(_FIT_ATTEMPTS):
        actual_width, actual_height = svg_size(svg)
        if (actual_width, actual_height) == (width, height):
            return svg
        cell["width"] = max(10, round(cell["width"] + (width - actual_width) / columns))
        cell["height"] = max(10, round(cell["height"] + (height - actual_height) / rows))
        svg = to_svg(spec)
    actual_width, actual_height = svg_size(svg)
    extra_width, extra_height = width - actual_width, height - actual_height
    if extra_width >= 0 and extra_height >= 0 and extra_width + extra_height > 0:
        padding = _PADDING
        spec["padding"] = {
            "left": padding,
            "top": padding,
            "right": padding + int(extra_width),
            "bottom": padding + int(extra_height),
        }
        svg = to_svg(spec)
    return svg


def exact_size(svg: str, width: int, height: int) -> str:
    """``svg`` in a ``width`` by ``height`` frame: unchanged if it already is that size,
    else scaled down or centred to fit, on the chart's own background."""
    actual_width, actual_height = svg_size(svg)
    if (actual_width, actual_height) == (width, height):
        return svg
    ratio = min(width / actual_width, height / actual_height, 1.0)
    inner_width, inner_height = actual_width * ratio, actual_height * ratio
    left, top = (width - inner_width) / 2, (height - inner_height) / 2
    background = re.search(r'<rect width="[\d.]+" height="[\d.]+" fill="([^"]+)"/>', svg)
    fill = background.group(1) if background else "white"
    root = _ROOT.match(svg)
    assert root is not None  # svg_size checked it
    inner = (
        f'<svg x="{left:g}" y="{top:g}" width="{inner_width:g}" height="{inner_height:g}" '
        f'viewBox="0 0 {actual_width:g} {actual_height:g}">'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="{fill}"/>'
        f"{inner}{svg[root.end() :]}</svg>"
    )


def refuse_external_references(svg: str) -> None:
    """vl-convert's SVG-to-PNG/PDF step loads any image an SVG names (URL or file path). Our
    specs draw no images, links or external paint, so an SVG with one is refused outright:
    nothing reaches the network or the server's files, even if a future spec adds such a mark."""
    if _EXTERNAL.search(svg):
        raise Invalid("spec", "charts draw no images, links or external resources")


def stable_ids(svg: str) -> str:
    """Vega numbers clip paths and gradients per process (``clip7``); renumber them in order
    of appearance so one chart always renders to the same SVG."""
    renames: dict[str, str] = {}
    counters: dict[str, int] = {}
    for match in _IDS.finditer(svg):
        old = match.group(1) + match.group(2)
        if old not in renames:
            counters[match.group(1)] = counters.get(match.group(1), 0) + 1
            renames[old] = f"{match.group(1)}{counters[match.group(1)]}"
    if not renames:
        return svg
    pattern = re.compile(r'(id="|url\(#)(' + "|".join(map(re.escape, renames)) + r')(?=["\)])')
    return pattern.sub(lambda m: m.group(1) + renames[m.group(2)], svg)

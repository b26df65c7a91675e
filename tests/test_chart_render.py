"""Vega-Lite → SVG/PNG/PDF with vl-convert: exactly the requested size in every format (faceted
charts too), one picture per spec byte for byte, nothing fetched, bounded concurrency."""

from __future__ import annotations

import http.server
import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

from analytics_ext.engine.chart_render import (
    MAX_PNG_PIXELS,
    ChartRenderer,
    render,
    stable_ids,
    svg_size,
)
from analytics_ext.engine.vega_lite import to_vega_lite
from analytics_ext.errors import Invalid, Unavailable
from analytics_ext.schemas.charts import ChartSpec, Customization

pytestmark = pytest.mark.timeout(120)

ROWS = pa.table(
    {
        "k": ["a", "b", "c", "d", "e"],
        "v": [5, 10, 15, 20, 25],
        "g": ["x", "y", "z", "x", "w"],
    }
)


def bar(facet: bool = False, **look: Any) -> dict[str, Any]:
    encodings: dict[str, Any] = {"x": {"field": "k"}, "y": {"field": "v"}, "color": {"field": "g"}}
    if facet:
        encodings["facet"] = {"field": "g"}
    spec = ChartSpec.model_validate({"type": "bar", "encodings": encodings})
    return to_vega_lite(spec, Customization.model_validate(look), ROWS)


def pdf_media_box(pdf: bytes) -> list[float]:
    match = re.search(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", pdf)
    assert match is not None
    return [float(number) for number in match.group(1).split()]


@pytest.mark.parametrize("facet", [False, True], ids=["single", "faceted"])
@pytest.mark.parametrize(("width", "height"), [(400, 300), (401, 257), (1200, 150), (60, 60)])
def test_every_format_is_exactly_the_requested_size(facet: bool, width: int, height: int) -> None:
    vl = bar(facet, title="Sizes", subtitle="and a legend", legend="bottom")
    svg = render(vl, "svg", width, height).decode()
    assert svg_size(svg) == (width, height)
    png = Image.open(io.BytesIO(render(vl, "png", width, height)))
    assert png.format == "PNG"
    assert png.size == (width, height)
    pdf = render(vl, "pdf", width, height)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    # vl-convert maps one CSS pixel to one PDF point (measured, not the 0.75 of 96 dpi).
    assert pdf_media_box(pdf) == [0, 0, width, height]


@pytest.mark.parametrize(
    ("scale", "expected"), [(2, (800, 600)), (1.5, (600, 450)), (4, (1600, 1200))]
)
def test_png_scale_multiplies_the_pixels(scale: float, expected: tuple[int, int]) -> None:
    png = Image.open(io.BytesIO(render(bar(), "png", 400, 300, scale)))
    assert png.size == expected


def test_a_facet_that_fits_needs_no_frame_and_one_that_cannot_is_framed() -> None:
    fitted = render(bar(True), "svg", 600, 400).decode()
    assert 'class="marks" width="600" height="400"' in fitted  # Vega's own root, resized cells
    framed = render(bar(True, title="tiny"), "svg", 50, 50).decode()
    assert svg_size(framed) == (50, 50)
    assert framed.count("<svg") == 2  # the chart scaled into the requested box


def test_scale_and_pixel_limits_are_422_naming_scale() -> None:
    for scale in (0.5, 4.5):
        with pytest.raises(Invalid) as error:
            render(bar(), "png", 400, 300, scale)
        assert error.value.field == "scale"
    side = int((MAX_PNG_PIXELS / 4) ** 0.5) + 10
    with pytest.raises(Invalid) as error:
        render(bar(), "png", side, side, 2)
    assert error.value.field == "scale"


def test_one_spec_renders_to_the_same_svg_every_time() -> None:
    clipped = {**bar(), "mark": {"type": "bar", "clip": True}}
    first, second = render(clipped, "svg", 400, 300), render(clipped, "svg", 400, 300)
    assert b'id="clip1"' in first
    assert first == second
    assert stable_ids('<g id="clip7"/><path clip-path="url(#clip7)"/><g id="clip12"/>') == (
        '<g id="clip1"/><path clip-path="url(#clip1)"/><g id="clip2"/>'
    )


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            body = b'[{"k": "leaked", "v": 1}]'
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_renderer_fetches_nothing(web_server: tuple[str, list[str]]) -> None:
    base, seen = web_server
    spec = {
        "data": {"url": f"{base}/data.json"},
        "mark": "bar",
        "encoding": {
            "x": {"field": "k", "type": "nominal"},
            "y": {"field": "v", "type": "quantitative"},
        },
    }
    with pytest.raises(Invalid) as error:
        render(spec, "svg", 400, 300)
    assert error.value.field == "spec"
    assert "not allowed" in error.value.message
    image = {
        "data": {"values": [{"u": f"{base}/image.png"}, {"u": "/etc/hostname"}]},
        "mark": {"type": "image", "width": 20, "height": 20},
        "encoding": {"url": {"field": "u", "type": "nominal"}},
    }
    for fmt in ("svg", "png", "pdf"):  # vl-convert's PNG/PDF step would load these images
        with pytest.raises(Invalid) as error:
            render(image, fmt, 100, 100)
        assert error.value.field == "spec"
    assert seen == []


def test_a_busy_renderer_answers_503_instead_of_queueing_forever() -> None:
    renderer = ChartRenderer(concurrency=1, wait_seconds=0.05)
    release = threading.Event()
    entered = threading.Event()
    original = renderer._slots.acquire

    def hold() -> None:
        assert original(timeout=1)
        entered.set()
        release.wait(5)
        renderer._slots.release()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(5)
        with pytest.raises(Unavailable):
            renderer.render(bar(), "svg", 400, 300)
    finally:
        release.set()
        holder.join()
    assert renderer.render(bar(), "svg", 400, 300).startswith(b"<svg")

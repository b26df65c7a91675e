"""POST /api/chart/export on a team server with a real PostgreSQL datasource: for a known 3-row
query the SVG has 3 bars ordered and scaled as the data with the customised title as escaped
text; PNG and PDF are valid files of the requested size; CSV, Vega-Lite JSON and the chart
definition; safe download headers; 422 naming the field; 404 for another user's chart; the
picture follows a PATCH; unsaved charts; a share link exports its chart only."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from tornado.httpclient import HTTPResponse

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import RequestOrigin
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query

pytestmark = pytest.mark.timeout(180)

THREE_ROWS = "SELECT 'b' AS k, 20 AS v UNION ALL SELECT 'a', 10 UNION ALL SELECT 'c', 30"
BAR = {
    "type": "bar",
    "encodings": {"x": {"field": "k"}, "y": {"field": "v"}},
    "sort": {"by": "y", "order": "descending"},
}
TITLE = 'Top <b>&</b> "quoted" <script>alert(1)</script>'
SVG = "{http://www.w3.org/2000/svg}"
HERE = RequestOrigin("127.0.0.1")


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture(scope="module")
def empty_database() -> Iterator[str]:
    with postgres_database([]) as url:
        yield url


@dataclass
class Setup:
    alice: ApiClient
    bob: ApiClient
    chart: dict[str, Any]
    query_id: str
    source: str
    fetch: Any

    async def export(self, who: ApiClient | str, expect: int = 200, **body: Any) -> HTTPResponse:
        """The raw response (pictures are bytes, which ApiClient would decode as text), for a
        logged-in client or a bearer token (a share link)."""
        token = who if isinstance(who, str) else who.tokens.access_token  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = await self.fetch(
            "api",
            "chart",
            "export",
            method="POST",
            body=json.dumps(body),
            headers=headers,
            raise_error=False,
        )
        assert response.code == expect, (response.code, response.body[:500])
        return response


@pytest.fixture
def setup(api, jp_fetch, create_account, login, server_services, empty_database):
    """Alice, who may use the owner's PostgreSQL datasource, with the 3-row query and a bar
    chart of it titled ``TITLE``; Bob, with nothing."""

    async def make() -> Setup:
        alice_out = await create_account("alice")
        await create_account("bob")
        owner_id = (await api.get("/api/user"))["id"]
        source = await make_datasource(api, empty_database)
        grant = GrantCreate(object_id=source, principal_id=alice_out.id, level="use")
        server_services.sharing.grant(owner_id, "datasource", grant, HERE)
        alice, bob = await login("alice"), await login("bob")
        query = await save_query(alice, source, THREE_ROWS, name="three rows")
        body = {
            "name": 'Revenue — Ärger/2024 "q"',
            "query_id": query["id"],
            "spec": BAR,
            "customization": {"title": TITLE, "palette": "tableau10"},
        }
        chart = await alice.post("/api/chart", body, expect=201)
        return Setup(alice, bob, chart, query["id"], source, jp_fetch)

    return make


def bars(svg: bytes) -> list[tuple[float, float, float]]:
    """Each bar mark of a Vega SVG as (left, width, height), from its ``M x,y h w v h`` path."""
    root = ET.fromstring(svg)
    found = []
    for mark in root.iter(f"{SVG}path"):
        if mark.get("aria-roledescription") != "bar":
            continue
        numbers = re.fullmatch(
            r"M([-\d.]+),([-\d.]+)h([-\d.]+)v([-\d.]+)h[-\d.]+Z", mark.get("d", "")
        )
        assert numbers is not None, mark.get("d")
        left, _top, width, height = (float(n) for n in numbers.groups())
        found.append((left, width, height))
    return found


def texts(svg: bytes) -> list[str | None]:
    return [element.text for element in ET.fromstring(svg).iter(f"{SVG}text")]


def media_box(pdf: bytes) -> list[float]:
    match = re.search(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", pdf)
    assert match is not None
    return [float(number) for number in match.group(1).split()]


async def test_svg_has_three_bars_ordered_and_scaled_as_the_data(setup) -> None:
    team = await setup()
    response = await team.export(team.alice, chart_id=team.chart["id"], format="svg")
    svg = response.body
    found = sorted(bars(svg))  # left to right
    assert len(found) == 3
    heights = [height for _left, _width, height in found]
    # Sorted by v descending: c (30), b (20), a (10) from the left, heights 30:20:10.
    unit = heights[2]
    assert [round(h / unit, 2) for h in heights] == [3.0, 2.0, 1.0]
    assert abs(heights[0] - 3 * unit) < 1
    assert abs(heights[1] - 2 * unit) < 1
    labels = [t for t in texts(svg) if t in ("a", "b", "c")]
    assert labels == ["c", "b", "a"]  # the axis reads in the same order
    # The title is text, escaped in the markup, never an element.
    assert TITLE in texts(svg)
    assert b"Top &lt;b&gt;&amp;&lt;/b&gt;" in svg
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    tags = {element.tag.split("}")[-1] for element in ET.fromstring(svg).iter()}
    assert not tags & {"script", "b", "foreignObject", "image", "a"}
    assert re.search(rb'<svg[^>]*width="640" height="400"', svg)  # the default size
    headers = response.headers
    assert headers["Content-Type"] == "image/svg+xml"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == (
        'attachment; filename="revenue-arger-2024-q.svg"; '
        "filename*=UTF-8''Revenue-%C3%84rger-2024-q.svg"
    )
    assert "sandbox" in headers["Content-Security-Policy"]


async def test_png_and_pdf_are_valid_files_of_the_requested_size(setup) -> None:
    team = await setup()
    chart_id = team.chart["id"]
    png = await team.export(
        team.alice, chart_id=chart_id, format="png", width=500, height=320, scale=2
    )
    assert png.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png.body))
    image.verify()
    assert (image.format, image.size) == ("PNG", (1000, 640))
    one = await team.export(team.alice, chart_id=chart_id, format="png", width=333, height=201)
    assert Image.open(io.BytesIO(one.body)).size == (333, 201)
    pdf = await team.export(team.alice, chart_id=chart_id, format="pdf", width=500, height=320)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.body.startswith(b"%PDF-")
    assert pdf.body.rstrip().endswith(b"%%EOF")
    assert media_box(pdf.body) == [0, 0, 500, 320]  # points: one per CSS pixel
    assert pdf.headers["Content-Disposition"].startswith(
        'attachment; filename="revenue-arger-2024-q.pdf"'
    )


async def test_data_spec_and_definition_exports(setup) -> None:
    team = await setup()
    chart_id = team.chart["id"]
    rows = await team.export(team.alice, chart_id=chart_id, format="csv")
    assert rows.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(rows.body.decode()))) == [
        ["k", "v"],
        ["c", "30"],
        ["b", "20"],
        ["a", "10"],
    ]
    vega = await team.export(team.alice, chart_id=chart_id, format="json", width=300, height=200)
    assert vega.headers["Content-Disposition"].startswith(
        'attachment; filename="revenue-arger-2024-q.vl.json"'
    )
    spec = json.loads(vega.body)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    assert spec["data"]["values"] == [{"k": "c", "v": 30}, {"k": "b", "v": 20}, {"k": "a", "v": 10}]
    assert (spec["width"], spec["height"], spec["title"]["text"]) == (300, 200, TITLE)
    definition = json.loads((await team.export(team.alice, chart_id=chart_id, format="spec")).body)
    assert definition["name"] == team.chart["name"]
    assert definition["query_id"] == team.query_id
    assert definition["spec"]["encodings"] == BAR["encodings"]
    assert definition["spec"]["sort"] == BAR["sort"]
    assert definition["customization"] == {"title": TITLE, "palette": "tableau10"}
    copy = await team.alice.post("/api/chart", definition, expect=201)  # it imports as it is
    assert copy["spec"] == team.chart["spec"]
    assert copy["customization"] == team.chart["customization"]


async def test_the_picture_follows_a_patch(setup) -> None:
    team = await setup()
    item = f"/api/chart/{team.chart['id']}"
    look = {"title": "Now <i>ascending</i>", "palette": ["#ff0000"], "width": 420, "height": 260}
    await team.alice.patch(item, {"customization": look})
    await team.alice.patch(item, {"spec": {**BAR, "sort": {"by": "y", "order": "ascending"}}})
    svg = (await team.export(team.alice, chart_id=team.chart["id"], format="svg")).body
    assert re.search(rb'<svg[^>]*width="420" height="260"', svg)
    assert "Now <i>ascending</i>" in texts(svg)
    assert TITLE not in texts(svg)
    found = sorted(bars(svg))
    heights = [height for _left, _width, height in found]
    assert [round(h / heights[0], 2) for h in heights] == [1.0, 2.0, 3.0]
    assert [t for t in texts(svg) if t in ("a", "b", "c")] == ["a", "b", "c"]
    fills = {
        mark.get("fill")
        for mark in ET.fromstring(svg).iter(f"{SVG}path")
        if mark.get("aria-roledescription") == "bar"
    }
    assert fills == {"#ff0000"}


async def test_bad_input_is_422_naming_the_field(setup) -> None:
    team = await setup()
    chart_id = team.chart["id"]
    cases = [
        ({"format": "gif"}, "format"),
        ({"format": "png", "width": 10}, "width"),
        ({"format": "png", "height": 99999}, "height"),
        ({"format": "png", "width": "400"}, "width"),
        ({"format": "png", "scale": 5}, "scale"),
        ({"format": "png", "scale": 0.5}, "scale"),
        ({"format": "png", "width": 4000, "height": 4000, "scale": 4}, "scale"),
        ({"format": "svg", "spec": BAR}, "spec"),
    ]
    for body, field in cases:
        response = await team.export(team.alice, expect=422, chart_id=chart_id, **body)
        message = json.loads(response.body)["message"]
        assert field in message, (body, message)
    nothing = await team.export(team.alice, expect=422, format="svg")
    assert "chart_id" in json.loads(nothing.body)["message"]


async def test_another_users_chart_is_404(setup) -> None:
    team = await setup()
    for fmt in ("svg", "png", "csv", "json", "spec"):
        response = await team.export(team.bob, expect=404, chart_id=team.chart["id"], format=fmt)
        assert json.loads(response.body)["message"] == "chart not found"
    unsaved = await team.export(team.bob, expect=404, query_id=team.query_id, spec=BAR)
    assert TITLE.encode() not in unsaved.body


async def test_an_unsaved_chart_exports_too(setup) -> None:
    team = await setup()
    response = await team.export(
        team.alice,
        query_id=team.query_id,
        spec={**BAR, "type": "pie"},
        customization={"title": "Share of v"},
        format="svg",
        width=300,
        height=300,
    )
    assert "Share of v" in texts(response.body)
    arcs = [
        e
        for e in ET.fromstring(response.body).iter()
        if e.get("aria-roledescription") == "arc mark"
    ]
    assert len(arcs) == 3
    assert 'filename="share-of-v.svg"' in response.headers["Content-Disposition"]
    bad = await team.export(
        team.alice, expect=422, query_id=team.query_id, spec={"type": "bar", "encodings": {}}
    )
    assert "spec.encodings.x" in json.loads(bad.body)["message"]


async def test_too_many_rows_for_a_picture_ask_for_aggregation(setup) -> None:
    team = await setup()
    query = await save_query(
        team.alice,
        team.source,
        "SELECT i AS k, i AS v FROM generate_series(1, 60000) AS i",
        name="many",
    )
    spec = {"type": "scatter", "encodings": {"x": {"field": "k"}, "y": {"field": "v"}}}
    response = await team.export(team.alice, expect=422, query_id=query["id"], spec=spec)
    message = json.loads(response.body)["message"]
    assert message.startswith("spec.limit: the chart draws 60,000 rows")
    rows = await team.export(team.alice, query_id=query["id"], spec=spec, format="csv")
    assert rows.body.count(b"\n") == 60_001  # the data itself still exports
    limited = await team.export(
        team.alice, query_id=query["id"], spec={**spec, "limit": 500}, format="png"
    )
    assert Image.open(io.BytesIO(limited.body)).size == (640, 400)


async def test_a_share_link_exports_its_chart_only(setup) -> None:
    team = await setup()
    made = await team.alice.post(
        "/api/chart/share", {"object_id": team.chart["id"], "principal_type": "link"}, expect=201
    )
    link = made["token"]
    svg = await team.export(link, chart_id=team.chart["id"], format="svg")
    assert len(bars(svg.body)) == 3
    other = await team.alice.post(
        "/api/chart", {"name": "other", "query_id": team.query_id, "spec": BAR}, expect=201
    )
    await team.export(link, expect=404, chart_id=other["id"], format="svg")
    await team.export(link, expect=404, query_id=team.query_id, spec=BAR, format="svg")

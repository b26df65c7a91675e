"""GET /api/chart/{id}/thumbnail on a team server with a real PostgreSQL datasource: a PNG of
the requested size; an ETag that a matching If-None-Match turns into 304 with no body, and that
changes with the size, a PATCH of the chart and its data; private short caching; 404 for a
chart the caller may not view (and for a share link to another chart); 422 naming the bad
size; 401 with no credentials; the render cache is reused across requests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from tornado.httpclient import HTTPResponse

from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.activity import RequestOrigin
from analytics_ext.services.chart_export import ThumbnailCache, etag_matches
from tests.support.api import ApiClient
from tests.support.datasources import postgres_database
from tests.support.query_library import make_datasource, save_query

pytestmark = pytest.mark.timeout(180)

THREE_ROWS = "SELECT 'b' AS k, 20 AS v UNION ALL SELECT 'a', 10 UNION ALL SELECT 'c', 30"
FOUR_ROWS = f"{THREE_ROWS} UNION ALL SELECT 'd', 40"
BAR = {"type": "bar", "encodings": {"x": {"field": "k"}, "y": {"field": "v"}}}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
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
    fetch: Any
    services: Any

    async def thumbnail(
        self,
        who: ApiClient | str | None,
        chart_id: str | None = None,
        expect: int = 200,
        headers: dict[str, str] | None = None,
        **query: Any,
    ) -> HTTPResponse:
        """The raw response for a logged-in client, a bearer token (a share link), or nobody."""
        sent = dict(headers or {})
        if who is None:
            sent["Authorization"] = ""
        else:
            token = who if isinstance(who, str) else who.tokens.access_token  # type: ignore[attr-defined]
            sent["Authorization"] = f"Bearer {token}"
        response = await self.fetch(
            "api",
            "chart",
            chart_id or self.chart["id"],
            "thumbnail",
            params={k: str(v) for k, v in query.items()},
            headers=sent,
            raise_error=False,
        )
        assert response.code == expect, (response.code, response.body[:500])
        return response


@pytest.fixture
def setup(jp_fetch, create_account, login, server_services, empty_database, api):
    """Alice, who may use the owner's PostgreSQL datasource, with a 3-row query and a bar chart
    of it; Bob, with nothing."""

    async def make() -> Setup:
        alice_out = await create_account("alice")
        await create_account("bob")
        owner_id = (await api.get("/api/user"))["id"]
        source = await make_datasource(api, empty_database)
        grant = GrantCreate(object_id=source, principal_id=alice_out.id, level="use")
        server_services.sharing.grant(owner_id, "datasource", grant, HERE)
        alice, bob = await login("alice"), await login("bob")
        query = await save_query(alice, source, THREE_ROWS, name="three rows")
        body = {"name": "Sales", "query_id": query["id"], "spec": BAR}
        chart = await alice.post("/api/chart", body, expect=201)
        return Setup(alice, bob, chart, query["id"], jp_fetch, server_services)

    return make


def png_size(body: bytes) -> tuple[int, int]:
    assert body.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(body))
    image.verify()
    assert image.format == "PNG"
    return image.size


async def test_a_png_of_the_requested_size_with_private_caching(setup) -> None:
    team = await setup()
    response = await team.thumbnail(team.alice, width=240, height=150)
    assert response.headers["Content-Type"] == "image/png"
    assert png_size(response.body) == (240, 150)
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    default = await team.thumbnail(team.alice)
    assert png_size(default.body) == (320, 200)
    assert default.headers["ETag"] != response.headers["ETag"]  # the size is in the tag


async def test_a_matching_etag_is_304_without_a_render(setup) -> None:
    team = await setup()
    first = await team.thumbnail(team.alice, width=200, height=120)
    etag = first.headers["ETag"]
    renders = len(team.services.chart_export.thumbnails)
    again = await team.thumbnail(
        team.alice, expect=304, headers={"If-None-Match": etag}, width=200, height=120
    )
    assert again.body == b""
    assert again.headers["ETag"] == etag
    assert "max-age=60" in again.headers["Cache-Control"]
    # A list of tags, and the strong form of the weak tag, match too (weak comparison).
    listed = f'"other", {etag.removeprefix("W/")}'
    await team.thumbnail(
        team.alice, expect=304, headers={"If-None-Match": listed}, width=200, height=120
    )
    # Another size does not match the tag; a stale tag gets the picture.
    await team.thumbnail(team.alice, headers={"If-None-Match": etag}, width=201, height=120)
    stale = await team.thumbnail(
        team.alice, headers={"If-None-Match": 'W/"stale"'}, width=200, height=120
    )
    assert stale.body == first.body  # served from the render cache: the same bytes
    assert len(team.services.chart_export.thumbnails) == renders + 1  # only the 201 px render


async def test_the_tag_follows_the_chart_and_its_data(setup) -> None:
    team = await setup()
    first = await team.thumbnail(team.alice, width=200, height=120)
    etag = first.headers["ETag"]
    chart_id = team.chart["id"]
    await team.alice.patch(f"/api/chart/{chart_id}", {"customization": {"title": "New"}})
    patched = await team.thumbnail(
        team.alice, headers={"If-None-Match": etag}, width=200, height=120
    )
    assert patched.headers["ETag"] != etag
    assert png_size(patched.body) == (200, 120)
    # New rows from the query (its SQL changed): a new tag, though the chart row did not change.
    await team.alice.patch(f"/api/query/{team.query_id}", {"sql": FOUR_ROWS})
    fresh = await team.thumbnail(
        team.alice, headers={"If-None-Match": patched.headers["ETag"]}, width=200, height=120
    )
    assert fresh.headers["ETag"] != patched.headers["ETag"]


async def test_a_chart_the_caller_may_not_view_is_404(setup) -> None:
    team = await setup()
    response = await team.thumbnail(team.bob, expect=404)
    assert json.loads(response.body)["message"] == "chart not found"
    assert "ETag" not in response.headers
    missing = await team.thumbnail(team.alice, chart_id="A" * 22, expect=404)
    assert json.loads(missing.body)["message"] == "chart not found"
    # Once shared with view, Bob sees it.
    await team.alice.post(
        "/api/chart/share",
        {
            "object_id": team.chart["id"],
            "principal_id": (await team.bob.get("/api/user"))["id"],
            "level": "view",
        },
        expect=201,
    )
    assert png_size((await team.thumbnail(team.bob, width=100, height=60)).body) == (100, 60)


async def test_a_share_link_loads_its_chart_only(setup) -> None:
    team = await setup()
    made = await team.alice.post(
        "/api/chart/share", {"object_id": team.chart["id"], "principal_type": "link"}, expect=201
    )
    link = made["token"]
    assert png_size((await team.thumbnail(link, width=120, height=80)).body) == (120, 80)
    other = await team.alice.post(
        "/api/chart", {"name": "other", "query_id": team.query_id, "spec": BAR}, expect=201
    )
    await team.thumbnail(link, chart_id=other["id"], expect=404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"width": 49}, "width"),
        ({"width": 801}, "width"),
        ({"height": 0}, "height"),
        ({"height": 5000}, "height"),
        ({"width": "wide"}, "width"),
        ({"size": 3}, "size"),
    ],
)
async def test_bad_sizes_are_422_naming_the_parameter(setup, query, field) -> None:
    team = await setup()
    response = await team.thumbnail(team.alice, expect=422, **query)
    assert json.loads(response.body)["message"].startswith(f"{field}:")


async def test_anonymous_is_401(setup) -> None:
    team = await setup()
    response = await team.thumbnail(None, expect=401)
    assert b"PNG" not in response.body


def test_etag_matching_and_the_cache_bound() -> None:
    tag = 'W/"abc"'
    assert etag_matches('W/"abc"', tag)
    assert etag_matches('"abc"', tag)
    assert etag_matches('"x", W/"abc"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches(None, tag)
    assert not etag_matches('W/"abcd"', tag)
    cache = ThumbnailCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # a is now the most recent
    cache.put("c", b"123")
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None
    assert len(cache) == 2

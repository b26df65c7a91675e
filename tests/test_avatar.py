"""Avatars: uploads are typed by their bytes, bounded before decoding, and stored re-encoded.

Every image is generated here with Pillow (no binary fixtures), and every refusal is checked to
leave the store as it was: no avatar row, no activity event.
"""

from __future__ import annotations

import io
import random
import resource
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from sqlalchemy import func, select

from analytics_ext.services.avatars import MAX_UPLOAD_BYTES
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, UserAvatar

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    yield db
    db.dispose()


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def solid(size: tuple[int, int], color=RED, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, color)


def stripes(colors: list[tuple[int, int, int]], width: int, height: int) -> Image.Image:
    """Vertical stripes, left to right, each ``width`` pixels wide."""
    image = Image.new("RGB", (width * len(colors), height))
    for index, color in enumerate(colors):
        image.paste(color, (index * width, 0, (index + 1) * width, height))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunk_types(png: bytes) -> list[bytes]:
    assert png.startswith(PNG_SIGNATURE)
    kinds, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kinds.append(png[at + 4 : at + 8])
        at += 12 + length
    return kinds


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG whose pixels would take ``width * height`` bytes once decoded, but
    whose file is tiny: a run of zero rows compresses about a thousand to one."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def declared_only_png(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height`` followed by a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def counts(store: Database) -> tuple[int, int]:
    with store.transaction() as tx:
        avatars = tx.scalar(select(func.count()).select_from(UserAvatar))
        events = tx.scalar(select(func.count()).select_from(ActivityEvent))
    return avatars, events


def event_types(store: Database) -> list[str]:
    with store.transaction() as tx:
        return [
            e.type
            for e in tx.scalars(select(ActivityEvent).order_by(ActivityEvent.created_at))
            if e.type.startswith("user.avatar")
        ]


class BinaryReply:
    def __init__(self, response) -> None:
        self.status = response.code
        self.headers = response.headers
        self.raw: bytes = response.body or b""
        self.body = self.raw.decode("utf-8", "replace")


class BinaryApi:
    """Like ``ApiClient``, but keeps response bodies as bytes: avatars are binary."""

    def __init__(self, jp_fetch) -> None:
        self._fetch = jp_fetch

    async def request(self, method, path, raw=None, headers=None, expect=None) -> BinaryReply:
        kwargs = {"method": method, "raise_error": False, "headers": headers or {}}
        if raw is not None:
            kwargs["body"] = raw
        path, _, query = path.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&") if part)
        reply = BinaryReply(await self._fetch(*path.strip("/").split("/"), params=params, **kwargs))
        if expect is not None:
            assert reply.status == expect, f"{method} {path}: {reply.status} {reply.body!r}"
        return reply


@pytest.fixture
def raw_api(jp_fetch, jp_serverapp) -> BinaryApi:
    return BinaryApi(jp_fetch)


async def upload(api, data: bytes, content_type: str = "application/octet-stream", expect=204):
    return await api.request(
        "PUT", "/api/user/avatar", raw=data, headers={"Content-Type": content_type}, expect=expect
    )


async def fetch_avatar(api: BinaryApi) -> Image.Image:
    reply = await api.request("GET", "/api/user/avatar", expect=200)
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "private, max-age=300"
    image = Image.open(io.BytesIO(reply.raw))
    image.load()
    return image


def near(actual, expected, tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))


# -- accepted uploads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("JPEG", {"quality": 95}), ("GIF", {}), ("WEBP", {"lossless": True})],
)
async def test_each_format_is_stored_as_a_256_px_png(raw_api, store, fmt, options):
    # Green in the middle third: the center crop keeps it and drops the red and blue sides.
    data = encode(stripes([RED, GREEN, BLUE], 200, 200), fmt, **options)
    await upload(raw_api, data, content_type="text/plain")  # Content-Type decides nothing
    image = await fetch_avatar(raw_api)
    assert image.format == "PNG"
    assert image.size == (256, 256)
    rgb = image.convert("RGB")
    for x in (5, 128, 250):
        assert near(rgb.getpixel((x, 128)), GREEN), (x, rgb.getpixel((x, 128)))
    assert counts(store) == (1, counts(store)[1])
    assert event_types(store) == ["user.avatar_changed"]


@pytest.mark.parametrize(
    ("mode", "color", "fmt"),
    [
        ("I;16", 40000, "PNG"),
        ("LA", (120, 200), "PNG"),
        ("P", 3, "PNG"),
        ("1", 1, "PNG"),
        ("CMYK", (0, 255, 255, 0), "JPEG"),
        ("L", 90, "JPEG"),
    ],
)
async def test_unusual_pixel_modes_are_converted(raw_api, mode, color, fmt):
    await upload(raw_api, encode(solid((300, 260), color, mode), fmt))
    image = await fetch_avatar(raw_api)
    assert image.size == (256, 256)
    assert image.mode in {"RGB", "RGBA"}


async def test_transparency_is_kept(raw_api):
    await upload(raw_api, encode(solid((64, 64), (10, 20, 30, 0), "RGBA"), "PNG"))
    image = await fetch_avatar(raw_api)
    assert image.mode == "RGBA"
    assert image.getpixel((128, 128))[3] == 0


async def test_metadata_is_stripped(raw_api):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = encode(solid((300, 300)), "JPEG", exif=exif.tobytes(), icc_profile=icc)
    assert Image.open(io.BytesIO(jpeg)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it is there
    await upload(raw_api, jpeg)
    stored = (await raw_api.request("GET", "/api/user/avatar", expect=200)).raw
    assert set(png_chunk_types(stored)) <= {b"IHDR", b"IDAT", b"IEND"}
    assert b"SpyCam" not in stored
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif()
    assert "icc_profile" not in image.info

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    text.add_itxt("Author", "secret author")
    await upload(raw_api, encode(solid((64, 64)), "PNG", pnginfo=text, exif=exif.tobytes()))
    stored = (await raw_api.request("GET", "/api/user/avatar", expect=200)).raw
    assert set(png_chunk_types(stored)) <= {b"IHDR", b"IDAT", b"IEND"}
    assert b"script" not in stored
    assert b"secret author" not in stored


async def test_exif_orientation_is_applied(raw_api):
    # What a viewer should see: red on top, blue below. The camera stored it turned a quarter
    # to the left and says so in EXIF (orientation 6: rotate 90 degrees clockwise to display).
    shown = Image.new("RGB", (200, 200), RED)
    shown.paste(BLUE, (0, 100, 200, 200))
    stored = shown.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    await upload(raw_api, encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    rgb = (await fetch_avatar(raw_api)).convert("RGB")
    assert near(rgb.getpixel((128, 30)), RED)
    assert near(rgb.getpixel((128, 226)), BLUE)


async def test_animated_images_keep_their_first_frame(raw_api):
    frames = [solid((100, 100), color) for color in (RED, GREEN, BLUE)]
    for fmt in ("GIF", "WEBP"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
        assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
        await upload(raw_api, data)
        rgb = (await fetch_avatar(raw_api)).convert("RGB")
        assert near(rgb.getpixel((128, 128)), RED), fmt


async def test_trailing_data_of_a_polyglot_is_dropped(raw_api):
    zip_tail = b"PK\x03\x04" + b"\x00" * 26 + b"evil.html<script>alert(1)</script>"
    await upload(raw_api, encode(solid((80, 80)), "PNG") + zip_tail)
    stored = (await raw_api.request("GET", "/api/user/avatar", expect=200)).raw
    assert b"PK\x03\x04" not in stored
    assert b"script" not in stored
    assert png_chunk_types(stored)[-1] == b"IEND"


# -- refusals: nothing stored, nothing recorded ----------------------------------------------------


async def refused(api, store, data: bytes, status: int, content_type: str = "image/png") -> str:
    before = counts(store)
    reply = await upload(api, data, content_type=content_type, expect=status)
    assert counts(store) == before
    return reply.body


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        b"just some text",
        b"BM" + b"\x00" * 64,  # BMP: an image, but not one we accept
        b"%PDF-1.7\n",
        b"PK\x03\x04" + b"\x00" * 26,
    ],
)
async def test_anything_but_png_jpeg_gif_webp_is_415(raw_api, store, data):
    message = await refused(raw_api, store, data, 415, content_type="image/png")
    assert "PNG, JPEG, GIF or WebP" in message


async def test_empty_body_is_400(raw_api, store):
    await refused(raw_api, store, b"", 400)


async def test_over_2_mb_is_413_before_decoding(raw_api, store):
    # A valid image padded past the limit: refused for its size, whatever it contains.
    padded = encode(solid((32, 32)), "PNG")
    padded += b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(padded))
    assert len(padded) == MAX_UPLOAD_BYTES + 1
    assert "2097152 byte limit" in await refused(raw_api, store, padded, 413)
    # At the limit exactly the size is fine, and the padding after IEND is dropped.
    await upload(raw_api, padded[:MAX_UPLOAD_BYTES])


async def test_other_routes_keep_the_json_limit(api):
    """The avatar's 2 MiB limit is its own: JSON routes still refuse over 1 MiB."""
    reply = await api.request("PATCH", "/api/user", raw=b" " * ((1 << 20) + 1))
    assert reply.status == 413


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 50_000])
async def test_huge_declared_pixels_are_422_without_decoding(raw_api, store, side):
    bomb = bomb_png(side, side) if side == 10_000 else declared_only_png(side, side)
    assert len(bomb) < 200_000  # tiny file, huge image
    before = peak_rss_mb()
    message = await refused(raw_api, store, bomb, 422)
    assert f"{side}x{side}" in message or "too many pixels" in message
    # Decoding 10000x10000 would take 100 MB at least; the server grew by far less.
    assert peak_rss_mb() - before < 50


async def test_too_tall_or_too_wide_is_422(raw_api, store):
    for size in ((4097, 1), (1, 4097)):
        assert "limit is 4096x4096" in await refused(raw_api, store, bomb_png(*size), 422)
    await upload(raw_api, bomb_png(4096, 16))  # at the limit: accepted


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
async def test_truncated_images_are_422(raw_api, store, fmt):
    noisy = Image.frombytes("RGB", (200, 200), random.Random(4).randbytes(200 * 200 * 3))
    data = encode(noisy, fmt)
    assert "not a decodable" in await refused(raw_api, store, data[: len(data) // 2], 422)


async def test_random_bytes_behind_a_valid_magic_never_500(raw_api, store):
    rng = random.Random(7)
    magics = [PNG_SIGNATURE, b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 "]
    for attempt in range(40):
        junk = magics[attempt % len(magics)] + rng.randbytes(rng.randrange(0, 400))
        status = (await upload(raw_api, junk, expect=None)).status
        assert status in {415, 422}, (junk[:16], status)
    assert counts(store) == (0, counts(store)[1])


async def test_a_refused_upload_keeps_the_current_avatar(raw_api, store):
    await upload(raw_api, encode(solid((64, 64), BLUE), "PNG"))
    etag = (await raw_api.request("GET", "/api/user/avatar")).headers["Etag"]
    await refused(raw_api, store, b"<svg/>", 415)
    await refused(raw_api, store, bomb_png(5000, 5000), 422)
    assert (await raw_api.request("GET", "/api/user/avatar")).headers["Etag"] == etag


# -- serving, caching, removing ------------------------------------------------------------------


async def test_etag_and_304_and_a_new_etag_per_avatar(raw_api):
    await upload(raw_api, encode(solid((64, 64), RED), "PNG"))
    first = await raw_api.request("GET", "/api/user/avatar", expect=200)
    etag = first.headers["Etag"]
    assert etag.startswith('"')
    assert len(etag) == 66  # a quoted SHA-256
    again = await raw_api.request(
        "GET", "/api/user/avatar", headers={"If-None-Match": etag}, expect=304
    )
    assert again.headers["Etag"] == etag
    assert again.raw == b""
    versioned = await raw_api.request("GET", "/api/user/avatar?v=abc", expect=200)
    assert versioned.raw == first.raw
    await upload(raw_api, encode(solid((64, 64), GREEN), "PNG"))
    changed = await raw_api.request(
        "GET", "/api/user/avatar", headers={"If-None-Match": etag}, expect=200
    )
    assert changed.headers["Etag"] != etag


async def test_delete_brings_back_the_default(raw_api, api, store):
    await upload(raw_api, encode(solid((64, 64)), "PNG"))
    await raw_api.request("DELETE", "/api/user/avatar", expect=204)
    reply = await raw_api.request("GET", "/api/user/avatar", expect=200)
    assert reply.headers["Content-Type"] == "image/svg+xml"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.raw.startswith(b"<svg")
    await raw_api.request("DELETE", "/api/user/avatar", expect=204)  # idempotent
    assert counts(store)[0] == 0
    assert event_types(store) == ["user.avatar_changed", "user.avatar_removed"]


async def test_default_avatar_uses_the_identity_colour(raw_api, api):
    identity = (await api.get("/api/me"))["identity"]
    svg = (await raw_api.request("GET", "/api/user/avatar", expect=200)).raw.decode()
    assert f'fill="{identity["color"]}"' in svg
    assert f">{identity['initials']}</text>" in svg


async def test_anonymous_callers_get_401(anonymous, store):
    png = encode(solid((16, 16)), "PNG")
    before = counts(store)
    for method, body in (("GET", None), ("PUT", png), ("DELETE", None)):
        reply = await anonymous.request(
            method, "/api/user/avatar", raw=body, headers={"Content-Type": "image/png"}
        )
        assert reply.status == 401, method
    assert counts(store) == before


async def test_anonymous_oversized_upload_is_401_not_413(anonymous):
    reply = await anonymous.request(
        "PUT", "/api/user/avatar", raw=b"\x00" * (MAX_UPLOAD_BYTES + 1),
        headers={"Content-Type": "image/png"},
    )  # fmt: skip
    assert reply.status == 401


def test_service_upserts_and_cascades_on_every_store(store_url):
    """Replacing is an upsert on SQLite and PostgreSQL alike; deleting the user deletes it."""
    from analytics_ext.services.activity import ActivityLog
    from analytics_ext.services.avatars import AvatarService
    from analytics_ext.services.users import UserService
    from analytics_ext.store import upgrade_schema
    from analytics_ext.store.models import User

    db = Database(store_url)
    try:
        upgrade_schema(db)
        owner = UserService(db, ActivityLog()).ensure_owner("ada", "Ada")
        avatars = AvatarService(db, ActivityLog())
        first = avatars.replace(owner.id, encode(solid((40, 40), RED), "PNG"))
        second = avatars.replace(owner.id, encode(solid((40, 40), BLUE), "JPEG"))
        assert first.etag != second.etag
        image = avatars.image(owner.id)
        assert (image.content_type, image.etag, image.uploaded) == ("image/png", second.etag, True)
        assert counts(db)[0] == 1
        assert avatars.remove(owner.id) is True
        assert avatars.remove(owner.id) is False
        assert avatars.image(owner.id).content_type == "image/svg+xml"
        avatars.replace(owner.id, encode(solid((40, 40)), "GIF"))
        with db.transaction() as tx:
            tx.delete(tx.get(User, owner.id))
        assert counts(db)[0] == 0
    finally:
        db.dispose()


async def test_a_broken_colour_profile_is_ignored_not_fatal(raw_api):
    await upload(raw_api, encode(solid((64, 64), GREEN), "JPEG", icc_profile=b"not a profile"))
    rgb = (await fetch_avatar(raw_api)).convert("RGB")
    assert near(rgb.getpixel((128, 128)), GREEN)

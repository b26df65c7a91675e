"""Avatars: an uploaded picture, re-encoded to a clean square PNG, or a generated default.

An upload is untrusted bytes that later reach every browser showing the user, so nothing of it
is stored as sent: the type comes from the bytes' magic numbers (never the name or the
Content-Type), the declared pixel size is checked from the header before any pixel is decoded,
and what is stored is a fresh 256 px PNG made from the decoded pixels alone. Trailing data (a ZIP
appended to a PNG), EXIF (GPS positions), ICC profiles and text chunks therefore never survive.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from xml.sax.saxutils import escape

from PIL import Image, ImageCms, ImageOps
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import AnalyticsError, Invalid, NotFound
from ..store import Database
from ..store.models import User, UserAvatar
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin

MAX_UPLOAD_BYTES: Final = 2 * 1024 * 1024
"""Largest upload accepted (2 MiB): enough for a phone photo, refused before decoding."""

MAX_SIDE: Final = 4096
"""Largest width or height accepted, read from the header: bounds decoding memory (~64 MB)."""

SIDE: Final = 256
"""Width and height of every stored avatar."""

MAX_CONCURRENT_DECODES: Final = 2
"""Decodes running at once per process, so parallel uploads cannot multiply peak memory."""

_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)

_UNDECODABLE: Final = (
    OSError,  # truncated data, unidentified image, decoder errors
    SyntaxError,  # Pillow's plugins report malformed headers and chunks this way
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
    Image.DecompressionBombWarning,  # raised, not warned, where warnings are errors
)
"""What Pillow raises for malformed input. Only these become 422: anything else is our bug."""

log = logging.getLogger(__name__)

_UPSERTS: Final = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
"""The store backends (DESIGN.md §5), each with its ``INSERT ... ON CONFLICT`` construct."""

_SRGB: Final = ImageCms.createProfile("sRGB")


class UnsupportedImageType(AnalyticsError):
    """The bytes are not a PNG, JPEG, GIF or WebP image (SVG included: it can carry script)."""

    status = 415


class UploadTooLarge(AnalyticsError):
    """The upload is over ``MAX_UPLOAD_BYTES``; the handler refuses it earlier, this is a backstop
    for callers of the service that bypass the handler."""

    status = 413


class EmptyUpload(AnalyticsError):
    """No bytes at all: a malformed request rather than a bad image."""

    status = 400


@dataclass(frozen=True)
class AvatarImage:
    """What ``GET /api/user/avatar`` serves: the uploaded PNG or the generated SVG."""

    content: bytes
    content_type: str
    etag: str
    uploaded: bool


@dataclass(frozen=True)
class AvatarChange:
    """What an upload became: enough for the caller to build a versioned avatar URL."""

    etag: str
    updated_at: datetime
    source_format: str
    source_size: tuple[int, int]


def initials_of(name: str) -> str:
    """Up to two initials, shown on the default avatar and in JupyterLab's user menu."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w]
    letters = "".join(w[0] for w in words[:2]) or name[:1] or "?"
    return letters.upper()


def color_of(user_id: str) -> str:
    """A stable colour per user (for avatars and collaborator cursors)."""
    palette = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    return palette[sum(map(ord, user_id)) % len(palette)]


def default_avatar_svg(display_name: str, user_id: str) -> str:
    """A 256 px square SVG. The name is escaped: it is user input rendered into markup."""
    initials = escape(initials_of(display_name))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        f'<rect width="256" height="256" rx="128" fill="{color_of(user_id)}"/>'
        '<text x="128" y="128" dy=".35em" text-anchor="middle" fill="#fff" '
        f'font-family="sans-serif" font-size="104">{initials}</text></svg>'
    )


def detect_format(data: bytes) -> str:
    """The Pillow format name from the magic numbers; 415 for anything else.

    Checked before Pillow sees the bytes, so only these four decoders are ever reachable from an
    upload, whatever other plugins Pillow has (EPS would start Ghostscript, for example).
    """
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise UnsupportedImageType(
        "avatar must be a PNG, JPEG, GIF or WebP image (detected from its bytes); "
        "SVG and other formats are not accepted"
    )


def normalize_avatar(data: bytes) -> tuple[bytes, str, tuple[int, int]]:
    """``data`` as a 256x256 PNG holding pixels only, with its source format and size.

    Raises 413/415/422 domain errors; CPU-bound, so callers run it off the event loop.
    """
    if not data:
        raise EmptyUpload("request body is empty: send the image bytes")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(f"avatar is larger than the {MAX_UPLOAD_BYTES} byte limit")
    source_format = detect_format(data)
    try:
        # Lazy: reads the header only, so the size check below runs before any pixel decoding.
        with Image.open(io.BytesIO(data), formats=[source_format]) as image:
            width, height = image.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise Invalid(
                    "body", f"image is {width}x{height} pixels; the limit is {MAX_SIDE}x{MAX_SIDE}"
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: far less memory for a large photo.
            image.draft(None, (2 * SIDE, 2 * SIDE))
            image.seek(0)  # the first frame of an animation
            image.load()
            pixels = _square_srgb(image)
    except Image.DecompressionBombError:
        raise Invalid(
            "body", f"image declares too many pixels; the limit is {MAX_SIDE}x{MAX_SIDE}"
        ) from None
    except _UNDECODABLE as error:
        # Pillow's own messages can name internals (object addresses): keep them in the log.
        log.info("avatar upload refused: %s: %s", type(error).__name__, error)
        raise Invalid(
            "body", f"not a decodable {source_format} image (corrupt or truncated)"
        ) from None
    out = io.BytesIO()
    pixels.save(out, format="PNG", optimize=True)
    return out.getvalue(), source_format, (width, height)


def _square_srgb(image: Image.Image) -> Image.Image:
    """Upright, sRGB, center-cropped and resized, copied into a new image with empty ``info``."""
    upright = ImageOps.exif_transpose(image)
    icc = upright.info.get("icc_profile")
    # ``transparency`` marks a palette entry or colour key (GIF, PNG tRNS) as see-through.
    has_alpha = upright.mode in {"RGBA", "LA", "PA"} or "transparency" in upright.info
    target = "RGBA" if has_alpha else "RGB"
    converted = (_to_srgb(upright, icc, target) if icc else None) or upright.convert(target)
    square = ImageOps.fit(converted, (SIDE, SIDE), method=Image.Resampling.LANCZOS)
    # A new image carries no ``info``: no EXIF, ICC, text chunks, gamma or dpi reach the PNG.
    clean = Image.new(square.mode, square.size)
    clean.paste(square)
    return clean


def _to_srgb(image: Image.Image, icc: bytes, mode: str) -> Image.Image | None:
    """Colours as the embedded profile meant them, since the stored PNG carries no profile.

    ``None`` when littlecms cannot use the profile with this image (a broken profile, or a
    palette image): the caller then converts without colour management.
    """
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _etag(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


class AvatarService:
    def __init__(self, db: Database, activity: ActivityLog) -> None:
        self._db = db
        self._activity = activity
        self._decodes = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)

    def image(self, user_id: str) -> AvatarImage:
        """The uploaded avatar, or the generated default (which follows the display name)."""
        with self._db.transaction() as tx:
            avatar = tx.get(UserAvatar, user_id)
            if avatar is not None:
                return AvatarImage(avatar.png, "image/png", avatar.etag, uploaded=True)
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            svg = default_avatar_svg(user.display_name, user.id).encode()
        return AvatarImage(svg, "image/svg+xml", _etag(svg), uploaded=False)

    def replace(
        self, user_id: str, data: bytes, origin: RequestOrigin | None = None
    ) -> AvatarChange:
        """Store ``data`` re-encoded as the user's avatar; nothing is stored if it is refused.

        Decoding happens before the transaction opens, so a slow decode never holds the store.
        """
        with self._decodes:
            png, source_format, source_size = normalize_avatar(data)
        etag, now = _etag(png), utcnow()
        with self._db.transaction() as tx:
            if tx.get(User, user_id) is None:
                raise NotFound("user not found")
            values = {"png": png, "etag": etag, "updated_at": now}
            insert = _UPSERTS[tx.get_bind().dialect.name]
            tx.execute(
                insert(UserAvatar)
                .values(user_id=user_id, **values)
                .on_conflict_do_update(index_elements=["user_id"], set_=values)
            )
            self._activity.record(
                tx, user_id, "user.avatar_changed", target=("user", user_id), origin=origin,
                details={"format": source_format.lower(), "width": source_size[0],
                         "height": source_size[1], "bytes": len(data)},
            )  # fmt: skip
        return AvatarChange(etag, now, source_format, source_size)

    def remove(self, user_id: str, origin: RequestOrigin | None = None) -> bool:
        """Back to the generated default; ``False`` (and no event) if there was no upload."""
        with self._db.transaction() as tx:
            removed = tx.execute(delete(UserAvatar).where(UserAvatar.user_id == user_id))
            if not removed.rowcount:
                return False
            self._activity.record(
                tx, user_id, "user.avatar_removed", target=("user", user_id), origin=origin
            )
        return True

"""Keyset pagination: stable pages under concurrent inserts, O(page) however deep the page.

A cursor is the (timestamp, id) of the last item shown, opaque to clients (base64url JSON), so
the next page starts strictly after it in the list's order: no offsets, no skipped or repeated
rows when new ones arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from ..errors import Invalid


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; ``Invalid("cursor", ...)`` for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, item_id = json.loads(raw)
        position = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "is not a cursor this server issued") from None
    if position.tzinfo is None or not isinstance(item_id, str):
        raise Invalid("cursor", "is not a cursor this server issued")
    return position, item_id

"""The pass the Jupyter server gives each request it forwards to the Voila process.

The Voila process listens on 127.0.0.1, where any local user could reach it; it answers only
requests carrying a pass that the Jupyter server signed after checking the viewer's access
(``dashboards.proxy``). The pass names the viewer (their actor id), the exact path it was
issued for, and expires within seconds, so a pass seen once cannot open another dashboard or
be replayed later. The key is random per Voila process start and reaches it through its
environment (``VOILA_KEY_ENV``), never its command line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

HEADER = "X-Analytics-Viewer-Pass"
VOILA_KEY_ENV = "ANALYTICS_EXT_VOILA_KEY"
LIFETIME_SECONDS = 30
SUPERVISOR_ACTOR = "supervisor"
"""The actor of the supervisor's own requests (health checks, pool counts)."""


@dataclass(frozen=True)
class ViewerPass:
    actor: str
    """The viewer's actor id (a user id, ``link:<grant id>``) or ``SUPERVISOR_ACTOR``."""
    name: str
    """What the viewer is called in Voila's logs."""
    path: str
    """The request path (no query string) the pass was issued for."""
    expires: float


def new_key() -> str:
    return secrets.token_hex(32)


def _signature(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign(key: str, actor: str, name: str, path: str, now: float | None = None) -> str:
    """The header value admitting ``actor`` to ``path`` for ``LIFETIME_SECONDS``."""
    expires = (now if now is not None else time.time()) + LIFETIME_SECONDS
    body = json.dumps({"a": actor, "n": name, "p": path, "e": expires}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_signature(key, payload)}"


def verify(key: str, value: str, path: str, now: float | None = None) -> ViewerPass | None:
    """The pass in ``value`` if the server signed it for ``path`` and it has not expired."""
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(key, payload)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        granted = ViewerPass(str(body["a"]), str(body["n"]), str(body["p"]), float(body["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if granted.path != path or granted.expires < (now if now is not None else time.time()):
        return None
    return granted

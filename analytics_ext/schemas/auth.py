"""Auth bodies and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .base import ResponseModel


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, answered from memory on every request (see ``RevocationView``).

    Carries what the IdentityProvider (names) and the Authorizer (admin, notebook role) need, so
    neither has to query the store per request.
    """

    user_id: str
    session_id: str
    username: str
    display_name: str
    is_admin: bool
    notebook_role: bool
    email_unverified: bool = False
    """A self-registered account whose email address is not verified yet."""


@dataclass(frozen=True)
class TokenPair:
    """What login and refresh return; the handler writes it as JSON, once.

    ``refresh_token`` is left out of ``repr`` (and so out of logs and tracebacks); so is the
    access token, a bearer credential just the same.
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    session_id: str
    token_type: str = "Bearer"  # noqa: S105 -- the OAuth token type, not a secret

    def as_json(self) -> dict[str, object]:
        """The response body (RFC 6749 §5.1 names, plus our ``session_id``)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "session_id": self.session_id,
        }


class SessionOut(ResponseModel):
    """One live login session in ``GET /api/auth/sessions``.

    ``last_used_at`` moves when the session's refresh token is used (every ~15 minutes while a
    client is active), not on every request: a store write per request would cost more than the
    sessions list is worth.
    """

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool = False

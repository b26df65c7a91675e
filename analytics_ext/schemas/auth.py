"""Auth bodies and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from .base import RequestModel, ResponseModel
from .users import DisplayName, UserView


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


# --- request bodies of /api/auth/* and /api/user/password ----------------------------------------

Password = Annotated[str, StringConstraints(strip_whitespace=False, max_length=4096)]
"""A password exactly as typed: never stripped, never truncated. The service's policy (8..1024
characters) names the field when it refuses one; the cap here only keeps absurd bodies out."""

LoginName = Annotated[str, Field(max_length=1024)]
"""A username or an email address; canonicalised (NFKC + casefold) by the service."""

OpaqueToken = Annotated[str, Field(max_length=1024)]
"""A refresh, reset or verification token; checked by the service (401 if unusable)."""


class LoginRequest(RequestModel):
    username: LoginName
    """The username or the email address of the account."""
    password: Password


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


EmailAddress = Annotated[str, Field(min_length=3, max_length=254)]
"""Checked and canonicalised by the account service, which names the field if it is bad."""


class RegisterRequest(RequestModel):
    username: Annotated[str, Field(max_length=254)]
    password: Password
    email: EmailAddress
    display_name: DisplayName | None = None


class ForgotPasswordRequest(RequestModel):
    email_or_username: LoginName


class ResetPasswordRequest(RequestModel):
    token: OpaqueToken
    password: Password


class VerifyEmailRequest(RequestModel):
    token: OpaqueToken


class PasswordChange(RequestModel):
    current_password: Password
    new_password: Password


# --- response bodies ---------------------------------------------------------------------------


class SessionList(BaseModel):
    items: list[SessionOut]


class RevokedSessions(BaseModel):
    revoked: int
    """How many sessions ended."""


class Accepted(BaseModel):
    """The answer to a request whose outcome must not be told (does the account exist?)."""

    message: str


class Registered(BaseModel):
    """A new self-registered account, its first session (if it may log in yet), and whether the
    verification mail went out (``false``: the mail relay refused it; resend later)."""

    user: UserView
    tokens: dict[str, object] | None
    verification_sent: bool

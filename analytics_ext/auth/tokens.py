"""Short-lived JWT access tokens: issue, and verify with every failure looking the same.

An access token proves "user U, in login session S, until time T" without a store lookup; the
caller still checks that session S has not been revoked (that is why ``sid`` is in every token).

Why the verification is shaped the way it is:

- The algorithm list is fixed here (``HS256``) and handed to PyJWT on every call; the token's own
  ``alg`` header is never trusted, so ``none``, ``HS512`` or ``RS256`` headers are refused however
  the rest of the token looks (RFC 8725 §2.1, §3.1).
- PyJWT checks ``exp``/``nbf``/``iat`` against the wall clock only, and services and tests need a
  fixed "now". So PyJWT verifies the signature, ``iss``, ``aud`` and the presence of every claim,
  and this module checks the times itself against ``now`` with the same leeway rules PyJWT uses
  (expired when ``exp <= now - leeway``; not yet valid when ``nbf`` or ``iat > now + leeway``).
  It also checks what PyJWT does not: integer timestamps, ``typ == "access"``, non-empty string
  ``sub``/``sid``/``jti``, and that the token lives no longer than this server's lifetime.
- Every failure leaves through one ``raise Unauthenticated()`` with no detail and no chained
  exception: which check failed is useful only to someone forging tokens. Nothing here logs, and
  no exception message ever contains the token.
- Tokens over 4 KiB are refused before any base64 or JSON work, so a huge header cannot make the
  server decode megabytes per request.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeGuard

import jwt

from ..errors import Unauthenticated

MAX_TOKEN_LENGTH: Final = 4096
"""Longest token accepted (4 KiB); ours are about 400 characters."""

MIN_KEY_BYTES: Final = 32
"""HS256 needs a key at least as long as its 256-bit output (RFC 7518 §3.2)."""

MAX_LEEWAY: Final = timedelta(seconds=60)
"""Clock skew tolerated; more would quietly lengthen every token's life."""

ACCESS_TYP: Final = "access"
"""The ``typ`` claim: no other JWT signed with the same key can pass as an access token."""

REQUIRED_CLAIMS: Final = ("iss", "aud", "sub", "sid", "exp", "iat", "nbf", "jti", "typ")

_MAX_TIMESTAMP: Final = 253402300799
"""9999-12-31T23:59:59Z, the last second ``datetime`` can represent."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    """``sub``: the analytics user id."""
    session_id: str
    """``sid``: the login session; revoking the session revokes all its tokens."""
    token_id: str
    """``jti``: unique per token."""
    issued_at: datetime
    """``iat``, UTC-aware."""
    expires_at: datetime
    """``exp``, UTC-aware."""


class AccessTokenCodec:
    """Issues and verifies HS256 access tokens for one issuer and audience."""

    ALGORITHMS: Final = ("HS256",)
    """The only algorithms accepted; never derived from the token being verified."""

    def __init__(
        self,
        key: bytes,
        *,
        issuer: str,
        audience: str,
        lifetime: timedelta = timedelta(minutes=15),
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        """Refuse a configuration that would make tokens weak rather than fail later.

        ``lifetime`` is counted in whole seconds (JWT times are integers) and must be at least
        one second; ``leeway`` must be between 0 and 60 seconds; ``key`` must be at least 32
        bytes (``load_or_create_secret`` gives 43).
        """
        if not isinstance(key, bytes):
            raise TypeError("the access-token key must be bytes")
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the access-token key must be at least {MIN_KEY_BYTES} bytes")
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("issuer must be a non-empty string")
        if not isinstance(audience, str) or not audience:
            raise ValueError("audience must be a non-empty string")
        if lifetime < timedelta(seconds=1):
            raise ValueError("lifetime must be at least one second")
        if leeway < timedelta(0) or leeway > MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY.seconds} seconds")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._lifetime = int(lifetime.total_seconds())
        self._leeway = leeway.total_seconds()

    @property
    def lifetime(self) -> timedelta:
        return timedelta(seconds=self._lifetime)

    def issue(self, user_id: str, session_id: str, *, now: datetime | None = None) -> str:
        """A signed access token for ``user_id`` in ``session_id``, valid from ``now``.

        Times are whole seconds; ``exp`` is exactly ``iat + lifetime`` so that ``verify``'s
        lifetime cap holds for every token this codec issues.
        """
        _require_text("user_id", user_id)
        _require_text("session_id", session_id)
        issued = math.floor(_timestamp(now))
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "sid": session_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self._lifetime,
            "jti": secrets.token_urlsafe(16),
            "typ": ACCESS_TYP,
        }
        token = jwt.encode(payload, self._key, algorithm=self.ALGORITHMS[0])
        if len(token) > MAX_TOKEN_LENGTH:
            # Only absurdly long ids get here; never hand out a token verify() would refuse.
            raise ValueError("user_id and session_id are too long for an access token")
        return token

    def verify(self, token: str, *, now: datetime | None = None) -> AccessClaims:
        """The claims of a valid token, or ``Unauthenticated`` for any problem at all.

        ``now`` (UTC-aware; default: the current time) is the moment the token is judged at.
        A naive ``now`` is a programming error and raises ``ValueError``, not ``Unauthenticated``.
        """
        moment = _timestamp(now)
        payload = self._decode(token)
        claims = None if payload is None else self._claims(payload, moment)
        if claims is None:
            raise Unauthenticated()
        return claims

    def _decode(self, token: object) -> dict[str, Any] | None:
        """The signed payload if signature, algorithm, ``iss``, ``aud`` and presence all check."""
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_LENGTH
            or not token.isascii()
        ):
            return None
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=list(self.ALGORITHMS),
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "verify_signature": True,
                    "require": list(REQUIRED_CLAIMS),
                    "verify_iss": True,
                    "verify_aud": True,
                    # One audience, as a string, exactly ours: no list matching.
                    "strict_aud": True,
                    "verify_sub": True,
                    "verify_jti": True,
                    # Checked in _claims against the caller's ``now`` (PyJWT only knows the
                    # wall clock); the claims are still required above.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            # PyJWTError covers every decoding and validation failure; the others are
            # belt-and-braces for malformed input reaching the base64 or JSON layers.
            return None

    def _claims(self, payload: dict[str, Any], now: float) -> AccessClaims | None:
        """The claims if types, token type and times are right at ``now``; else None."""
        if payload.get("typ") != ACCESS_TYP:
            return None
        user_id, session_id, token_id = payload.get("sub"), payload.get("sid"), payload.get("jti")
        if not _is_text(user_id) or not _is_text(session_id) or not _is_text(token_id):
            return None
        issued, not_before, expires = payload.get("iat"), payload.get("nbf"), payload.get("exp")
        if not _is_time(issued) or not _is_time(not_before) or not _is_time(expires):
            return None
        if expires <= now - self._leeway:
            return None
        if not_before > now + self._leeway or issued > now + self._leeway:
            return None
        if not (issued < expires <= issued + self._lifetime):
            # A token claiming a longer life than this server grants is refused, so shortening
            # the configured lifetime also shortens tokens already handed out.
            return None
        return AccessClaims(
            user_id=user_id,
            session_id=session_id,
            token_id=token_id,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )


def _timestamp(now: datetime | None) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.timestamp()


def _require_text(name: str, value: object) -> None:
    if not _is_text(value):
        raise ValueError(f"{name} must be a non-empty string")


def _is_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""


def _is_time(value: object) -> TypeGuard[int]:
    """An integer NumericDate that ``datetime`` can hold (``bool`` is not a number here)."""
    return type(value) is int and 0 <= value <= _MAX_TIMESTAMP

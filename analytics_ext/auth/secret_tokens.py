"""Opaque secrets: refresh tokens, API keys, password-reset, email-verification and kernel tokens.

A secret is shown to its owner once and stored only as a hash. Its format is

    <kind>_<lookup>_<secret>      e.g.  aek_3fZk9QwLm0Pa_<43 characters>

- ``kind`` (3 letters, all starting ``ae``) says what the token is for, so people and secret
  scanners recognise a leaked key, and one kind can never be presented as another.
- ``lookup`` (12 random characters, ~71 bits) is not secret: the store keeps it in clear in an
  indexed column and finds the row by it (JupyterHub's prefix column). Unlike JupyterHub's prefix
  it is not cut from the secret, so the secret keeps its full entropy.
- ``secret`` (43 random characters, ~256 bits) is only ever stored as ``hash_secret(secret)`` and
  compared with ``hmac.compare_digest``.

Both random parts use the 62 letters and digits only: the token has exactly two underscores, so
parsing is unambiguous, it is URL- and header-safe without escaping, and a double click selects
all of it (the reason GitHub's token format does the same). Every token is exactly 60 characters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final


class SecretKind(StrEnum):
    """What a secret is for; the value is the token's visible prefix."""

    REFRESH = "aer"
    API_KEY = "aek"
    PASSWORD_RESET = "aep"  # noqa: S105 -- a token prefix, not a password
    EMAIL_VERIFY = "aev"
    KERNEL = "aet"
    SHARE_LINK = "ael"


ALPHABET: Final = string.ascii_letters + string.digits
KIND_LENGTH: Final = 3
LOOKUP_LENGTH: Final = 12
SECRET_LENGTH: Final = 43
"""43 characters of 62 give 43 * log2(62) ≈ 256.03 bits: at least as much as 32 random bytes."""
TOKEN_LENGTH: Final = KIND_LENGTH + 1 + LOOKUP_LENGTH + 1 + SECRET_LENGTH

HASH_SCHEME: Final = "sha256"
"""Named in every stored hash, so a later scheme can be told apart from this one."""

_TOKEN_PATTERN: Final = re.compile(
    "({kinds})_([A-Za-z0-9]{{{lookup}}})_([A-Za-z0-9]{{{secret}}})".format(
        kinds="|".join(re.escape(kind.value) for kind in SecretKind),
        lookup=LOOKUP_LENGTH,
        secret=SECRET_LENGTH,
    )
)
_PREFIXES: Final = tuple(f"{kind.value}_" for kind in SecretKind)
_HASH_PATTERN: Final = re.compile(rf"{HASH_SCHEME}\$[0-9a-f]{{64}}")


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly made secret: store ``kind``, ``lookup`` and ``secret_hash``; show ``token`` once.

    ``token`` is left out of ``repr`` so that logging this object cannot leak it.
    """

    kind: SecretKind
    lookup: str
    secret_hash: str
    token: str = field(repr=False)


def issue_secret(kind: SecretKind) -> IssuedSecret:
    """A new random secret of ``kind``; the lookup is random too, so it reveals nothing."""
    kind = SecretKind(kind)
    lookup = _random_text(LOOKUP_LENGTH)
    secret = _random_text(SECRET_LENGTH)
    return IssuedSecret(
        kind=kind,
        lookup=lookup,
        secret_hash=hash_secret(secret),
        token=f"{kind.value}_{lookup}_{secret}",
    )


def parse_secret(token: str) -> tuple[SecretKind, str, str] | None:
    """``(kind, lookup, secret)`` of a token in our format, or None for anything else.

    Never raises, whatever it is given: it runs on raw request input. The length is checked
    before the pattern, so long input costs nothing. The caller must still check that ``kind``
    is the kind it expects (an API key where a refresh token is due is a failure).
    """
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    match = _TOKEN_PATTERN.fullmatch(token)
    if match is None:
        return None
    kind, lookup, secret = match.groups()
    return SecretKind(kind), lookup, secret


def hash_secret(secret: str) -> str:
    """The stored form of ``secret``: ``"sha256$"`` and the hex SHA-256 of its UTF-8 bytes.

    A fast hash is right here, unlike for passwords (argon2id): slow hashing and salts exist
    to make guessing low-entropy passwords expensive, and these secrets are 256 random bits,
    so there is nothing to guess — finding a preimage of SHA-256 is infeasible at any speed,
    and precomputed tables cannot cover 2**256 values. JupyterHub likewise hashes the tokens
    it generates with a single round instead of its slow setting. A fast hash also keeps
    every API request that carries a key cheap. No key (pepper) is mixed in: it would protect
    nothing that the entropy does not already protect, and it would tie stored hashes to a
    server secret that may be rotated.
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty string")
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{HASH_SCHEME}${digest}"


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time; never raises.

    An unknown scheme or a malformed stored hash is simply no match.
    """
    if not isinstance(secret, str) or not secret or not isinstance(stored_hash, str):
        return False
    if _HASH_PATTERN.fullmatch(stored_hash) is None:
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def looks_like_secret(header_value: str) -> bool:
    """Whether a credential (``"Bearer <token>"`` or the bare token) is one of ours, not a JWT.

    Only the prefix is looked at: it routes the request to the secret path, where
    ``parse_secret`` does the real check. A JWT starts with ``eyJ`` (base64 of ``{"``), so the
    two can never be confused. Never raises.
    """
    if not isinstance(header_value, str):
        return False
    value = header_value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value.startswith(_PREFIXES)


def _random_text(length: int) -> str:
    """``length`` characters drawn uniformly from ``ALPHABET`` with the OS's CSPRNG."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))

"""Kernel tokens: the credential of a notebook kernel, valid while the kernel lives.

DESIGN.md §7: ``from analytics_ext import widgets`` works in a kernel the server started,
without a pasted token. The server gives the kernel a token (``aet_<lookup>_<secret>``) for
the user who started it. It speaks for that user with the ``write`` scope — enough for the
analytics API, never for kernels, contents or key management — so code in the notebook acts
no further than its user could through the API anyway. It is revoked when the kernel shuts down
and, at the latest, expires after ``kernel_token_lifetime``, which outlives any 15-minute access
token; a disabled account's tokens stop at once, as its API keys do.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from ..auth.secret_tokens import SecretKind, issue_secret, parse_secret, secret_matches
from ..errors import Unauthenticated
from ..schemas.api_keys import ApiKeyScope
from ..store import Database
from ..store.models import KernelToken, User
from ..store.types import utcnow
from .api_keys import ApiKeyPrincipal

# Compared against when no row has the presented lookup, so a miss costs what a hit costs.
_NO_MATCH_HASH = "sha256$" + "0" * 64
KERNEL_SCOPES = frozenset({ApiKeyScope.READ, ApiKeyScope.WRITE})


class KernelTokenService:
    """Issue, check and revoke kernel tokens. Blocking: call through ``Services.run``."""

    def __init__(self, db: Database, lifetime: timedelta = timedelta(days=30)) -> None:
        self._db = db
        self.lifetime = lifetime

    def issue(self, user_id: str, kernel_id: str) -> str:
        """A new token for the kernel ``kernel_id`` acting as ``user_id``; returned only here."""
        issued = issue_secret(SecretKind.KERNEL)
        with self._db.transaction() as tx:
            tx.add(
                KernelToken(
                    user_id=user_id,
                    kernel_id=kernel_id,
                    lookup=issued.lookup,
                    secret_hash=issued.secret_hash,
                    expires_at=utcnow() + self.lifetime,
                )
            )
        return issued.token

    def authenticate(self, token: str) -> ApiKeyPrincipal:
        """Who a kernel token speaks for: ``Unauthenticated`` if it is not a live kernel token
        of an enabled account. The answer has the shape of an API key's, so the Authorizer
        bounds it by the same scopes."""
        parsed = parse_secret(token)
        if parsed is None or parsed[0] is not SecretKind.KERNEL:
            raise Unauthenticated()
        _, lookup, secret = parsed
        with self._db.transaction() as tx:
            row = tx.execute(
                select(KernelToken, User.disabled_at)
                .join(User, User.id == KernelToken.user_id)
                .where(KernelToken.lookup == lookup)
            ).first()
            stored_hash = row[0].secret_hash if row is not None else _NO_MATCH_HASH
            if not secret_matches(secret, stored_hash) or row is None:
                raise Unauthenticated()
            kernel_token, disabled_at = row
            if (
                kernel_token.revoked_at is not None
                or kernel_token.expires_at <= utcnow()
                or disabled_at is not None
            ):
                raise Unauthenticated()
            return ApiKeyPrincipal(
                user_id=kernel_token.user_id, key_id=kernel_token.id, scopes=KERNEL_SCOPES
            )

    def revoke_kernel(self, kernel_id: str) -> int:
        """End every token of the kernel ``kernel_id`` (it shut down); how many were live."""
        return self._revoke(KernelToken.kernel_id == kernel_id)

    def revoke_kernels(self, kernel_ids: list[str]) -> int:
        """End the tokens of several kernels at once (the server is stopping)."""
        if not kernel_ids:
            return 0
        return self._revoke(KernelToken.kernel_id.in_(kernel_ids))

    def _revoke(self, condition: object) -> int:
        with self._db.transaction() as tx:
            result = tx.execute(
                update(KernelToken)
                .where(condition, KernelToken.revoked_at.is_(None))  # type: ignore[arg-type]
                .values(revoked_at=utcnow())
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""API keys: long-lived, scoped credentials for scripts and notebooks (roadmap Phase 3).

A key is ``issue_secret(SecretKind.API_KEY)`` (``aek_<lookup>_<secret>``): the store keeps the
lookup in clear (JupyterHub's prefix column: it finds the row and names the key in lists) and
only the hash of the secret. The token is returned once, by ``create``; nothing can show it again.

``authenticate`` runs on every request that carries a key, so it is one indexed read; the
``last_used_at`` write happens at most once a minute per key, not once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..auth.rate_limits import Limit, LimitName, RateLimiter, default_limits
from ..auth.secret_tokens import SecretKind, issue_secret, parse_secret, secret_matches
from ..errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from ..schemas.api_keys import NAME_MAX_LENGTH, ApiKeyOut, ApiKeyScope, CreatedApiKey
from ..store import Database
from ..store.models import ApiKey, User
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin

__all__ = ["ApiKeyPrincipal", "ApiKeyScope", "ApiKeyService"]

LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
"""``last_used_at`` is rewritten only when older than this: one write a minute per busy key."""

_SCOPE_RANK: Final = {ApiKeyScope.READ: 0, ApiKeyScope.WRITE: 1, ApiKeyScope.ADMIN: 2}

# Compared against when no row has the presented lookup, so a miss costs what a hit costs.
_NO_MATCH_HASH: Final = "sha256$" + "0" * 64


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who a valid key speaks for, and what it may do."""

    user_id: str
    key_id: str
    scopes: frozenset[ApiKeyScope]

    def allows(self, needed: ApiKeyScope) -> bool:
        """Whether the key may act at level ``needed``; admin includes write includes read."""
        return any(_SCOPE_RANK[scope] >= _SCOPE_RANK[needed] for scope in self.scopes)


class ApiKeyService:
    """Create, list, revoke and authenticate API keys. Blocking: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        limiter: RateLimiter,
        limits: Mapping[str, Limit] | None = None,
    ) -> None:
        self._db = db
        self._activity = activity
        self._limiter = limiter
        self._limit = (limits or default_limits())[str(LimitName.API_KEY_CREATE_USER)]

    def create(
        self,
        user_id: str,
        name: str,
        scopes: list[ApiKeyScope],
        expires_at: datetime | None,
        origin: RequestOrigin,
        *,
        now: datetime | None = None,
    ) -> CreatedApiKey:
        """A new key for ``user_id``; the result's ``token`` is the only copy of the secret.

        Raises ``Invalid`` (name: 1..128 printable characters; scopes: at least one known scope;
        expires_at: timezone-aware and in the future), ``Forbidden`` for an ``admin`` key by a
        non-admin, ``Conflict`` when a live key of this user has the name, ``RateLimited``
        (``api_key_create:user``: a stolen session must not mint keys in bulk) and
        ``Unauthenticated`` for an unknown or disabled user. ``now`` is for tests.
        """
        now = now or utcnow()
        name = _valid_name(name)
        chosen = _valid_scopes(scopes)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise Invalid("expires_at", "must include a time zone")
            if expires_at <= now:
                raise Invalid("expires_at", "must be in the future")
        with self._db.transaction() as tx:
            # Locks the user row on PostgreSQL, so two concurrent creates cannot both pass the
            # name check below (SQLite serialises writers anyway).
            user = tx.scalars(select(User).where(User.id == user_id).with_for_update()).first()
            if user is None or user.disabled_at is not None:
                raise Unauthenticated()
            if ApiKeyScope.ADMIN in chosen and not user.is_admin:
                raise Forbidden("only administrators may create keys with the admin scope")
            # Counted only for requests that would succeed: a typo does not use up the quota.
            if self._name_taken(tx, user_id, name, now):
                raise Conflict(f"you already have an API key named {name!r}")
            self._limiter.hit(self._limit, user_id)
            issued = issue_secret(SecretKind.API_KEY)
            key = ApiKey(
                user_id=user_id,
                name=name,
                lookup=issued.lookup,
                secret_hash=issued.secret_hash,
                scopes=[str(scope) for scope in chosen],
                created_at=now,
                expires_at=expires_at,
            )
            tx.add(key)
            tx.flush()
            self._activity.record(
                tx, user_id, "api_key.created", target=("api_key", key.id), origin=origin,
                details={"name": name, "scopes": key.scopes},
            )  # fmt: skip
            return CreatedApiKey(**_out(key).model_dump(), token=issued.token)

    def list(self, user_id: str) -> list[ApiKeyOut]:
        """The user's keys that are not revoked (expired ones included, so the UI can say so),
        oldest first."""
        with self._db.transaction() as tx:
            keys = tx.scalars(
                select(ApiKey)
                .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.created_at, ApiKey.id)
            )
            return [_out(key) for key in keys]

    def revoke(self, user_id: str, key_id: str, origin: RequestOrigin) -> None:
        """Revoke one of the user's keys; it stops working at once (every use reads the store).

        ``NotFound`` for a key that does not exist, is already revoked or belongs to someone
        else: 404, not 403, so ids of other people's keys cannot be probed.
        """
        now = utcnow()
        with self._db.transaction() as tx:
            key = tx.scalars(
                select(ApiKey).where(
                    ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)
                )
            ).first()
            if key is None:
                raise NotFound("API key not found")
            key.revoked_at = now
            self._activity.record(
                tx, user_id, "api_key.revoked", target=("api_key", key.id), origin=origin,
                details={"name": key.name},
            )  # fmt: skip

    def authenticate(self, token: str, *, now: datetime | None = None) -> ApiKeyPrincipal:
        """The principal of a valid key; ``Unauthenticated()`` (one message) for anything else.

        Checks, all answering the same: our format, the API-key kind, a known lookup, the secret
        (constant time), not revoked, not expired, the owner exists and is not disabled.
        """
        parsed = parse_secret(token)
        if parsed is None or parsed[0] is not SecretKind.API_KEY:
            raise Unauthenticated()
        _kind, lookup, secret = parsed
        now = now or utcnow()
        with self._db.transaction() as tx:
            row = tx.execute(
                select(ApiKey, User.disabled_at)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.lookup == lookup)
            ).first()
            stored_hash = row[0].secret_hash if row is not None else _NO_MATCH_HASH
            if not secret_matches(secret, stored_hash) or row is None:
                raise Unauthenticated()
            key, disabled_at = row
            if (
                key.revoked_at is not None
                or (key.expires_at is not None and key.expires_at <= now)
                or disabled_at is not None
            ):
                raise Unauthenticated()
            stale = now - LAST_USED_RESOLUTION
            if key.last_used_at is None or key.last_used_at < stale:
                # Conditional, so concurrent requests in the same minute write once between them.
                tx.execute(
                    update(ApiKey)
                    .where(
                        ApiKey.id == key.id,
                        or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale),
                    )
                    .values(last_used_at=now)
                )
            scopes = frozenset(ApiKeyScope(scope) for scope in key.scopes if scope in _SCOPES)
            return ApiKeyPrincipal(user_id=key.user_id, key_id=key.id, scopes=scopes)

    @staticmethod
    def _name_taken(tx: Session, user_id: str, name: str, now: datetime) -> bool:
        """Whether a live (unrevoked, unexpired) key of the user already has ``name``."""
        live = tx.scalars(
            select(ApiKey.expires_at).where(
                ApiKey.user_id == user_id, ApiKey.name == name, ApiKey.revoked_at.is_(None)
            )
        )
        return any(expires is None or expires > now for expires in live)


_SCOPES: Final = frozenset(scope.value for scope in ApiKeyScope)


def _valid_name(name: str) -> str:
    if not isinstance(name, str):
        raise Invalid("name", "must be text")
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise Invalid("name", f"must be 1 to {NAME_MAX_LENGTH} characters long")
    # isprintable() refuses control, format (bidi overrides) and line-separator characters,
    # which would break logs and let a name display as another.
    if not name.isprintable():
        raise Invalid("name", "must contain only printable characters")
    return name


def _valid_scopes(scopes: list[ApiKeyScope]) -> list[ApiKeyScope]:
    try:
        chosen = {ApiKeyScope(scope) for scope in scopes}
    except (TypeError, ValueError):
        choices = ", ".join(scope.value for scope in ApiKeyScope)
        raise Invalid("scopes", f"each scope must be one of {choices}") from None
    if not chosen:
        raise Invalid("scopes", "choose at least one scope")
    return sorted(chosen, key=_SCOPE_RANK.__getitem__)


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=f"{SecretKind.API_KEY.value}_{key.lookup}",
        scopes=[ApiKeyScope(scope) for scope in key.scopes if scope in _SCOPES],
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
    )

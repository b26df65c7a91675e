"""Team-server login: passwords, sessions, refresh-token rotation and per-request authentication.

No tornado here: the handlers, the IdentityProvider and the Authorizer call this service. Every
credential failure leaves as the same ``Unauthenticated()`` (which check failed helps only someone
guessing), and nothing is written on a failure except the audit of a failed login of a known
account and the revocation that answers a reused refresh token.

Blocking store work runs through ``run`` (``Services.run`` in the server), password hashing in the
hasher's worker process, so the async methods never block the event loop. The sync methods are
called by handlers through ``Services.run`` already.

**Refresh-token rotation and concurrent refreshes.** Every refresh marks the presented token used
and issues a new one, in one transaction. The "mark used" step is an
``UPDATE ... WHERE id = ? AND used_at IS NULL`` whose row count decides who rotated, so two
requests racing with the same token can never both get a new pair. Policy: **the first wins, the
second is treated as reuse** — it revokes the whole session (the winner's new tokens included),
exactly as presenting an old token does, and answers 401. There is no grace period: a grace window
would let a thief who copied the token refresh alongside its owner undetected. The cost is that a
client must not refresh twice at once with one token (the JupyterLab client serialises refreshes
across tabs, e.g. with a Web Lock); a client that does is logged out, not let in twice.

**Ending access at once.** Access tokens carry their session id; ``authenticate`` refuses a session
that the ``RevocationView`` knows revoked, or a disabled user, from memory. A password change or
reset ends the other sessions in the same transaction that sets ``password_changed_at``, so "a
session older than the password change" is exactly "a revoked session" (the one kept is the
session that changed it). A login that verified the old hash while the password was being changed
is refused when it finds the hash changed under it.

**Session expiry without a store query.** A session is never refreshed within one access-token
lifetime of its ``expires_at``, so every access token expires before its session does and the
JWT's ``exp`` alone enforces session expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..auth.passwords import PasswordHasher, check_password_policy
from ..auth.rate_limits import (
    AsyncLimits,
    Limit,
    LimitName,
    RateLimited,
    RateLimiter,
    address_key,
    default_limits,
)
from ..auth.secret_tokens import SecretKind, issue_secret, parse_secret, secret_matches
from ..auth.tokens import AccessTokenCodec
from ..errors import Forbidden, Invalid, NotFound, Unauthenticated
from ..schemas.auth import Principal, SessionOut, TokenPair
from ..store import Database
from ..store.models import AuthSession, RefreshToken, User
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin
from .revocation import RevocationView
from .sessions import end_all_sessions
from .users import canonical_username

__all__ = ["AuthService", "AuthSettings", "Principal", "SessionOut", "TokenPair"]

MAX_LOGIN_NAME_LENGTH = 254
"""Longest username or email looked up; longer input is simply no account (and no big keys)."""

_UNKNOWN_ADDRESS = "unknown"
"""Rate-limit key for requests without a client address (a Unix socket): they share one bucket."""


@dataclass(frozen=True)
class AuthSettings:
    """Lifetimes of login sessions and of each refresh token in them."""

    session_lifetime: timedelta = timedelta(days=14)
    """A session (and every refresh token of it) ends this long after login, used or not."""
    refresh_lifetime: timedelta = timedelta(days=14)
    """A single refresh token, if not used, expires after this (capped by its session's end)."""
    block_unverified_email: bool = False
    """Refuse login (403, after the password checked out) to accounts with an unverified email."""


@dataclass(frozen=True)
class _LoginAccount:
    """What login needs of an account, read outside the hashing so no transaction waits on it."""

    id: str
    password_hash: str | None
    disabled: bool


@dataclass(frozen=True)
class _PasswordAccount:
    username: str
    email: str | None
    password_hash: str | None


@dataclass(frozen=True)
class _Reused:
    """A refresh that found its token already used: the session must end."""

    session_id: str
    user_id: str
    revoked: bool  # whether this call revoked it (False: it was already revoked)


class AuthService:
    """Login, refresh, logout, sessions and passwords of team-server accounts."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        codec: AccessTokenCodec,
        revocations: RevocationView,
        settings: AuthSettings = AuthSettings(),  # frozen, so one shared default is safe
        limits: dict[str, Limit] | None = None,
        run: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        if settings.session_lifetime <= codec.lifetime:
            raise ValueError("session_lifetime must be longer than the access-token lifetime")
        self._db = db
        self._activity = activity
        self._hasher = hasher
        self._codec = codec
        self._revocations = revocations
        self._settings = settings
        limits = {**default_limits(), **(limits or {})}
        self._address_limit = limits[LimitName.LOGIN_ADDRESS]
        self._failure_limit = limits[LimitName.LOGIN_FAILURE_ACCOUNT]
        self._run = run or asyncio.to_thread
        self._limits = AsyncLimits(limiter, self._run)

    @property
    def session_lifetime(self) -> timedelta:
        return self._settings.session_lifetime

    # --- login -------------------------------------------------------------------------------

    async def login(
        self, username_or_email: str, password: str, origin: RequestOrigin
    ) -> TokenPair:
        """A new session and token pair for the right password of an enabled account.

        Unknown account, wrong password, disabled account and an account without a password (the
        owner) all answer the same ``Unauthenticated()`` after one argon2 verification, so neither
        the answer nor its timing tells them apart.

        Raises:
            RateLimited: too many attempts from this address, or the account name is locked
                after repeated failures (checked before the password is looked at, so the right
                password during a lockout is refused too).
            Unauthenticated: anything else that is not a successful login.
        """
        name = canonical_username(username_or_email) if isinstance(username_or_email, str) else ""
        name = name[: MAX_LOGIN_NAME_LENGTH + 1]
        await self._limits.hit(
            self._address_limit, address_key(origin.ip_address or _UNKNOWN_ADDRESS)
        )
        await self._limits.check(self._failure_limit, name)

        account = None
        if name and len(name) <= MAX_LOGIN_NAME_LENGTH:
            account = await self._run(self._find_account, name)
        if account is None or account.password_hash is None:
            await self._hasher.verify_dummy(password)
            verified = False
        else:
            verified = await self._hasher.verify(account.password_hash, password)

        if account is None or not verified or account.disabled:
            # Counted per submitted name, account or not, so a lockout reveals nothing. A racing
            # attempt may already have locked the name: this one still answers 401.
            with contextlib.suppress(RateLimited):
                await self._limits.hit(self._failure_limit, name)
            if account is not None:
                await self._run(self._record_failure, account.id, origin)
            raise Unauthenticated()

        await self._limits.reset(self._failure_limit, name)
        assert account.password_hash is not None
        new_hash = None
        if self._hasher.needs_rehash(account.password_hash):
            new_hash = await self._hasher.hash(password)
        return await self._run(self._start_session, account, origin, new_hash)

    def _find_account(self, name: str) -> _LoginAccount | None:
        """The account whose username, or else email, is ``name`` (both stored canonical)."""
        with self._db.transaction() as tx:
            rows = tx.execute(
                select(User.id, User.username, User.password_hash, User.disabled_at).where(
                    or_(User.username == name, User.email == name)
                )
            ).all()
        # A username wins over another account's identical email address.
        rows.sort(key=lambda row: row.username != name)
        if not rows:
            return None
        row = rows[0]
        return _LoginAccount(row.id, row.password_hash, row.disabled_at is not None)

    def _record_failure(self, user_id: str, origin: RequestOrigin) -> None:
        with self._db.transaction() as tx:
            self._activity.record(tx, user_id, "auth.login_failed", origin=origin)

    def _start_session(
        self, account: _LoginAccount, origin: RequestOrigin, new_hash: str | None
    ) -> TokenPair:
        now = utcnow()
        with self._db.transaction() as tx:
            user = tx.get(User, account.id, with_for_update=True)
            # The password was verified against a hash read before hashing; if it changed (or
            # the account was disabled) meanwhile, the old password must not open a session.
            if (
                user is None
                or user.password_hash != account.password_hash
                or user.disabled_at is not None
            ):
                raise Unauthenticated()
            if (
                self._settings.block_unverified_email
                and user.email is not None
                and user.email_verified_at is None
            ):
                # Only said to someone who knows the password, so it reveals nothing new.
                raise Forbidden(
                    "verify your email address before logging in: follow the link in the "
                    "verification mail, or ask the login page for a new one"
                )
            if new_hash is not None:
                user.password_hash = new_hash
            session = AuthSession(
                user_id=user.id,
                created_at=now,
                last_used_at=now,
                expires_at=now + self._settings.session_lifetime,
                ip_address=origin.ip_address,
                user_agent=(origin.user_agent or None) and origin.user_agent[:256],
            )
            tx.add(session)
            tx.flush()
            refresh = self._add_refresh_token(tx, session, now)
            self._activity.record(
                tx, user.id, "auth.login", origin=origin, target=("session", session.id),
                details={"method": "password"},
            )  # fmt: skip
            return self._pair(user.id, session.id, refresh, now)

    def open_browser_session(self, user_id: str, origin: RequestOrigin, method: str) -> str:
        """A login session for someone already authenticated another way (the owner with the
        server token), so the browser's cookie can be listed and revoked like any other.

        No refresh token: the cookie names the session, which lives ``session_lifetime``.
        Returns the session id.
        """
        now = utcnow()
        with self._db.transaction() as tx:
            session = AuthSession(
                user_id=user_id,
                created_at=now,
                last_used_at=now,
                expires_at=now + self._settings.session_lifetime,
                ip_address=origin.ip_address,
                user_agent=(origin.user_agent or None) and origin.user_agent[:256],
            )
            tx.add(session)
            tx.flush()
            self._activity.record(
                tx, user_id, "auth.login", origin=origin, target=("session", session.id),
                details={"method": method},
            )  # fmt: skip
            return session.id

    # --- refresh -----------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, origin: RequestOrigin) -> TokenPair:
        """Rotate a refresh token: the presented one is used up, a new pair is returned.

        A token that was already used (replayed, or lost a race: see the module docstring)
        revokes its whole session, whose access tokens then stop working too.

        Raises:
            Unauthenticated: for every failure, identically.
        """
        parsed = parse_secret(refresh_token)
        if parsed is None or parsed[0] is not SecretKind.REFRESH:
            raise Unauthenticated()
        _kind, lookup, secret = parsed
        outcome = await self._run(self._rotate, lookup, secret, origin)
        if isinstance(outcome, _Reused):
            if outcome.revoked:
                await self._run(self._revocations.sessions_revoked, [outcome.session_id])
            raise Unauthenticated()
        return outcome

    def _rotate(self, lookup: str, secret: str, origin: RequestOrigin) -> TokenPair | _Reused:
        now = utcnow()
        with self._db.transaction() as tx:
            found = tx.execute(
                select(RefreshToken, AuthSession, User)
                .join(AuthSession, RefreshToken.session_id == AuthSession.id)
                .join(User, AuthSession.user_id == User.id)
                .where(RefreshToken.lookup == lookup)
            ).first()
            if found is None:
                raise Unauthenticated()
            token, session, user = found
            if not secret_matches(secret, token.secret_hash):
                raise Unauthenticated()
            if token.used_at is not None:
                return self._revoke_reused(tx, session, origin, now)
            if (
                token.expires_at <= now
                or session.revoked_at is not None
                # Never issue an access token that would outlive its session (module docstring).
                or session.expires_at <= now + self._codec.lifetime
                or user.disabled_at is not None
            ):
                raise Unauthenticated()
            marked = tx.execute(
                update(RefreshToken)
                .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if marked.rowcount != 1:
                # A concurrent refresh rotated this token first: the loser counts as reuse.
                return self._revoke_reused(tx, session, origin, now)
            session.last_used_at = now
            refresh = self._add_refresh_token(tx, session, now)
            # Every rotation is a change to the session (one event), so the log shows a stolen
            # refresh token in use from another address before any reuse is detected.
            self._activity.record(
                tx, user.id, "auth.token_refreshed", origin=origin, target=("session", session.id)
            )
            return self._pair(user.id, session.id, refresh, now)

    def _revoke_reused(
        self, tx: Session, session: AuthSession, origin: RequestOrigin, now: datetime
    ) -> _Reused:
        revoked = tx.execute(
            update(AuthSession)
            .where(AuthSession.id == session.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason="refresh_reused")
            .execution_options(synchronize_session=False)
        )
        first = revoked.rowcount == 1
        if first:
            self._activity.record(
                tx, session.user_id, "auth.refresh_reused", origin=origin,
                target=("session", session.id),
            )  # fmt: skip
        return _Reused(session.id, session.user_id, first)

    def _add_refresh_token(self, tx: Session, session: AuthSession, now: datetime) -> str:
        """Store a new refresh token's hash for ``session``; the token itself is returned once."""
        issued = issue_secret(SecretKind.REFRESH)
        tx.add(
            RefreshToken(
                session_id=session.id,
                lookup=issued.lookup,
                secret_hash=issued.secret_hash,
                created_at=now,
                expires_at=min(now + self._settings.refresh_lifetime, session.expires_at),
            )
        )
        return issued.token

    def _pair(self, user_id: str, session_id: str, refresh: str, now: datetime) -> TokenPair:
        return TokenPair(
            access_token=self._codec.issue(user_id, session_id, now=now),
            refresh_token=refresh,
            expires_in=int(self._codec.lifetime.total_seconds()),
            session_id=session_id,
        )

    # --- per request -------------------------------------------------------------------------

    def authenticate(self, access_token: str) -> Principal:
        """Who an access token speaks for, from memory: no store query per request.

        Raises:
            Unauthenticated: a bad or expired token, a revoked session, a disabled user.
        """
        claims = self._codec.verify(access_token)
        principal = self._revocations.principal(claims.user_id, claims.session_id)
        if principal is None:
            raise Unauthenticated()
        return principal

    # --- sessions ----------------------------------------------------------------------------

    def logout(self, session_id: str) -> None:
        """End ``session_id`` (the caller's own). Idempotent: an ended session stays ended."""
        with self._db.transaction() as tx:
            session = tx.get(AuthSession, session_id)
            if session is None or not self._end(tx, session, "logged_out"):
                return
            self._activity.record(
                tx, session.user_id, "auth.logout", target=("session", session_id)
            )
        self._revocations.sessions_revoked([session_id])

    def list_sessions(self, user_id: str, current_session_id: str | None) -> list[SessionOut]:
        """The user's live sessions, most recently used first, the caller's own flagged."""
        now = utcnow()
        with self._db.transaction() as tx:
            sessions = tx.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == user_id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                )
                .order_by(AuthSession.last_used_at.desc(), AuthSession.id)
            ).all()
            return [
                SessionOut.model_validate(s).model_copy(
                    update={"current": s.id == current_session_id}
                )
                for s in sessions
            ]

    def revoke_session(self, user_id: str, session_id: str) -> None:
        """End one of the user's sessions.

        Raises:
            NotFound: no such live session of this user (someone else's looks the same).
        """
        with self._db.transaction() as tx:
            session = tx.get(AuthSession, session_id)
            if (
                session is None
                or session.user_id != user_id
                or session.expires_at <= utcnow()
                or not self._end(tx, session, "revoked")
            ):
                raise NotFound("session not found")
            self._activity.record(
                tx, user_id, "auth.session_revoked", target=("session", session_id)
            )
        self._revocations.sessions_revoked([session_id])

    def revoke_other_sessions(self, user_id: str, current_session_id: str) -> int:
        """Log out everywhere else; returns how many sessions ended."""
        with self._db.transaction() as tx:
            ended = end_all_sessions(
                tx, user_id, "signed_out_elsewhere", keep_session_id=current_session_id
            )
            if ended:
                self._activity.record(
                    tx, user_id, "auth.sessions_revoked", details={"count": len(ended)}
                )
        self._revocations.sessions_revoked(ended)
        return len(ended)

    @staticmethod
    def _end(tx: Session, session: AuthSession, reason: str) -> bool:
        """Mark ``session`` revoked unless it already is; whether this call ended it."""
        result = tx.execute(
            update(AuthSession)
            .where(AuthSession.id == session.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    # --- passwords ---------------------------------------------------------------------------

    async def change_password(
        self,
        user_id: str,
        current_password: str,
        new_password: str,
        current_session_id: str | None,
    ) -> None:
        """Change one's own password: needs the current one; ends every other session.

        A wrong current password counts as a failed login of the account, under the same lock,
        so a stolen session cannot be used to guess the password; success clears the count.

        Raises:
            Invalid: the current password is wrong or the account has none (field
                ``current_password``), or the new one breaks the policy (``new_password``).
            RateLimited: the account is locked after repeated failures.
        """
        account = await self._run(self._password_account, user_id)
        await self._limits.check(self._failure_limit, account.username)
        if account.password_hash is None:
            await self._hasher.verify_dummy(current_password)
            verified = False
        else:
            verified = await self._hasher.verify(account.password_hash, current_password)
        if not verified:
            with contextlib.suppress(RateLimited):  # a racing attempt locked it: still 422
                await self._limits.hit(self._failure_limit, account.username)
            raise Invalid("current_password", "incorrect")
        await self._limits.reset(self._failure_limit, account.username)
        try:
            check_password_policy(new_password, username=account.username, email=account.email)
        except Invalid as error:
            raise Invalid("new_password", error.message.split(": ", 1)[-1]) from None
        new_hash = await self._hasher.hash(new_password)
        await self._run(
            self._store_password,
            user_id,
            new_hash,
            "password_changed",
            current_session_id,
            account.password_hash,
        )

    async def set_password(self, user_id: str, new_password: str) -> None:
        """Set a password without the old one (admin create or reset); ends every session.

        Raises:
            NotFound: no such user.
            Invalid: the password breaks the policy (field ``password``).
        """
        account = await self._run(self._password_account, user_id)
        check_password_policy(new_password, username=account.username, email=account.email)
        new_hash = await self._hasher.hash(new_password)
        await self._run(self._store_password, user_id, new_hash, "password_set", None, None)

    def _password_account(self, user_id: str) -> _PasswordAccount:
        with self._db.transaction() as tx:
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            return _PasswordAccount(user.username, user.email, user.password_hash)

    def _store_password(
        self,
        user_id: str,
        new_hash: str,
        reason: str,
        keep_session_id: str | None,
        expected_hash: str | None,
    ) -> None:
        now = utcnow()
        with self._db.transaction() as tx:
            user = tx.get(User, user_id, with_for_update=True)
            if user is None:
                raise NotFound("user not found")
            if expected_hash is not None and user.password_hash != expected_hash:
                # Changed concurrently since the current password was verified: start over.
                raise Unauthenticated()
            user.password_hash = new_hash
            user.password_changed_at = now
            ended = end_all_sessions(tx, user_id, reason, keep_session_id=keep_session_id, now=now)
            self._activity.record(
                tx, user_id, f"user.{reason}", details={"sessions_ended": len(ended)}
            )
        self._revocations.sessions_revoked(ended)
        self._revocations.user_changed(user_id)

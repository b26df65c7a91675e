"""Password reset and email verification: single-use, expiring secrets sent by email.

Both flows share one token discipline (DESIGN.md §4):

- A token is ``issue_secret(kind)``: the store keeps only its lookup (clear, indexed) and the hash
  of its secret in ``one_time_tokens``, with the purpose (``reset`` or ``verify``), the address it
  was mailed to and its expiry. The token itself exists only in the email.
- Redeeming one parses it, checks the kind, finds the row by lookup, compares the hash in constant
  time, checks purpose, expiry and use, then consumes it with ``UPDATE ... WHERE used_at IS NULL``
  and a row count check inside the transaction that makes the change, so two concurrent
  redemptions of one token cannot both succeed. Every failure is the same ``Unauthenticated()``
  and writes nothing.
- A token is bound to the address it was sent to: if the account's email changed since, the token
  is dead (a reset link mailed to an old address must not take over the account, and a
  verification link proves only the address it was sent to).

Links are built from ``RecoverySettings.public_url``, never from a request's Host header (a forged
Host would otherwise make us mail a victim a link to the attacker's site carrying a live token).
The token travels in the URL *fragment* (``{public_url}login#reset=<token>``): browsers never send
fragments to servers or in ``Referer`` headers, so the token stays out of access logs, proxies and
third-party requests; the login page reads it from ``location.hash`` and POSTs it as JSON.

Forgot-password answers identically whether or not the account exists (see ``forgot_password``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth.passwords import PasswordHasher, check_password_policy
from ..auth.rate_limits import (
    Limit,
    LimitName,
    RateLimited,
    RateLimiter,
    address_key,
    default_limits,
)
from ..auth.secret_tokens import SecretKind, issue_secret, parse_secret, secret_matches
from ..errors import Invalid, NotFound, Unauthenticated, Unavailable
from ..store import Database
from ..store.models import OneTimeToken, User
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin
from .mail import Mailer
from .revocation import RevocationView
from .sessions import end_all_sessions
from .users import canonical_username

log = logging.getLogger(__name__)

RESET: Final = "reset"
VERIFY: Final = "verify"
_KIND_OF_PURPOSE: Final = {RESET: SecretKind.PASSWORD_RESET, VERIFY: SecretKind.EMAIL_VERIFY}

# Compared against when no row has the presented lookup, so a miss costs what a hit costs.
_NO_MATCH_HASH: Final = "sha256$" + "0" * 64

Runner = Callable[..., Awaitable[Any]]
"""Runs a blocking callable off the event loop: ``Services.run`` in the server."""


async def _to_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass(frozen=True)
class RecoverySettings:
    """Where links point and how long tokens live; built once from the extension's config."""

    public_url: str
    """The server's public base URL, e.g. ``https://analytics.example.com/`` (base_url included)."""
    reset_lifetime: timedelta = timedelta(minutes=30)
    verify_lifetime: timedelta = timedelta(hours=48)
    product_name: str = "Jupyter Analytics"
    forgot_min_duration: timedelta = timedelta(milliseconds=250)
    """Every ``forgot_password`` call takes at least this long (see there); 0 in unit tests."""

    def __post_init__(self) -> None:
        # Fails at start-up, not at the first reset: a javascript: or relative URL in a mail is a
        # phishing link, and a URL without a host cannot be followed at all.
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"public_url must be an absolute http(s) URL, not {self.public_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("public_url must not contain credentials, a query or a fragment")
        if not self.public_url.endswith("/"):
            object.__setattr__(self, "public_url", self.public_url + "/")
        for name in ("reset_lifetime", "verify_lifetime"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.forgot_min_duration < timedelta(0):
            raise ValueError("forgot_min_duration must not be negative")

    def reset_link(self, token: str) -> str:
        return f"{self.public_url}login#reset={token}"

    def verify_link(self, token: str) -> str:
        return f"{self.public_url}login#verify={token}"


@dataclass(frozen=True)
class _Outgoing:
    """A mail to send after the transaction commits; ``text`` holds the token, so no repr."""

    user_id: str
    to: str
    subject: str
    text: str

    def __repr__(self) -> str:
        return f"_Outgoing(user_id={self.user_id!r})"


@dataclass(frozen=True)
class _CheckedToken:
    token_id: str
    user_id: str
    username: str
    email: str | None


class AccountRecovery:
    """Forgot/reset password and email verification for team-server accounts.

    ``forgot_password`` and ``reset_password`` are coroutines (they wait on argon2 and on mail);
    the others block and are called through ``Services.run`` like every other service method.
    ``run`` is how the coroutines run blocking store and mail work off the event loop
    (``Services.run`` in the server; ``asyncio.to_thread`` by default).
    """

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        mailer: Mailer,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        settings: RecoverySettings,
        limits: Mapping[str, Limit] | None = None,
        run: Runner | None = None,
        revocations: RevocationView | None = None,
    ) -> None:
        self._db = db
        self._activity = activity
        self._mailer = mailer
        self._hasher = hasher
        self._limiter = limiter
        self._settings = settings
        self._limits = dict(limits) if limits is not None else default_limits()
        self._run: Runner = run or _to_thread
        self._deliveries: set[asyncio.Task[None]] = set()
        self._revocations = revocations

    @property
    def public_url(self) -> str:
        """The server's address as users reach it (``AnalyticsExtension.public_url``), the base
        of every link the server hands out."""
        return self._settings.public_url

    # --- password reset ---------------------------------------------------------------------

    async def forgot_password(self, email_or_username: str, origin: RequestOrigin) -> None:
        """Mail a reset link to the account named, if there is one; always returns None.

        The caller learns nothing about the account: the result, the exceptions and the time taken
        are the same whether the account exists, is disabled, has no email, or its mail fails.

        - Rate limits (``RateLimited``) are keyed by the client address and by the *submitted*
          name, whether or not it names an account, so a 429 reveals nothing either. A second,
          silent cap per account id (same limit) stops a mail bomb that alternates spellings
          (username, email): beyond it, no mail is sent and the answer does not change.
          The login-failure counter is never touched: a forgot request cannot lock anyone out.
        - Timing: the mail is sent in the background (``wait_for_deliveries``), so neither SMTP
          latency nor a dead relay shows in the response time; the remaining difference (one
          SELECT for a miss; SELECT, UPDATE and two INSERTs for a hit: a few milliseconds) is
          hidden by padding every call to ``settings.forgot_min_duration`` (250 ms by default).
        """
        await self._answer_alike(self._prepare_reset, email_or_username, origin, "password reset")

    async def _answer_alike(
        self,
        prepare: Callable[[str, RequestOrigin], _Outgoing | None],
        email_or_username: str,
        origin: RequestOrigin,
        what: str,
    ) -> None:
        """Run ``prepare``, send its mail in the background, and take at least
        ``forgot_min_duration`` either way, so nothing tells whether a mail went out."""
        started = time.monotonic()
        outgoing = await self._run(prepare, email_or_username, origin)
        remaining = self._settings.forgot_min_duration.total_seconds() - (
            time.monotonic() - started
        )
        if outgoing is not None:
            self._deliver_in_background(outgoing, what)
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _prepare_reset(self, email_or_username: str, origin: RequestOrigin) -> _Outgoing | None:
        if origin.ip_address:
            self._hit(LimitName.FORGOT_PASSWORD_ADDRESS, address_key(origin.ip_address))
        name = canonical_username(email_or_username if isinstance(email_or_username, str) else "")
        self._hit(LimitName.FORGOT_PASSWORD_ACCOUNT, f"name:{name}")
        if not name or len(name) > 254:
            return None
        column = User.email if "@" in name else User.username
        now = utcnow()
        with self._db.transaction() as tx:
            user = tx.scalars(select(User).where(column == name)).first()
            if user is None or user.disabled_at is not None or not user.email:
                return None
            try:
                self._hit(LimitName.FORGOT_PASSWORD_ACCOUNT, f"id:{user.id}")
            except RateLimited:
                log.info("password reset mail for user %s skipped: per-account limit", user.id)
                return None
            token = self._issue(tx, user, RESET, self._settings.reset_lifetime, now)
            self._activity.record(tx, user.id, "auth.password_reset_requested", origin=origin)
            return self._reset_mail(user, token)

    async def reset_password(self, token: str, new_password: str, origin: RequestOrigin) -> str:
        """Set a new password with a reset token; end every session. Returns the user's id.

        Raises ``Unauthenticated()`` for any unusable token (malformed, wrong kind, unknown,
        wrong secret, expired, used, account disabled or its email changed) with nothing
        written; ``Invalid("password", ...)`` when the password breaks the policy (the token
        stays usable); ``RateLimited`` per client address.
        """
        checked = await self._run(self._check_token, token, RESET, origin)
        check_password_policy(new_password, username=checked.username, email=checked.email)
        # Hashed between two transactions: a store transaction must not stay open while argon2
        # runs (it would hold a connection and, on SQLite, the write lock).
        password_hash = await self._hasher.hash(new_password)
        ended = await self._run(self._apply_reset, checked, password_hash, origin)
        if self._revocations is not None:  # access ends now, here and in the other processes
            self._revocations.sessions_revoked(ended)
            await self._run(self._revocations.user_changed, checked.user_id)
        return checked.user_id

    def _apply_reset(
        self, checked: _CheckedToken, password_hash: str, origin: RequestOrigin
    ) -> list[str]:
        now = utcnow()
        with self._db.transaction() as tx:
            user = self._consume(tx, checked, RESET, now)
            user.password_hash = password_hash
            user.password_changed_at = now
            self._expire_unused(tx, user.id, RESET, now)
            ended = end_all_sessions(tx, user.id, "password_reset", now=now)
            self._activity.record(
                tx, user.id, "auth.password_reset", origin=origin,
                details={"sessions_ended": len(ended)},
            )  # fmt: skip
        return ended

    # --- email verification -----------------------------------------------------------------

    def send_verification(self, user_id: str, origin: RequestOrigin | None = None) -> None:
        """Mail a verification link for the user's current address (signup, email change).

        Older unused verification tokens die, so only the newest link works. Does nothing for a
        user without an email, a disabled one, or one whose current address is verified. Blocks
        until the mail is handed over; raises ``Unavailable`` if it cannot be (the token row stays,
        unused and harmless: a resend issues a new one), ``NotFound`` for an unknown user.
        """
        outgoing = self._prepare_verification(user_id, origin)
        if outgoing is not None:
            self._mailer.send(outgoing.to, outgoing.subject, outgoing.text)

    def resend_verification(self, user_id: str, origin: RequestOrigin) -> None:
        """``send_verification`` for the signed-in user, limited per account
        (``verify_email:account``): each call sends a mail, so it must not become a mail cannon.
        """
        self._hit(LimitName.VERIFY_EMAIL_ACCOUNT, user_id)
        self.send_verification(user_id, origin)

    async def request_verification(self, email_or_username: str, origin: RequestOrigin) -> None:
        """Mail a new verification link to the account named, if it is enabled and unverified.

        For people who cannot log in to ask for one (``unverified_email_access = "blocked"``):
        answers exactly like ``forgot_password`` (same result, same minimum time, limits keyed by
        the submitted name and the client address), so it reveals nothing about accounts.
        """
        await self._answer_alike(
            self._prepare_requested_verification, email_or_username, origin, "email verification"
        )

    def _prepare_requested_verification(
        self, email_or_username: str, origin: RequestOrigin
    ) -> _Outgoing | None:
        if origin.ip_address:
            self._hit(LimitName.VERIFY_EMAIL_ADDRESS, address_key(origin.ip_address))
        name = canonical_username(email_or_username if isinstance(email_or_username, str) else "")
        self._hit(LimitName.VERIFY_EMAIL_ACCOUNT, f"name:{name}")
        if not name or len(name) > 254:
            return None
        column = User.email if "@" in name else User.username
        with self._db.transaction() as tx:
            user_id = tx.scalars(select(User.id).where(column == name)).first()
        if user_id is None:
            return None
        try:
            self._hit(LimitName.VERIFY_EMAIL_ACCOUNT, user_id)  # shared with resend_verification
        except RateLimited:
            log.info("verification mail for user %s skipped: per-account limit", user_id)
            return None
        return self._prepare_verification(user_id, origin)

    def verify_email(self, token: str, origin: RequestOrigin) -> str:
        """Consume a verification token: the user's address is verified. Returns the user's id.

        ``email_verified_at`` is set only if the account's email is still the address the token
        was sent to; otherwise (and for any other unusable token) ``Unauthenticated()`` with
        nothing written. Rate-limited per client address (``verify_email:address``).
        """
        checked = self._check_token(token, VERIFY, origin)
        now = utcnow()
        with self._db.transaction() as tx:
            user = self._consume(tx, checked, VERIFY, now)
            user.email_verified_at = now
            self._expire_unused(tx, user.id, VERIFY, now)
            self._activity.record(tx, user.id, "user.email_verified", origin=origin)
        if self._revocations is not None:  # no longer limited as unverified: say so at once
            self._revocations.user_changed(checked.user_id)
        return checked.user_id

    def _prepare_verification(self, user_id: str, origin: RequestOrigin | None) -> _Outgoing | None:
        now = utcnow()
        with self._db.transaction() as tx:
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            if user.disabled_at is not None or not user.email or user.email_verified_at:
                return None
            token = self._issue(tx, user, VERIFY, self._settings.verify_lifetime, now)
            self._activity.record(tx, user.id, "user.email_verification_sent", origin=origin)
            return self._verify_mail(user, token)

    # --- background delivery ----------------------------------------------------------------

    def _deliver_in_background(self, outgoing: _Outgoing, what: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(outgoing, what))
        # The loop keeps only weak references to tasks: hold it until it is done.
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, outgoing: _Outgoing, what: str) -> None:
        try:
            await self._run(self._mailer.send, outgoing.to, outgoing.subject, outgoing.text)
        except (Unavailable, Invalid) as error:
            # Safe to log: Mailer messages name the failure kind and SMTP code, never the body.
            log.warning("%s mail for user %s not delivered: %s", what, outgoing.user_id, error)
        except Exception as error:  # a background task has nobody to raise to
            # Only the type: an unexpected exception's text could quote the message.
            log.warning(
                "%s mail for user %s not delivered: unexpected %s",
                what, outgoing.user_id, type(error).__name__,
            )  # fmt: skip

    async def wait_for_deliveries(self) -> None:
        """Wait for mails still being sent in the background (tests; server shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    # --- token discipline -------------------------------------------------------------------

    def _issue(
        self, tx: Session, user: User, purpose: str, lifetime: timedelta, now: datetime
    ) -> str:
        """A new token for ``user.email``; older unused ones of the same purpose die."""
        self._expire_unused(tx, user.id, purpose, now)
        issued = issue_secret(_KIND_OF_PURPOSE[purpose])
        tx.add(
            OneTimeToken(
                user_id=user.id,
                purpose=purpose,
                email=user.email,
                lookup=issued.lookup,
                secret_hash=issued.secret_hash,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return issued.token

    @staticmethod
    def _expire_unused(tx: Session, user_id: str, purpose: str, now: datetime) -> None:
        tx.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

    def _check_token(self, token: str, purpose: str, origin: RequestOrigin) -> _CheckedToken:
        """Every read-only check of a presented token; ``Unauthenticated()`` on any failure."""
        limit = (
            LimitName.RESET_PASSWORD_ADDRESS if purpose == RESET else LimitName.VERIFY_EMAIL_ADDRESS
        )
        if origin.ip_address:
            self._hit(limit, address_key(origin.ip_address))
        parsed = parse_secret(token)
        if parsed is None or parsed[0] is not _KIND_OF_PURPOSE[purpose]:
            raise Unauthenticated()
        _kind, lookup, secret = parsed
        now = utcnow()
        with self._db.transaction() as tx:
            row = tx.execute(
                select(OneTimeToken, User)
                .join(User, User.id == OneTimeToken.user_id)
                .where(OneTimeToken.lookup == lookup)
            ).first()
            stored_hash = row[0].secret_hash if row is not None else _NO_MATCH_HASH
            if not secret_matches(secret, stored_hash) or row is None:
                raise Unauthenticated()
            stored, user = row
            if (
                stored.purpose != purpose
                or stored.used_at is not None
                or stored.expires_at <= now
                or user.disabled_at is not None
                or not stored.email
                or stored.email != user.email
            ):
                raise Unauthenticated()
            return _CheckedToken(stored.id, user.id, user.username, user.email)

    @staticmethod
    def _consume(tx: Session, checked: _CheckedToken, purpose: str, now: datetime) -> User:
        """Mark the token used, atomically; the user, re-checked inside this transaction."""
        result = tx.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.id == checked.token_id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
        )
        if result.rowcount != 1:  # redeemed (or expired) since the check: a concurrent use
            raise Unauthenticated()
        user = tx.get(User, checked.user_id)
        if user is None or user.disabled_at is not None or user.email != checked.email:
            raise Unauthenticated()  # the transaction rolls back: the token stays unused
        return user

    def _hit(self, name: str, key: str) -> None:
        self._limiter.hit(self._limits[str(name)], key)

    # --- messages ---------------------------------------------------------------------------

    def _reset_mail(self, user: User, token: str) -> _Outgoing:
        product = self._settings.product_name
        minutes = int(self._settings.reset_lifetime.total_seconds() // 60)
        text = (
            f"Hello {user.display_name},\n\n"
            f"Someone (hopefully you) asked to reset the password of your {product} account "
            f'"{user.username}". To choose a new password, open this link within {minutes} '
            f"minutes:\n\n{self._settings.reset_link(token)}\n\n"
            "The link works once. If you did not ask for it, ignore this email: your password "
            "stays as it is.\n"
        )
        assert user.email is not None
        return _Outgoing(user.id, user.email, f"Reset your {product} password", text)

    def _verify_mail(self, user: User, token: str) -> _Outgoing:
        product = self._settings.product_name
        hours = int(self._settings.verify_lifetime.total_seconds() // 3600)
        text = (
            f"Hello {user.display_name},\n\n"
            f"Please confirm that this is the email address of your {product} account "
            f'"{user.username}" by opening this link within {hours} hours:\n\n'
            f"{self._settings.verify_link(token)}\n\n"
            "If you did not create or change an account, ignore this email.\n"
        )
        assert user.email is not None
        return _Outgoing(user.id, user.email, f"Confirm your {product} email address", text)

"""Profile changes that need more than one store write: the email address.

Changing the address of an account with a password needs that password (a stolen session must not
be able to redirect password-reset mail to its own inbox). The new address is unverified until
the link mailed to it is opened; reset and verification links sent to the old address stop
working (they are bound to the address they were sent to), and the old address is told of the
change so its owner notices a takeover.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..auth.passwords import PasswordHasher
from ..auth.rate_limits import (
    AsyncLimits,
    Limit,
    LimitName,
    RateLimited,
    RateLimiter,
    default_limits,
)
from ..errors import AnalyticsError, Invalid, NotFound
from ..schemas.users import UserOut, UserProfileUpdate
from ..store import Database
from ..store.models import User
from .account_recovery import AccountRecovery
from .accounts import valid_email
from .activity import RequestOrigin
from .mail import Mailer
from .revocation import RevocationView
from .users import UserService

_log = logging.getLogger(__name__)


class ProfileService:
    """``PATCH /api/user``: plain fields through ``UserService``, email changes checked first."""

    def __init__(
        self,
        db: Database,
        users: UserService,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        recovery: AccountRecovery,
        mailer: Mailer,
        revocations: RevocationView,
        run: Callable[..., Awaitable[Any]],
        limits: dict[str, Limit] | None = None,
    ) -> None:
        self._db = db
        self._users = users
        self._hasher = hasher
        self._recovery = recovery
        self._mailer = mailer
        self._revocations = revocations
        self._run = run
        self._limits = AsyncLimits(limiter, self._run)
        self._failure_limit = {**default_limits(), **(limits or {})}[
            LimitName.LOGIN_FAILURE_ACCOUNT
        ]

    async def update(
        self, user_id: str, changes: UserProfileUpdate, origin: RequestOrigin
    ) -> UserOut:
        """Apply ``changes`` in one transaction (one activity event), then mail if the address
        changed.

        Raises:
            Invalid: a malformed email, or a missing or wrong ``current_password`` (named).
            Conflict: the address belongs to another account.
            RateLimited: too many wrong passwords for this account (the login lock counts them).
        """
        new_email = None
        if changes.email is not None:
            new_email = valid_email(changes.email)
            await self._check_password(user_id, changes.current_password)
        elif changes.current_password is not None:
            raise Invalid("current_password", "only needed when changing email")
        before, after = await self._run(self._users.update_profile, user_id, changes, new_email)
        if after.email != before.email:
            self._revocations.user_changed(user_id)  # unverified now: the Authorizer must know
            await self._announce(before, after, origin)
        return after

    async def _check_password(self, user_id: str, password: str | None) -> None:
        username, stored = await self._run(self._password_hash, user_id)
        if stored is None:
            return  # the owner: authenticated by the server's token, has no password to ask for
        if password is None:
            raise Invalid("current_password", "required to change the email address")
        # The login lock of the account (keyed by its canonical username, as login keys it).
        await self._limits.check(self._failure_limit, username)
        if not await self._hasher.verify(stored, password):
            with contextlib.suppress(RateLimited):  # a racing attempt locked it: still 422
                await self._limits.hit(self._failure_limit, username)
            raise Invalid("current_password", "incorrect")
        await self._limits.reset(self._failure_limit, username)

    def _password_hash(self, user_id: str) -> tuple[str, str | None]:
        with self._db.transaction() as tx:
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            return user.username, user.password_hash

    async def _announce(self, before: UserOut, after: UserOut, origin: RequestOrigin) -> None:
        """Verification to the new address, a notice to the old one; failures are logged: the
        change itself is committed, and the user can ask for a new link."""
        try:
            await self._run(self._recovery.send_verification, after.id, origin)
        except AnalyticsError as error:
            _log.warning("verification mail for user %s not sent: %s", after.id, error.message)
        if before.email:
            text = (
                f"Hello {after.display_name},\n\n"
                f'The email address of your account "{after.username}" was changed from this '
                "address to another one. If you did not do this, reset your password and tell "
                "your administrator.\n"
            )
            try:
                await self._run(
                    self._mailer.send, before.email, "Your email address was changed", text
                )
            except AnalyticsError as error:
                _log.warning("email-change notice for %s not sent: %s", after.id, error.message)

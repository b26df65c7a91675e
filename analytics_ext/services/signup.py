"""Self-service sign-up on a team server (``allow_signup``).

An account is created unverified, a verification mail goes to its address, and the new user is
logged in at once where unverified accounts may log in at all. Every well-formed attempt counts
against the client address's limit, successful or not, so sign-up cannot probe taken names in
bulk either.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..auth.rate_limits import AsyncLimits, Limit, RateLimited, RateLimiter, address_key
from ..errors import Forbidden, Unavailable
from ..schemas.auth import TokenPair
from ..schemas.users import UserOut
from .account_recovery import AccountRecovery
from .accounts import AccountService, NewAccount
from .activity import RequestOrigin
from .auth import AuthService

_log = logging.getLogger(__name__)
_UNKNOWN_ADDRESS = "unknown"  # clients without an address (a Unix socket) share one bucket


@dataclass(frozen=True)
class Registration:
    user: UserOut
    tokens: TokenPair | None
    """``None`` where unverified accounts may not log in, or the address's login limit is spent."""
    verification_sent: bool


class SignupService:
    def __init__(
        self,
        accounts: AccountService,
        recovery: AccountRecovery,
        auth: AuthService,
        limiter: RateLimiter,
        limit: Limit,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self._accounts = accounts
        self._recovery = recovery
        self._auth = auth
        self._limit = limit
        self._run = run
        self._limits = AsyncLimits(limiter, self._run)

    async def register(
        self,
        username: str,
        password: str,
        email: str,
        display_name: str | None,
        origin: RequestOrigin,
    ) -> Registration:
        """Create an unverified account, mail its verification link, open a first session.

        Raises:
            RateLimited: too many sign-ups from this client address (``register:address``).
            Invalid, Conflict: as ``AccountService.create``.
        """
        await self._limits.hit(self._limit, address_key(origin.ip_address or _UNKNOWN_ADDRESS))
        account = NewAccount(
            username=username,
            password=password,
            display_name=display_name,
            email=email,
            verified=False,
        )
        user = await self._accounts.create(account, origin=origin)
        sent = await self._send_verification(user.id, origin)
        try:
            tokens: TokenPair | None = await self._auth.login(user.username, password, origin)
        except (Forbidden, RateLimited):
            tokens = None
        return Registration(user, tokens, sent)

    async def _send_verification(self, user_id: str, origin: RequestOrigin) -> bool:
        """Whether the mail went out. The account exists either way: failing the request now
        would make the client retry into a 409, so the relay's failure is reported instead."""
        try:
            await self._run(self._recovery.send_verification, user_id, origin)
        except Unavailable as error:
            _log.warning("verification mail for new user %s not sent: %s", user_id, error)
            return False
        return True

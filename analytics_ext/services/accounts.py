"""Creating team-server accounts: the one path used by signup, the admin API and the CLI.

Usernames and emails are stored canonical (NFKC + casefold), so "Ada", fullwidth "ADA" and
"ada" are one account. The password is checked against the policy and hashed (argon2id, in the
hasher's worker process) before any transaction opens, so no row lock waits on hashing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..auth.passwords import PasswordHasher, check_password_policy
from ..errors import Conflict, Invalid
from ..schemas.users import UserOut
from ..store import Database
from ..store.models import User
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin
from .users import canonical_username

USERNAME_PATTERN = re.compile(r"[^\W_][\w.\-]{1,63}")
"""2-64 letters, digits, ``_``, ``.`` or ``-`` (Unicode letters allowed), starting with a letter
or digit: safe in URLs, paths and log lines."""

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


def valid_email(email: str) -> str:
    """The canonical form (NFKC + casefold) of a plausible email address.

    Raises:
        Invalid: naming the ``email`` field. Deliverability is proved by the verification mail,
            not by a pattern, so the pattern only refuses what cannot be an address.
    """
    canonical = canonical_username(email)
    if len(canonical) > 254 or not _EMAIL.fullmatch(canonical):
        raise Invalid("email", "not an email address")
    return canonical


@dataclass(frozen=True)
class NewAccount:
    """What creating an account needs; ``verified``: the email counts as verified (an admin
    vouches for the address, or there is none)."""

    username: str
    password: str
    display_name: str | None = None
    email: str | None = None
    is_admin: bool = False
    notebook_role: bool = False
    verified: bool = True

    def __repr__(self) -> str:  # never the password
        return f"NewAccount(username={self.username!r})"


class AccountService:
    """Creates accounts; ``run`` runs blocking store work off the event loop."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        hasher: PasswordHasher,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self._db = db
        self._activity = activity
        self._hasher = hasher
        self._run = run

    async def create(
        self,
        account: NewAccount,
        *,
        actor_id: str | None = None,
        origin: RequestOrigin | None = None,
        via: str = "signup",
    ) -> UserOut:
        """Create an account after checking every field, then return it.

        ``via`` says how in the ``user.created`` event: ``signup``, ``admin`` or ``cli``.

        Raises:
            Invalid: a malformed username or email, or a password the policy refuses (the
                message names the field).
            Conflict: the username or email belongs to another account.
        """
        username = canonical_username(account.username)
        if not USERNAME_PATTERN.fullmatch(username):
            raise Invalid(
                "username", "2-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        email = valid_email(account.email) if account.email else None
        display_name = (account.display_name or account.username).strip()[:128] or username
        check_password_policy(account.password, username=username, email=email)
        await self._run(self._check_free, username, email)
        password_hash = await self._hasher.hash(account.password)
        return await self._run(
            self._insert,
            account, username, email, display_name, password_hash, actor_id, origin, via,
        )  # fmt: skip

    def _check_free(self, username: str, email: str | None) -> None:
        """Fail before hashing when the name is taken (the insert still decides races)."""
        with self._db.transaction() as tx:
            clash = tx.execute(
                select(User.username, User.email).where(
                    or_(User.username == username, User.email == (email or username))
                )
            ).first()
        if clash is not None:
            raise _conflict(username, email, clash.username)

    def _insert(
        self,
        account: NewAccount,
        username: str,
        email: str | None,
        display_name: str,
        password_hash: str,
        actor_id: str | None,
        origin: RequestOrigin | None,
        via: str,
    ) -> UserOut:
        now = utcnow()
        try:
            with self._db.transaction() as tx:
                user = User(
                    username=username,
                    display_name=display_name,
                    email=email,
                    password_hash=password_hash,
                    password_changed_at=now,
                    email_verified_at=now if (email and account.verified) else None,
                    is_admin=account.is_admin,
                    notebook_role=account.notebook_role,
                    created_at=now,
                    updated_at=now,
                )
                tx.add(user)
                tx.flush()
                self._activity.record(
                    tx,
                    user.id,
                    "user.created",
                    actor_id=actor_id or user.id,
                    origin=origin,
                    details={
                        "by": via,
                        "is_admin": account.is_admin,
                        "notebook_role": account.notebook_role,
                    },
                )
                return UserOut.model_validate(user)
        except IntegrityError:
            raise _conflict(username, email, None) from None


def _conflict(username: str, email: str | None, clashing_username: str | None) -> Conflict:
    """Which field clashes (``None``: a racing insert won, and the store did not say which)."""
    if clashing_username is None:
        return Conflict("username or email: already belongs to another account")
    if clashing_username == username:
        return Conflict(f"username: {username!r} is taken")
    return Conflict(f"email: {email!r} already belongs to another account")

"""Administrators manage accounts: list, create, grant roles, disable, delete, set passwords.

Used by ``/api/admin/users`` and by ``jupyter analytics users``. The HTTP layer lets only
administrators here (``analytics_ext:admin``, and an ``admin``-scoped key); every change also
re-reads the acting account inside its transaction, so an admin demoted or disabled a moment ago
by another process cannot act on a stale view. ``actor_id=None`` is the command line, run by
whoever can open the store.

**Guard rails** (each a ``Conflict``, 409, saying why):

- The owner (the holder of Jupyter's token or password) cannot be disabled, deleted or lose
  admin rights, and only the owner (or the command line) may set the owner's password. The
  owner's display name changes through the owner's own ``PATCH /api/user``, which keeps the
  cached owner identity fresh.
- An administrator cannot disable, delete or demote their own account: another admin must.
- The last enabled administrator (the owner counts) cannot be demoted, disabled or deleted.
  On PostgreSQL the enabled admins' rows are locked while counting, so two admins demoting each
  other at once cannot both succeed.

**Ending access at once.** Disabling sets ``disabled_at``, ends every login session and revokes
every API key of the account in one transaction, then (after the commit) tells the
``RevocationView``: this process refuses the account's access tokens immediately, other processes
within a poll interval (at once with Redis). Keys stay revoked when the account is enabled again:
its owner makes new ones. Changing a role calls ``user_changed`` too, since the Authorizer reads
admin and ``notebook`` flags from memory.

**Deletion policy.** Deleting removes the ``users`` row; the store's foreign keys cascade to the
account's login sessions (and their refresh tokens), API keys, one-time tokens (reset and
verification links), settings document and avatar (migrations 0003-0005, ``ON DELETE CASCADE``;
SQLite enforces them with ``PRAGMA foreign_keys=ON``). Activity events stay, with ``user_id`` and
``actor_id`` set to NULL (``ON DELETE SET NULL``) so the audit trail survives; the deletion itself
is recorded with the account's id as ``target_id`` and its username in ``details``.
Deletion runs in two steps because a deleted row is invisible to other processes' revocation
polls (see ``services.revocation``): first the account is disabled (sessions ended, keys
revoked) and committed; then, once other processes have had ``deletion_settle`` to poll that
state, the row is deleted. An account disabled earlier is deleted at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..auth.passwords import PasswordHasher, check_password_policy
from ..errors import Conflict, Forbidden, NotFound
from ..schemas.admin import (
    AdminUserCreate,
    AdminUserOut,
    AdminUserPage,
    AdminUserQuery,
    AdminUserUpdate,
)
from ..store import Database
from ..store.models import ApiKey, AuthSession, User
from ..store.types import utcnow
from .accounts import AccountService, NewAccount
from .activity import ActivityLog, RequestOrigin
from .ownership import DeletedUserObjects, settle_owned_objects
from .pagination import decode_cursor, encode_cursor
from .revocation import RevocationView
from .sessions import end_all_sessions
from .users import canonical_username

_LAST_LOGIN = (
    select(func.max(AuthSession.created_at))
    .where(AuthSession.user_id == User.id)
    .correlate(User)
    .scalar_subquery()
    .label("last_login_at")
)
"""The start of an account's latest session, computed in the same query as the account."""


@dataclass(frozen=True)
class _PasswordTarget:
    username: str
    email: str | None


class AdminUserService:
    """Account administration; see the module docstring for the rules.

    Sync methods block (call them through ``Services.run``); ``create``, ``delete`` and
    ``set_password`` are coroutines that move their own blocking work off the event loop.

    Args:
        deletion_settle: how long other server processes get to see an account disabled before
            its row is deleted (default: two revocation poll intervals).
    """

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        hasher: PasswordHasher,
        accounts: AccountService,
        revocations: RevocationView,
        *,
        run: Callable[..., Awaitable[Any]] | None = None,
        deletion_settle: timedelta | None = None,
        deleted_objects: DeletedUserObjects = DeletedUserObjects.REASSIGN,
    ) -> None:
        self._deleted_objects = DeletedUserObjects(deleted_objects)
        self._db = db
        self._activity = activity
        self._hasher = hasher
        self._accounts = accounts
        self._revocations = revocations
        self._run = run or asyncio.to_thread
        self._settle = (
            deletion_settle
            if deletion_settle is not None
            else timedelta(seconds=2 * revocations.propagation_seconds)
        )

    # --- reading ------------------------------------------------------------------------------

    def list(self, actor_id: str | None, query: AdminUserQuery) -> AdminUserPage:
        """Accounts newest first, in keyset pages (stable while accounts are added).

        ``actor_id`` must be an enabled admin (None: the command line) — checked here, not
        only by our Authorizer, since under JupyterHub the hub's Authorizer decides routes.
        """
        filters = _filters(query)
        with self._db.transaction() as tx:
            self._check_actor(tx, actor_id)
            total = tx.scalar(select(func.count()).select_from(User).where(*filters))
            page: Select[Any] = select(User, _LAST_LOGIN).where(*filters)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    or_(User.created_at < at, and_(User.created_at == at, User.id < last_id))
                )
            rows = tx.execute(
                page.order_by(User.created_at.desc(), User.id.desc()).limit(query.limit + 1)
            ).all()
        shown = rows[: query.limit]
        cursor = None
        if len(rows) > query.limit:
            last = shown[-1][0]
            cursor = encode_cursor(last.created_at, last.id)
        return AdminUserPage(
            items=[_out(user, last_login) for user, last_login in shown],
            next=cursor,
            total=total or 0,
        )

    def get(self, actor_id: str | None, user_id: str) -> AdminUserOut:
        with self._db.transaction() as tx:
            self._check_actor(tx, actor_id)
            return self._read(tx, user_id)

    def find(self, username: str) -> AdminUserOut:
        """The account with this username, in any spelling that canonicalises to it."""
        with self._db.transaction() as tx:
            user_id = tx.scalar(
                select(User.id).where(User.username == canonical_username(username))
            )
            if user_id is None:
                raise NotFound(f"no account is named {username!r}")
            return self._read(tx, user_id)

    # --- creating -----------------------------------------------------------------------------

    async def create(
        self, actor_id: str | None, body: AdminUserCreate, origin: RequestOrigin | None = None
    ) -> AdminUserOut:
        """A new account through ``AccountService.create`` (canonical names, password policy);
        the email address counts as verified, since an administrator vouches for it."""
        account = NewAccount(
            username=body.username,
            password=body.password,
            email=body.email,
            display_name=body.display_name,
            is_admin=body.is_admin,
            notebook_role=body.notebook_role,
        )
        created = await self._accounts.create(
            account, actor_id=actor_id, origin=origin, via="admin" if actor_id else "cli"
        )
        return await self._run(self.get, actor_id, created.id)

    # --- changing -----------------------------------------------------------------------------

    def update(
        self,
        actor_id: str | None,
        user_id: str,
        changes: AdminUserUpdate,
        origin: RequestOrigin | None = None,
    ) -> AdminUserOut:
        """Apply the fields that were sent: roles, display name, disabled or enabled."""
        wanted = changes.model_dump(exclude_unset=True)
        now = utcnow()
        ended: list[str] = []
        with self._db.transaction() as tx:
            removing = wanted.get("is_admin") is False or wanted.get("disabled") is True
            user = _locked(tx, user_id, admins=removing)
            self._check_actor(tx, actor_id)
            demote = user.is_admin and wanted.get("is_admin") is False
            disable = user.disabled_at is None and wanted.get("disabled") is True
            if user.is_owner and wanted.get("is_admin") is False:
                raise Conflict("the owner of the server cannot lose admin rights")
            if user.is_owner and wanted.get("display_name", user.display_name) != user.display_name:
                # The owner's identity is cached by UserService, which only its own profile
                # route refreshes: a rename here would not show until the server restarts.
                raise Conflict("the owner changes their own display name (PATCH /api/user)")
            if demote:
                self._check_removal(tx, actor_id, user, "remove your own admin rights")
            if disable:
                self._check_removal(tx, actor_id, user, "disable your own account")
            events = self._apply(tx, user, wanted, now)
            if disable:
                ended, keys = _end_access(tx, user_id, "disabled", now)
                ended_counts = {"sessions_ended": len(ended), "api_keys_revoked": keys}
                events.append(("admin.user_disabled", ended_counts))
            for event, details in events:
                self._record(tx, actor_id, user_id, event, origin, details)
            tx.flush()
            updated = self._read(tx, user_id)
        if ended:
            self._revocations.sessions_revoked(ended)
        if events:
            self._revocations.user_changed(user_id)
        return updated

    @staticmethod
    def _apply(
        tx: Session, user: User, wanted: dict[str, Any], now: datetime
    ) -> list[tuple[str, dict[str, Any]]]:
        """Set the changed fields on ``user``; the events to record (disabling: by the caller)."""
        events: list[tuple[str, dict[str, Any]]] = []
        if "is_admin" in wanted and wanted["is_admin"] != user.is_admin:
            user.is_admin = wanted["is_admin"]
            events.append(("admin.admin_granted" if user.is_admin else "admin.admin_revoked", {}))
        if "notebook_role" in wanted and wanted["notebook_role"] != user.notebook_role:
            user.notebook_role = wanted["notebook_role"]
            granted = user.notebook_role
            events.append(
                ("admin.notebook_role_granted" if granted else "admin.notebook_role_revoked", {})
            )
        if "display_name" in wanted and wanted["display_name"] != user.display_name:
            user.display_name = wanted["display_name"]
            events.append(("admin.user_updated", {"fields": ["display_name"]}))
        if wanted.get("disabled") is True and user.disabled_at is None:
            user.disabled_at = now
        elif wanted.get("disabled") is False and user.disabled_at is not None:
            user.disabled_at = None
            events.append(("admin.user_enabled", {}))
        return events

    async def set_password(
        self,
        actor_id: str | None,
        user_id: str,
        password: str,
        origin: RequestOrigin | None = None,
    ) -> None:
        """Set an account's password without the old one, ending all its sessions.

        The policy is checked and the hash computed (in the hasher's worker) before the
        transaction opens, so no row lock waits on argon2.
        """
        target = await self._run(self._password_target, actor_id, user_id)
        check_password_policy(password, username=target.username, email=target.email)
        new_hash = await self._hasher.hash(password)
        await self._run(self._store_password, actor_id, user_id, new_hash, origin)

    def _password_target(self, actor_id: str | None, user_id: str) -> _PasswordTarget:
        with self._db.transaction() as tx:
            self._check_actor(tx, actor_id)
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            _check_owner_password(user, actor_id)
            return _PasswordTarget(user.username, user.email)

    def _store_password(
        self, actor_id: str | None, user_id: str, new_hash: str, origin: RequestOrigin | None
    ) -> None:
        now = utcnow()
        with self._db.transaction() as tx:
            user = _locked(tx, user_id)
            self._check_actor(tx, actor_id)
            _check_owner_password(user, actor_id)
            user.password_hash = new_hash
            user.password_changed_at = now
            ended = end_all_sessions(tx, user_id, "password_set", now=now)
            self._record(
                tx, actor_id, user_id, "admin.user_password_set", origin,
                {"sessions_ended": len(ended)},
            )  # fmt: skip
        self._revocations.sessions_revoked(ended)
        self._revocations.user_changed(user_id)

    # --- deleting -----------------------------------------------------------------------------

    async def delete(
        self, actor_id: str | None, user_id: str, origin: RequestOrigin | None = None
    ) -> None:
        """Delete an account (module docstring: deletion policy): disable, let other processes
        see it, then delete the row."""
        disabled_at = await self._run(self._disable_for_deletion, actor_id, user_id, origin)
        wait = (disabled_at + self._settle - utcnow()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._run(self._delete_disabled, actor_id, user_id, origin)

    def _disable_for_deletion(
        self, actor_id: str | None, user_id: str, origin: RequestOrigin | None
    ) -> datetime:
        now = utcnow()
        with self._db.transaction() as tx:
            user = _locked(tx, user_id, admins=True)
            self._check_actor(tx, actor_id)
            self._check_deletion(tx, actor_id, user)
            if user.disabled_at is not None:
                return user.disabled_at
            user.disabled_at = now
            ended, keys = _end_access(tx, user_id, "deleted", now)
            self._record(
                tx, actor_id, user_id, "admin.user_disabled", origin,
                {"sessions_ended": len(ended), "api_keys_revoked": keys, "for": "deletion"},
            )  # fmt: skip
        self._revocations.sessions_revoked(ended)
        self._revocations.user_changed(user_id)
        return now

    def _delete_disabled(
        self, actor_id: str | None, user_id: str, origin: RequestOrigin | None
    ) -> None:
        with self._db.transaction() as tx:
            user = _locked(tx, user_id)
            self._check_actor(tx, actor_id)
            self._check_deletion(tx, actor_id, user)
            if user.disabled_at is None:
                raise Conflict("the account was enabled again while being deleted; try again")
            heir = actor_id or tx.scalars(select(User.id).where(User.is_owner)).first()
            handled = settle_owned_objects(tx, user_id, user.username, heir, self._deleted_objects)
            # Recorded on the account, then kept with user_id NULL by the foreign key.
            details: dict[str, Any] = {"username": user.username}
            if handled:
                details["objects"] = {"policy": self._deleted_objects.value, **handled}
            self._record(tx, actor_id, user_id, "admin.user_deleted", origin, details)
            tx.flush()
            tx.delete(user)
        self._revocations.user_changed(user_id)  # caches "missing" here, tells the others

    def _check_deletion(self, tx: Session, actor_id: str | None, user: User) -> None:
        if user.is_owner:
            raise Conflict("the owner of the server cannot be deleted")
        self._check_removal(tx, actor_id, user, "delete your own account")

    # --- rules and helpers --------------------------------------------------------------------

    @staticmethod
    def _check_actor(tx: Session, actor_id: str | None) -> None:
        """The acting account must still be an enabled admin (None: the command line).

        Called after the rows are locked, so it sees a demotion that committed while waiting.
        """
        if actor_id is None:
            return
        actor = tx.get(User, actor_id)
        if actor is None or actor.disabled_at is not None or not (actor.is_admin or actor.is_owner):
            raise Forbidden("only administrators may manage accounts")

    @staticmethod
    def _check_removal(tx: Session, actor_id: str | None, user: User, what: str) -> None:
        """Refuse taking admin access away from the owner, oneself, or the last enabled admin."""
        if user.is_owner:
            raise Conflict(f"the owner of the server cannot be {_PAST[what]}")
        if user.id == actor_id:
            raise Conflict(f"you cannot {what}; ask another administrator")
        if user.disabled_at is not None or not user.is_admin:
            return  # not an enabled admin now: the count of enabled admins does not change
        others = tx.scalar(
            select(func.count()).select_from(User).where(_ENABLED_ADMIN, User.id != user.id)
        )
        if not others:
            raise Conflict(
                f"{user.username!r} is the last enabled administrator; make another account "
                "an administrator first"
            )

    def _record(
        self,
        tx: Session,
        actor_id: str | None,
        user_id: str,
        event: str,
        origin: RequestOrigin | None,
        details: dict[str, Any],
    ) -> None:
        self._activity.record(
            tx, user_id, event, actor_id=actor_id, target=("user", user_id), origin=origin,
            details={**details, "by": "admin" if actor_id else "command line"},
        )  # fmt: skip

    @staticmethod
    def _read(tx: Session, user_id: str) -> AdminUserOut:
        row = tx.execute(select(User, _LAST_LOGIN).where(User.id == user_id)).first()
        if row is None:
            raise NotFound("user not found")
        return _out(row[0], row[1])


_PAST = {
    "remove your own admin rights": "removed from the administrators",
    "disable your own account": "disabled",
    "delete your own account": "deleted",
}


_ENABLED_ADMIN = and_(
    or_(User.is_admin.is_(True), User.is_owner.is_(True)), User.disabled_at.is_(None)
)


def _locked(tx: Session, user_id: str, *, admins: bool = False) -> User:
    """The account, locked for this transaction (PostgreSQL), or ``NotFound``.

    ``admins``: also lock every enabled admin, in id order (the same order in every
    transaction, so two admins demoting each other wait instead of deadlocking), before the
    last-admin rule counts them.
    """
    wanted = or_(User.id == user_id, _ENABLED_ADMIN) if admins else User.id == user_id
    rows = tx.scalars(select(User).where(wanted).order_by(User.id).with_for_update()).all()
    user = next((row for row in rows if row.id == user_id), None)
    if user is None:
        raise NotFound("user not found")
    return user


def _check_owner_password(user: User, actor_id: str | None) -> None:
    if user.is_owner and actor_id is not None and actor_id != user.id:
        raise Conflict("only the owner of the server may set the owner's password")


def _end_access(tx: Session, user_id: str, reason: str, now: datetime) -> tuple[list[str], int]:
    """End every session and revoke every live API key; (ended session ids, keys revoked)."""
    ended = end_all_sessions(tx, user_id, reason, now=now)
    revoked = tx.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return ended, revoked.rowcount or 0


def _filters(query: AdminUserQuery) -> list[Any]:
    filters: list[Any] = []
    if query.q:
        needle = canonical_username(query.q)
        filters.append(
            or_(
                User.username.contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True),
                func.lower(User.display_name).contains(query.q.lower(), autoescape=True),
            )
        )
    if query.disabled is not None:
        disabled = User.disabled_at.is_not(None)
        filters.append(disabled if query.disabled else ~disabled)
    if query.is_admin is not None:
        admin = or_(User.is_admin.is_(True), User.is_owner.is_(True))
        filters.append(admin if query.is_admin else ~admin)
    return filters


def _out(user: User, last_login_at: datetime | None) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        email_verified=user.email is not None and user.email_verified_at is not None,
        is_admin=bool(user.is_admin or user.is_owner),
        is_owner=user.is_owner,
        notebook_role=user.notebook_role,
        disabled=user.disabled_at is not None,
        disabled_at=user.disabled_at,
        created_at=user.created_at,
        last_login_at=last_login_at,
    )

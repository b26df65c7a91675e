"""Users: the local owner account and profile changes."""

from __future__ import annotations

import threading
import unicodedata

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, NotFound
from ..schemas.users import UserMatch, UserOut, UserProfileUpdate
from ..store import Database
from ..store.models import User
from .activity import ActivityLog
from .sharing import is_link_actor


def canonical_username(name: str) -> str:
    """NFKC + casefold, so look-alike spellings of one name map to one account."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


class UserService:
    def __init__(self, db: Database, activity: ActivityLog) -> None:
        self._db = db
        self._activity = activity
        self._lock = threading.Lock()
        self._owner: UserOut | None = None
        self._external: dict[str, UserOut] = {}

    def ensure_owner(self, username: str, display_name: str) -> UserOut:
        """The owner account (the Jupyter token holder), created on first use, then cached.

        Identity look-ups run on every request, so after the first one this answers from memory;
        every change to the owner goes through this service and refreshes the cache.
        """
        owner = self._owner
        if owner is not None:
            return owner
        with self._lock:
            if self._owner is None:
                self._owner = self._load_or_create_owner(canonical_username(username), display_name)
            return self._owner

    def ensure_external(self, username: str, display_name: str, is_admin: bool) -> UserOut:
        """The account of a user another IdentityProvider authenticated (JupyterHub), created
        on first sight and cached; the admin flag follows the provider's on every change.

        Such accounts have no password: they log in only through that provider.
        """
        name = canonical_username(username)
        cached = self._external.get(name)
        if cached is not None and cached.is_admin == is_admin:
            return cached
        display_name = (display_name or username).strip()[:128] or name
        for _attempt in range(2):  # a racing process may insert the same name first
            try:
                with self._db.transaction() as tx:
                    user = tx.scalars(select(User).where(User.username == name)).first()
                    if user is None:
                        user = User(username=name, display_name=display_name, is_admin=is_admin)
                        tx.add(user)
                        tx.flush()
                        self._activity.record(
                            tx, user.id, "user.created", details={"by": "identity_provider"}
                        )
                    elif user.is_admin != is_admin and not user.is_owner:
                        user.is_admin = is_admin
                        self._activity.record(
                            tx, user.id, "user.role_changed",
                            details={"is_admin": is_admin, "by": "identity_provider"},
                        )  # fmt: skip
                    tx.flush()
                    account = UserOut.model_validate(user)
                break
            except IntegrityError:
                continue
        else:
            raise Conflict(f"username: could not create an account for {name!r}")
        self._external[name] = account
        return account

    def cached_owner(self) -> UserOut | None:
        """The owner if already loaded: lets the event loop skip a thread hop per request."""
        return self._owner

    def _load_or_create_owner(self, username: str, display_name: str) -> UserOut:
        with self._db.transaction() as tx:
            owner = tx.scalars(select(User).where(User.is_owner.is_(True))).first()
            if owner is not None:
                return UserOut.model_validate(owner)
        try:
            with self._db.transaction() as tx:
                owner = User(
                    username=username, display_name=display_name, is_admin=True, is_owner=True
                )
                tx.add(owner)
                tx.flush()
                return UserOut.model_validate(owner)
        except IntegrityError:
            # Another server process sharing the store created it first: use theirs.
            with self._db.transaction() as tx:
                owner = tx.scalars(select(User).where(User.is_owner.is_(True))).one()
                return UserOut.model_validate(owner)

    def get(self, user_id: str) -> UserOut:
        with self._db.transaction() as tx:
            user = tx.get(User, user_id)
            if user is None:
                raise NotFound("user not found")
            return UserOut.model_validate(user)

    def search(self, actor_id: str, prefix: str, limit: int) -> list[UserMatch]:
        """Accounts whose username or display name begins with ``prefix`` (case-insensitive),
        by username, at most ``limit``: whom ``actor_id`` may share an object with.

        Disabled accounts (and those being deleted) are left out, since a grant cannot name
        them, and so is the caller, who cannot share with themselves. ``%`` and ``_`` in the
        prefix match only themselves. Only an account may search: a share link or a kernel
        token is not a person and learns nothing about who else is here.
        """
        if is_link_actor(actor_id):
            raise NotFound("not found")
        username = canonical_username(prefix)
        with self._db.transaction() as tx:
            rows = tx.scalars(
                select(User)
                .where(
                    User.disabled_at.is_(None),
                    User.id != actor_id,
                    or_(
                        User.username.startswith(username, autoescape=True),
                        User.display_name.istartswith(prefix, autoescape=True),
                    ),
                )
                .order_by(User.username)
                .limit(limit)
            ).all()
            return [UserMatch.model_validate(user) for user in rows]

    def update_profile(
        self, user_id: str, changes: UserProfileUpdate, email: str | None = None
    ) -> tuple[UserOut, UserOut]:
        """Apply profile ``changes`` (``email``: the checked, canonical new address) in one
        transaction with one event; returns the user before and after.

        Raises:
            Conflict: the email address belongs to another account.
        """
        try:
            with self._db.transaction() as tx:
                user = tx.get(User, user_id)
                if user is None:
                    raise NotFound("user not found")
                before = UserOut.model_validate(user)
                wanted = changes.model_dump(
                    exclude_unset=True, exclude={"email", "current_password"}
                )
                if email is not None:
                    wanted["email"] = email
                changed = {
                    field: value
                    for field, value in wanted.items()
                    if value is not None and getattr(user, field) != value
                }
                for field, value in changed.items():
                    setattr(user, field, value)
                if "email" in changed:
                    user.email_verified_at = None  # proved again by the link sent to it
                if changed:
                    self._activity.record(
                        tx, user.id, "user.profile_updated", target=("user", user.id),
                        details={"fields": sorted(changed)},
                    )  # fmt: skip
                tx.flush()
                updated = UserOut.model_validate(user)
        except IntegrityError:
            raise Conflict("email: already belongs to another account") from None
        if updated.is_owner:
            self._owner = updated
        return before, updated

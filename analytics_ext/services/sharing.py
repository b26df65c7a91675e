"""The one sharing service: who may do what to a shareable object, and the grants that say so.

One policy answers every "may user U act at level L on object O": the object's owner and
administrators hold every level; anyone else holds the highest level granted to them (grants
go to principals: users and share links now, teams later). An object the caller cannot even
view answers ``NotFound`` — indistinguishable from one that does not exist — and one they can
view but not act on answers ``Forbidden``.

A share link is a grant whose principal is a secret token. Whoever presents it acts as the
actor ``link:<grant id>`` (``link_actor``), which this policy answers for exactly one object at
``view`` and nothing else: any other object, or any higher level on that one, is ``NotFound``,
so a link reveals nothing beyond what it shares. Each check reads the grant again, so revoking
(deleting) it or passing ``expires_at`` ends the link at once.

Each kind of object registers a ``SharedKind`` (its model and ordered levels), so the Query
library and dashboards reuse this service instead of growing their own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import ColumnElement, delete, false, or_, select, true
from sqlalchemy.orm import Session

from ..auth.secret_tokens import SecretKind, issue_secret, parse_secret, secret_matches
from ..errors import Forbidden, Invalid, NotFound, Unauthenticated
from ..schemas.sharing import GrantCreate, GrantOut
from ..store import Database
from ..store.models import ObjectGrant, User
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin

PRINCIPAL_USER = "user"
PRINCIPAL_LINK = "link"
PRINCIPAL_KERNEL = "kernel"
"""A dashboard kernel's token: a share link the Voila process issues to each kernel it starts
for a dashboard (``issue_kernel_link``), unlisted, and revoked when the kernel ends."""
LINK_PRINCIPALS: Final = (PRINCIPAL_LINK, PRINCIPAL_KERNEL)
LINK_LEVEL: Final = "view"
LINK_ACTOR_PREFIX: Final = "link:"
DEFAULT_LINK_LIFETIME: Final = timedelta(days=7)
MAX_LINK_LIFETIME: Final = timedelta(days=366)


def link_actor(grant_id: str) -> str:
    """The actor id services see for a request carrying the share link of ``grant_id``."""
    return f"{LINK_ACTOR_PREFIX}{grant_id}"


def is_link_actor(actor_id: str) -> bool:
    """Whether ``actor_id`` is a share link rather than an account (user ids hold no colon)."""
    return actor_id.startswith(LINK_ACTOR_PREFIX)


@dataclass(frozen=True)
class LinkPrincipal:
    """A valid share link: who it speaks as, and the one object it opens."""

    actor_id: str
    grant_id: str
    object_type: str
    object_id: str
    expires_at: datetime | None


class Shareable(Protocol):
    id: Any
    owner_id: Any


@dataclass(frozen=True)
class SharedKind:
    """A kind of object that can be shared: ``levels`` go from least to most (view < ... )."""

    name: str
    """Stored in grants and activity events: ``datasource``."""
    model: Any
    """The ORM model; it has ``id`` and ``owner_id`` columns."""
    levels: tuple[str, ...]
    linkable: bool = False
    """Whether objects of this kind may be shared by link (view only)."""

    def rank(self, level: str) -> int:
        try:
            return self.levels.index(level) + 1
        except ValueError:
            raise Invalid("level", f"must be one of: {', '.join(self.levels)}") from None

    @property
    def top(self) -> str:
        return self.levels[-1]


@dataclass(frozen=True)
class Access:
    """An object the caller may see, and the highest level they hold on it."""

    obj: Any
    level: str


class SharingService:
    """The access policy and the grants behind it. Blocking: call through ``Services.run``."""

    def __init__(self, db: Database, activity: ActivityLog) -> None:
        self._db = db
        self._activity = activity
        self._kinds: dict[str, SharedKind] = {}

    def register(self, kind: SharedKind) -> SharedKind:
        self._kinds[kind.name] = kind
        return kind

    def kind(self, name: str) -> SharedKind:
        """The registered kind ``name``; an unknown kind has no objects, so ``NotFound``."""
        kind = self._kinds.get(name)
        if kind is None:
            raise NotFound(f"{name} not found")
        return kind

    # -- the policy ---------------------------------------------------------------------------

    def level_of(self, tx: Session, user: User, kind: SharedKind, obj: Shareable) -> str | None:
        """The highest level ``user`` holds on ``obj``; None if they may not even see it."""
        if user.is_admin or (obj.owner_id is not None and obj.owner_id == user.id):
            return kind.top
        levels = tx.scalars(
            select(ObjectGrant.level).where(
                ObjectGrant.object_type == kind.name,
                ObjectGrant.object_id == obj.id,
                *_principal_filter(user),
            )
        ).all()
        ranks = [kind.rank(level) for level in levels if level in kind.levels]
        return kind.levels[max(ranks) - 1] if ranks else None

    def require(
        self, tx: Session, user_id: str, kind_name: str, object_id: str, level: str
    ) -> Access:
        """The object, if ``user_id`` holds ``level`` on it: ``NotFound`` when they cannot see
        it (or it does not exist), ``Forbidden`` when they can see it but hold less."""
        kind = self.kind(kind_name)
        needed = kind.rank(level)
        if is_link_actor(user_id):
            return self._link_access(tx, user_id, kind, object_id, needed)
        user = _active_user(tx, user_id)
        obj = tx.get(kind.model, object_id) if user is not None else None
        held = self.level_of(tx, user, obj=obj, kind=kind) if obj is not None else None
        if held is None:
            raise NotFound(f"{kind.name} not found")
        if kind.rank(held) < needed:
            raise Forbidden(f"you need the {level!r} permission on this {kind.name}")
        return Access(obj, held)

    def visible(self, tx: Session, user_id: str, kind_name: str) -> ColumnElement[bool]:
        """A WHERE clause on the kind's model: the objects ``user_id`` may at least view."""
        kind = self.kind(kind_name)
        if is_link_actor(user_id):
            link = _live_link(tx, user_id)
            if link is None or link.object_type != kind.name:
                return false()
            return kind.model.id == link.object_id
        user = _active_user(tx, user_id)
        if user is None:
            return false()
        if user.is_admin:
            return true()
        granted = select(ObjectGrant.object_id).where(
            ObjectGrant.object_type == kind.name, *_principal_filter(user)
        )
        return or_(kind.model.owner_id == user.id, kind.model.id.in_(granted))

    def _link_access(
        self, tx: Session, actor_id: str, kind: SharedKind, object_id: str, needed: int
    ) -> Access:
        link = _live_link(tx, actor_id)
        if (
            link is None
            or link.object_type != kind.name
            or link.object_id != object_id
            or needed > kind.rank(LINK_LEVEL)
        ):
            raise NotFound(f"{kind.name} not found")
        obj = tx.get(kind.model, object_id)
        if obj is None:
            raise NotFound(f"{kind.name} not found")
        return Access(obj, LINK_LEVEL)

    def authenticate_link(self, token: str) -> LinkPrincipal:
        """The share link ``token`` stands for: ``Unauthenticated`` if it is malformed, unknown,
        revoked or expired (one message for all, as for every credential)."""
        parsed = parse_secret(token)
        if parsed is None or parsed[0] is not SecretKind.SHARE_LINK:
            raise Unauthenticated()
        _, lookup, secret = parsed
        with self._db.transaction() as tx:
            grant = tx.scalars(
                select(ObjectGrant).where(
                    ObjectGrant.principal_type.in_(LINK_PRINCIPALS),
                    ObjectGrant.principal_id == lookup,
                )
            ).first()
            if (
                grant is None
                or not secret_matches(secret, grant.secret_hash or "")
                or _expired(grant)
                or grant.object_type not in self._kinds
                or not self._kinds[grant.object_type].linkable
            ):
                raise Unauthenticated()
            return LinkPrincipal(
                actor_id=link_actor(grant.id),
                grant_id=grant.id,
                object_type=grant.object_type,
                object_id=grant.object_id,
                expires_at=grant.expires_at,
            )

    # -- grants -------------------------------------------------------------------------------

    def grant(
        self, actor_id: str, kind_name: str, body: GrantCreate, origin: RequestOrigin
    ) -> tuple[GrantOut, bool]:
        """Give a principal a level on an object (needs the top level); an existing grant to
        the same principal changes level. Returns the grant and whether it is new."""
        kind = self.kind(kind_name)
        kind.rank(body.level)
        if body.principal_type == PRINCIPAL_LINK:
            return self._create_link(actor_id, kind, body, origin), True
        assert body.principal_id is not None  # GrantCreate requires it for users
        with self._db.transaction() as tx:
            access = self.require(tx, actor_id, kind.name, body.object_id, kind.top)
            principal = _active_user(tx, body.principal_id)
            if principal is None:
                raise NotFound("user not found")
            if principal.id == access.obj.owner_id:
                raise Invalid("principal_id", "the owner already holds every permission")
            grant = tx.scalars(
                select(ObjectGrant).where(
                    ObjectGrant.object_type == kind.name,
                    ObjectGrant.object_id == body.object_id,
                    ObjectGrant.principal_type == PRINCIPAL_USER,
                    ObjectGrant.principal_id == principal.id,
                )
            ).first()
            created = grant is None
            if grant is None:
                grant = ObjectGrant(
                    object_type=kind.name,
                    object_id=body.object_id,
                    principal_type=PRINCIPAL_USER,
                    principal_id=principal.id,
                )
                tx.add(grant)
            grant.level = body.level
            grant.granted_by = actor_id
            tx.flush()
            self._activity.record(
                tx, actor_id, f"{kind.name}.shared", target=(kind.name, body.object_id),
                origin=origin, details={"principal_type": PRINCIPAL_USER,
                                        "principal_id": principal.id, "level": body.level},
            )  # fmt: skip
            return _grant_out(grant, principal), created

    def _create_link(
        self, actor_id: str, kind: SharedKind, body: GrantCreate, origin: RequestOrigin
    ) -> GrantOut:
        if not kind.linkable:
            raise Invalid("principal_type", f"a {kind.name} cannot be shared by link")
        if body.level != LINK_LEVEL:
            raise Invalid("level", "a share link grants view only")
        now = utcnow()
        expires_at = body.expires_at or now + DEFAULT_LINK_LIFETIME
        if expires_at <= now:
            raise Invalid("expires_at", "must be in the future")
        if expires_at > now + MAX_LINK_LIFETIME:
            raise Invalid("expires_at", f"must be within {MAX_LINK_LIFETIME.days} days")
        issued = issue_secret(SecretKind.SHARE_LINK)
        with self._db.transaction() as tx:
            self.require(tx, actor_id, kind.name, body.object_id, kind.top)
            grant = ObjectGrant(
                object_type=kind.name,
                object_id=body.object_id,
                principal_type=PRINCIPAL_LINK,
                principal_id=issued.lookup,
                level=LINK_LEVEL,
                granted_by=actor_id,
                secret_hash=issued.secret_hash,
                expires_at=expires_at,
            )
            tx.add(grant)
            tx.flush()
            self._activity.record(
                tx, actor_id, f"{kind.name}.shared", target=(kind.name, body.object_id),
                origin=origin, details={"principal_type": PRINCIPAL_LINK, "grant_id": grant.id,
                                        "level": LINK_LEVEL,
                                        "expires_at": expires_at.isoformat()},
            )  # fmt: skip
            return _grant_out(grant, None).model_copy(update={"token": issued.token})

    def issue_kernel_link(
        self, kind_name: str, object_id: str, issuer: str, lifetime: timedelta
    ) -> str:
        """A view-only token for one object, for a kernel that renders it (a dashboard's Voila
        kernel): the trusted caller has checked nothing about a user, because the kernel acts
        for the object's viewers, who only ever see what the object shows. ``issuer`` names
        the kernel (``revoke_issued`` ends its tokens). ``NotFound`` for an unknown object."""
        kind = self.kind(kind_name)
        if not kind.linkable:
            raise Invalid("object_type", f"a {kind.name} cannot be opened by a kernel token")
        issued = issue_secret(SecretKind.SHARE_LINK)
        with self._db.transaction() as tx:
            if tx.get(kind.model, object_id) is None:
                raise NotFound(f"{kind.name} not found")
            tx.add(
                ObjectGrant(
                    object_type=kind.name,
                    object_id=object_id,
                    principal_type=PRINCIPAL_KERNEL,
                    principal_id=issued.lookup,
                    level=LINK_LEVEL,
                    secret_hash=issued.secret_hash,
                    expires_at=utcnow() + lifetime,
                    issuer=issuer,
                )
            )
        return issued.token

    def revoke_issued(self, issuer: str, *, prefix: bool = False) -> int:
        """End the kernel tokens of ``issuer`` (or of every issuer starting with it: a whole
        Voila process); how many there were."""
        condition = (
            ObjectGrant.issuer.startswith(issuer, autoescape=True)
            if prefix
            else ObjectGrant.issuer == issuer
        )
        with self._db.transaction() as tx:
            result = tx.execute(
                delete(ObjectGrant).where(ObjectGrant.principal_type == PRINCIPAL_KERNEL, condition)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def list_grants(self, actor_id: str, kind_name: str, object_id: str) -> list[GrantOut]:
        """Who holds what on an object, oldest grant first (needs the top level); kernel
        tokens are the server's own and are not listed."""
        kind = self.kind(kind_name)
        with self._db.transaction() as tx:
            self.require(tx, actor_id, kind.name, object_id, kind.top)
            rows = tx.execute(
                select(ObjectGrant, User)
                .join(User, User.id == ObjectGrant.principal_id, isouter=True)
                .where(
                    ObjectGrant.object_type == kind.name,
                    ObjectGrant.object_id == object_id,
                    ObjectGrant.principal_type != PRINCIPAL_KERNEL,
                )
                .order_by(ObjectGrant.created_at, ObjectGrant.id)
            ).all()
            return [_grant_out(grant, user) for grant, user in rows]

    def revoke(
        self, actor_id: str, kind_names: str | tuple[str, ...], grant_id: str, origin: RequestOrigin
    ) -> None:
        """Remove a grant on an object of one of ``kind_names`` (needs the top level on the
        object); unknown grants answer NotFound. Deleting a link grant ends the link."""
        names = (kind_names,) if isinstance(kind_names, str) else kind_names
        with self._db.transaction() as tx:
            grant = tx.get(ObjectGrant, grant_id)
            if grant is None or grant.object_type not in names:
                raise NotFound("grant not found")
            kind = self.kind(grant.object_type)
            try:
                self.require(tx, actor_id, kind.name, grant.object_id, kind.top)
            except NotFound:
                raise NotFound("grant not found") from None
            tx.delete(grant)
            self._activity.record(
                tx, actor_id, f"{kind.name}.unshared", target=(kind.name, grant.object_id),
                origin=origin, details={"principal_type": grant.principal_type,
                                        "principal_id": grant.principal_id, "level": grant.level},
            )  # fmt: skip

    def remove_all(self, tx: Session, kind_name: str, object_id: str) -> None:
        """Drop every grant on an object being deleted, in the caller's transaction."""
        tx.execute(
            delete(ObjectGrant).where(
                ObjectGrant.object_type == kind_name, ObjectGrant.object_id == object_id
            )
        )


def _active_user(tx: Session, user_id: str) -> User | None:
    user = tx.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None


def _expired(grant: ObjectGrant) -> bool:
    return grant.expires_at is not None and grant.expires_at <= utcnow()


def _live_link(tx: Session, actor_id: str) -> ObjectGrant | None:
    """The link grant behind a link actor, if it still exists and has not expired."""
    grant = tx.get(ObjectGrant, actor_id.removeprefix(LINK_ACTOR_PREFIX))
    if grant is None or grant.principal_type not in LINK_PRINCIPALS or _expired(grant):
        return None
    return grant


def _principal_filter(user: User) -> list[ColumnElement[bool]]:
    """Grants that apply to ``user``: their own now; their teams' when teams exist."""
    return [ObjectGrant.principal_type == PRINCIPAL_USER, ObjectGrant.principal_id == user.id]


def _grant_out(grant: ObjectGrant, user: User | None) -> GrantOut:
    return GrantOut(
        id=grant.id,
        object_type=grant.object_type,
        object_id=grant.object_id,
        principal_type=grant.principal_type,
        principal_id=grant.principal_id,
        principal_name=user.username if user is not None else None,
        level=grant.level,
        granted_by=grant.granted_by,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
    )

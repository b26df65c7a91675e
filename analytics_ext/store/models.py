"""Typed SQLAlchemy models of the store. Every change here ships with an Alembic revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import ID_LENGTH, UTCDateTime, new_id, utcnow

# Deterministic constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    """An analytics user. In local mode there is one: the owner, who holds the Jupyter token."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    # Canonical form (NFKC + casefold) so "Ada" and "ada" cannot both exist.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # IANA zone and BCP 47 tag: how times and numbers are shown to this user.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(35), default="en-US")
    # The holder of the Jupyter server token/password: first admin in every mode.
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    # Team server: may use kernels, contents and terminals (admins always may).
    notebook_role: Mapped[bool] = mapped_column(Boolean, default=False)
    # argon2id; None for accounts that cannot log in with a password (the local owner).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Sessions that began before this instant are no longer valid (password change or reset).
    password_changed_at: Mapped[datetime | None]
    email_verified_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ActivityEvent(Base):
    """One thing that happened, recorded in the same transaction as the change it describes.

    ``user_id`` is whose activity feed the event belongs to; ``actor_id`` who did it (an admin
    acting on a user differs). Both survive the user's deletion as NULL so the audit trail stays.
    ``details`` never holds a secret: callers pass names, ids and counts only.
    """

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    type: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(Base):
    """One login: every access token carries its id, so revoking the session revokes them all."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    # Set once; indexed so other server processes can poll for revocations since a moment.
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """A refresh token of a session, stored as a hash. Each use rotates it: the old row is
    marked used and a new one issued; presenting a used one again revokes the whole session
    (its token family)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiKey(Base):
    """A long-lived credential for scripts, with scopes; the secret is shown once, kept hashed."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(80))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)


class OneTimeToken(Base):
    """A single-use, expiring secret mailed to a user: password reset or email verification.

    ``email`` is the address the token was sent to, so verifying it proves that address (an
    email change sends a token for the new address)."""

    __tablename__ = "one_time_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class UserSettingsDocument(Base):
    """A user's settings: only the fields that differ from the defaults, in layout ``version``.

    Keeping the differences (not a full copy) lets a later release change a default for every
    user who never chose otherwise; ``version`` lets it upgrade old layouts on read.
    """

    __tablename__ = "user_settings"

    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserAvatar(Base):
    """A user's uploaded avatar: a 256 px PNG re-encoded by the server, never the bytes sent.

    Re-encoded avatars are small (tens of KB), so they live in the store with the rest of the
    account: backups, cascading deletes and multi-process servers need nothing more. ``etag`` is
    the SHA-256 of ``png``, for HTTP caching and for versioned avatar URLs.
    """

    __tablename__ = "user_avatars"

    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    png: Mapped[bytes]
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Datasource(Base):
    """A database users query: a SQLAlchemy URL without its secrets, plus options.

    ``url`` is rendered with the password and every secret-bearing query parameter removed;
    those live only in ``secrets``, encrypted (``services.credentials``) with the row id as
    associated data, so a ciphertext copied onto another row does not decrypt. ``revision`` is
    bumped on every change: connection pools, schema and result caches keyed by it die with it.
    """

    __tablename__ = "datasources"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    # SET NULL: a departed owner's datasources stay for admins and grantees to manage.
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    dialect: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    secrets: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ObjectGrant(Base):
    """A permission level on one object, granted to one principal (``services.sharing``).

    Principals are typed (``user``, ``link``; ``team`` later) so one table and one policy serve
    every shareable kind of object; ``object_type`` names the kind. A ``link`` grant is a share
    link: ``principal_id`` is its token's lookup, ``secret_hash`` the hash of its secret, and it
    grants ``view`` until ``expires_at`` or until the row is deleted (revoked).
    """

    __tablename__ = "object_grants"
    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "principal_type", "principal_id"),
        Index("ix_object_grants_principal", "principal_type", "principal_id", "object_type"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    secret_hash: Mapped[str | None] = mapped_column(String(80))
    expires_at: Mapped[datetime | None]
    issuer: Mapped[str | None] = mapped_column(String(100), index=True)
    """Who issued a ``kernel`` grant (a dashboard kernel's token): ``<voila instance>:<kernel
    id>``, so the kernel's shutdown, or its Voila process stopping, revokes exactly its own."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueryRun(Base):
    """One query a user ran (``GET /api/query/history``): what, where, and how it ended.

    The id is the engine's run id. Rows are written when a run is submitted and updated when it
    ends; results themselves live in the engine (memory or spill files), never in the store.
    """

    __tablename__ = "query_runs"
    __table_args__ = (Index("ix_query_runs_user_created", "user_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    # SET NULL: the history of a deleted datasource stays its users' own record.
    datasource_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("datasources.id", ondelete="SET NULL"), index=True
    )
    sql: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int | None] = mapped_column(Integer)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class SavedQuery(Base):
    """A named, parameterised SQL statement on a datasource (``/api/query/{id}``).

    ``version`` is the number of the latest ``SavedQueryVersion``: every save writes one, so the
    row is always equal to its newest version. ``parameters`` holds the typed parameter
    definitions (``schemas.parameters``); values are bound by the driver when it runs.
    """

    __tablename__ = "saved_queries"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    # SET NULL: a departed owner's queries stay for admins and grantees (``ownership``).
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    datasource_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("datasources.id", ondelete="SET NULL"), index=True
    )
    sql: Mapped[str] = mapped_column(Text)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SavedQueryVersion(Base):
    """One save of a saved query: the whole editable state, never changed afterwards.

    Restoring version N writes a new version equal to N (``restored_from`` = N), so history is
    only ever appended to.
    """

    __tablename__ = "saved_query_versions"
    __table_args__ = (UniqueConstraint("query_id", "version"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    query_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("saved_queries.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    datasource_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    sql: Mapped[str] = mapped_column(Text)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Favorite(Base):
    """A user's favorite object (a saved query, a chart), in the user's own order."""

    __tablename__ = "favorites"
    __table_args__ = (
        UniqueConstraint("user_id", "object_type", "object_id"),
        Index("ix_favorites_user_position", "user_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueryTemplate(Base):
    """Reusable parameterised SQL (``/api/query/templates``): a sandboxed Jinja body whose
    parameters render as bind placeholders, never as values (``engine.templating``)."""

    __tablename__ = "query_templates"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Chart(Base):
    """A declarative chart bound to a saved query (``/api/chart/{id}``): ``spec`` says what
    is drawn (type, encodings, aggregation), ``customization`` how it looks (title, formats,
    palette), both validated by ``schemas.charts``."""

    __tablename__ = "charts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    query_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("saved_queries.id", ondelete="CASCADE"), index=True
    )
    # Parameter values the chart runs its query with (the query's defaults fill the rest).
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    customization: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChartTemplate(Base):
    """A reusable chart spec and style preset (``/api/chart/templates``), applied to any saved
    query whose columns fit its encodings."""

    __tablename__ = "chart_templates"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    customization: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KernelToken(Base):
    """The credential a notebook kernel uses to call the REST API as the user who started it.

    Handed to the kernel in its environment when it starts, stored as a hash, revoked when the
    kernel shuts down (``auth.kernel_env``). Unlike a 15-minute access token it lives as long as
    the kernel; unlike an API key it is never listed or shown to anyone.
    """

    __tablename__ = "kernel_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kernel_id: Mapped[str] = mapped_column(String(64), index=True)
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Dashboard(Base):
    """Tiles (saved-query tables, charts, markdown, filters) on a 12-column grid
    (``/api/dashboards/{id}``), published as a notebook that Voila renders.

    ``tiles`` and ``layout`` are validated by ``schemas.dashboards``; ``version`` is the number
    of the newest ``DashboardVersion``, as for saved queries. ``published_version`` is the
    version the published notebook was written from (None: never published).
    """

    __tablename__ = "dashboards"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    owner_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tiles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    layout: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    refresh_seconds: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DashboardVersion(Base):
    """One save of a dashboard: its whole editable state, never changed afterwards."""

    __tablename__ = "dashboard_versions"
    __table_args__ = (UniqueConstraint("dashboard_id", "version"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    dashboard_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("dashboards.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tiles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    layout: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    refresh_seconds: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Datasources: define, list, change and delete them; test connections; inspect and preview.

Rules, all here rather than in handlers:

- Every URL passes ``UrlPolicy.check`` before it is stored or connected to (dialects, drivers,
  hosts, options, file folders); file databases are for admins only.
- Secrets (the password and secret-bearing options) are stored only encrypted and never leave
  this module in an answer: answers show ``"********"``. A PATCH that sends the mask keeps the
  stored secret, but not when the driver, host, port or user changes: then the password must be
  sent again, so nobody can point a saved secret at a server they control.
- Permissions come from the sharing service: ``view`` (see it and its schema), ``use`` (run
  queries, preview rows, test it), ``manage`` (change, delete, share). Invisible: 404.
- A change to the connection or options bumps ``revision``: pools and caches of the old one die.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import logging
import math
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sqlalchemy import column as sa_column
from sqlalchemy import func, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import quoted_name

from ..engine.connections import (
    ConnectionCache,
    classify_connection_error,
    create_datasource_engine,
)
from ..engine.spec import SourceSpec
from ..engine.urls import SECRET_OPTIONS, UnresolvableHost, UrlPolicy
from ..errors import Conflict, Invalid, NotFound, Unavailable
from ..schemas.datasources import (
    MASK,
    PREVIEW_MAX_ROWS,
    ConnectionFields,
    ConnectionTest,
    ConnectionTestResult,
    DatasourceCreate,
    DatasourceListQuery,
    DatasourceOptionsIn,
    DatasourceOptionsOut,
    DatasourceOut,
    DatasourcePage,
    DatasourcePatch,
    PreviewColumn,
    PreviewQuery,
    PreviewResult,
    SchemaPage,
    SchemaQuery,
    TableColumnsPage,
    TableColumnsQuery,
)
from ..store import Database
from ..store.models import Datasource, User
from ..store.types import new_id
from .activity import ActivityLog, RequestOrigin
from .credentials import CredentialCipher, CredentialError
from .pagination import decode_cursor, encode_cursor
from .schema_inspection import SchemaInspector
from .settings import SettingsService
from .sharing import SharedKind, SharingService

log = logging.getLogger(__name__)

DATASOURCE: Final = "datasource"
LEVELS: Final = ("view", "use", "manage")
TEST_STATEMENT_TIMEOUT: Final = 15.0
"""Seconds a connection test's statements may take, whatever the datasource allows queries."""

Secrets = dict[str, Any]
_MASKED: Final = "MASKEDSECRET"
"""Rendered in place of the mask, then replaced: URL rendering would percent-escape ``*``."""


@dataclass(frozen=True)
class DatasourceSettings:
    """What the admin configured: the credential key (not the JWT key) and the URL policy."""

    key: bytes = field(repr=False)
    policy: UrlPolicy


class DatasourceService:
    """Blocking: call through ``Services.run`` (it resolves hosts and connects to databases)."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        cipher: CredentialCipher,
        policy: UrlPolicy,
        connections: ConnectionCache,
        inspector: SchemaInspector,
        settings: SettingsService,
    ) -> None:
        self._settings = settings
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._cipher = cipher
        self._policy = policy
        self._connections = connections
        self._inspector = inspector
        self.kind = sharing.register(SharedKind(DATASOURCE, Datasource, LEVELS))

    # -- definitions -------------------------------------------------------------------------

    def create(self, user_id: str, body: DatasourceCreate, origin: RequestOrigin) -> DatasourceOut:
        url = self._policy.check(_url_from(body, None), is_admin=self._is_admin(user_id))
        public, secrets = split_secrets(url)
        datasource_id = new_id()
        with self._db.transaction() as tx:
            self._is_admin(user_id, tx)  # fails for a user disabled since the check above
            self._check_name_free(tx, user_id, body.name, None)
            row = Datasource(
                id=datasource_id,
                owner_id=user_id,
                name=body.name,
                dialect=url.get_backend_name(),
                url=_render(public),
                secrets=self._seal(secrets, datasource_id),
                options=body.options.model_dump(),
                revision=1,
            )
            tx.add(row)
            tx.flush()
            self._activity.record(
                tx, user_id, "datasource.created", target=(DATASOURCE, row.id), origin=origin,
                details={"name": row.name, "dialect": row.dialect},
            )  # fmt: skip
            return self._out(row, "manage")

    def list(self, user_id: str, query: DatasourceListQuery) -> DatasourcePage:
        """The datasources the caller may view, oldest first, in keyset pages."""
        with self._db.transaction() as tx:
            visible = self._sharing.visible(tx, user_id, DATASOURCE)
            total = tx.scalar(select(func.count()).select_from(Datasource).where(visible)) or 0
            page = select(Datasource).where(visible)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (Datasource.created_at > at)
                    | ((Datasource.created_at == at) & (Datasource.id > last_id))
                )
            rows = list(
                tx.scalars(
                    page.order_by(Datasource.created_at, Datasource.id).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            user = tx.get(User, user_id)
            items = [
                self._out(row, self._sharing.level_of(tx, user, self.kind, row) or "view")
                for row in shown
            ]
        more = len(rows) > query.limit
        return DatasourcePage(
            items=items,
            next=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
            total=total,
        )

    def get(self, user_id: str, datasource_id: str) -> DatasourceOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, "view")
            return self._out(access.obj, access.level)

    def update(
        self, user_id: str, datasource_id: str, patch: DatasourcePatch, origin: RequestOrigin
    ) -> DatasourceOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, "manage")
            try:
                current_url = self._full_url(access.obj)
            except Unavailable:  # a lost key: the manager re-enters the secrets with this patch
                current_url = make_url(access.obj.url)
            revision = access.obj.revision
        new_url = None
        if patch.connection_given():
            new_url = self._policy.check(
                apply_patch(current_url, patch), is_admin=self._is_admin(user_id)
            )
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, "manage")
            row = access.obj
            if row.revision != revision:
                raise Conflict("the datasource changed while this update was checked; retry")
            changed = sorted(patch.model_fields_set - {"password", "url"})
            if patch.name is not None and patch.name != row.name:
                self._check_name_free(tx, row.owner_id, patch.name, row.id)
                row.name = patch.name
            if new_url is not None:
                public, secrets = split_secrets(new_url)
                row.url = _render(public)
                row.dialect = new_url.get_backend_name()
                row.secrets = self._seal(secrets, row.id)
                changed.append("connection")
            if patch.options is not None:
                row.options = {
                    **_options(row).model_dump(),
                    **patch.options.model_dump(exclude_unset=True),
                }
            if new_url is not None or patch.options is not None:
                row.revision += 1
            self._activity.record(
                tx, user_id, "datasource.updated", target=(DATASOURCE, row.id), origin=origin,
                details={"name": row.name, "changed": sorted(set(changed))},
            )  # fmt: skip
            out = self._out(row, access.level)
        if new_url is not None or patch.options is not None:
            self._forget(datasource_id)
        return out

    def delete(self, user_id: str, datasource_id: str, origin: RequestOrigin) -> None:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, "manage")
            self._sharing.remove_all(tx, DATASOURCE, datasource_id)
            tx.delete(access.obj)
            self._activity.record(
                tx, user_id, "datasource.deleted", target=(DATASOURCE, datasource_id),
                origin=origin, details={"name": access.obj.name},
            )  # fmt: skip
        self._forget(datasource_id)

    # -- for the engine ----------------------------------------------------------------------

    def source_for(self, user_id: str, datasource_id: str, permission: str = "use") -> SourceSpec:
        """The datasource as the engine connects to it, if the caller holds ``permission``.

        ``NotFound`` if they cannot view it, ``Forbidden`` if they can but hold less."""
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, permission)
            return self._spec(access.obj)

    # -- connection tests --------------------------------------------------------------------

    def test_connection(self, user_id: str, body: ConnectionTest) -> ConnectionTestResult:
        """Connect once and report: server version and latency, or a category of failure."""
        is_admin = self._is_admin(user_id)
        if body.datasource_id is not None:
            level = "manage" if body.definition is not None else "use"
            with self._db.transaction() as tx:
                row = self._sharing.require(tx, user_id, DATASOURCE, body.datasource_id, level).obj
                url, options = self._full_url(row), _options(row)
            if body.definition is not None:
                url = apply_patch(url, body.definition)
        else:
            assert body.definition is not None  # the model insists on one of the two
            url, options = _url_from(body.definition, None), DatasourceOptionsIn()
        if body.options is not None:
            options = body.options
        dialect = url.get_backend_name()
        try:
            url = self._policy.check(url, is_admin=is_admin)
        except UnresolvableHost:
            return _failed(dialect, "host_unreachable", "the host name could not be resolved")
        spec = replace(
            _spec_of(body.datasource_id or "unsaved", url, 0, options),
            # A test holds a worker thread while it waits: never longer than this.
            connect_timeout_seconds=min(options.connect_timeout_seconds, TEST_STATEMENT_TIMEOUT),
        )
        return _probe(spec, self._policy)

    # -- schema and preview ------------------------------------------------------------------

    def schema(self, user_id: str, query: SchemaQuery) -> SchemaPage:
        spec = self.source_for(user_id, query.datasource_id, "view")
        engine = self._connections.engine_for(spec)
        with _reaching(spec):
            return self._inspector.page(
                spec,
                engine,
                query.schema_,
                query.cursor,
                query.limit,
                refresh=query.refresh,
                columns=query.columns,
            )

    def table_columns(self, user_id: str, query: TableColumnsQuery) -> TableColumnsPage:
        """One table's columns, a page at a time: what a schema tree asks when a table opens.

        Needs ``view``, like the schema listing it completes."""
        spec = self.source_for(user_id, query.datasource_id, "view")
        engine = self._connections.engine_for(spec)
        with _reaching(spec):
            return self._inspector.columns_page(
                spec, engine, query.schema_, query.table, query.cursor, query.limit
            )

    def preview(self, user_id: str, query: PreviewQuery) -> PreviewResult:
        """The first rows of a table the inspector returned, its names quoted by the dialect."""
        spec = self.source_for(user_id, query.datasource_id, "use")
        engine = self._connections.engine_for(spec)
        # No limit asked: the user's default_row_limit setting, within the preview's own cap.
        wanted = query.limit or min(self._settings.get(user_id).default_row_limit, PREVIEW_MAX_ROWS)
        limit = min(wanted, spec.row_limit or wanted)
        with _reaching(spec):
            schema, relation = self._inspector.describe_relation(
                spec, engine, query.schema_, query.table
            )
            names = [c.name for c in relation.columns]
            rows: list[Any] = []
            if names:
                target = sa_table(
                    quoted_name(relation.name, True),
                    *[sa_column(quoted_name(n, True)) for n in names],
                    schema=quoted_name(schema, True),
                )
                statement = select(*target.c).limit(limit + 1)
                with engine.connect() as connection:
                    rows = list(connection.execute(statement))
        return PreviewResult(
            datasource_id=spec.id,
            schema=schema,
            table=relation.name,
            columns=[PreviewColumn(name=c.name, type=c.type) for c in relation.columns],
            rows=[[jsonable(value) for value in row] for row in rows[:limit]],
            truncated=len(rows) > limit,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _is_admin(self, user_id: str, tx: Session | None = None) -> bool:
        if tx is None:
            with self._db.transaction() as own:
                return self._is_admin(user_id, own)
        user = tx.get(User, user_id)
        if user is None or user.disabled_at is not None:
            raise NotFound("user not found")
        return user.is_admin

    def _check_name_free(
        self, tx: Session, owner_id: str | None, name: str, except_id: str | None
    ) -> None:
        clash = tx.scalar(
            select(Datasource.id).where(
                Datasource.owner_id == owner_id,
                Datasource.name == name,
                Datasource.id != (except_id or ""),
            )
        )
        if clash is not None:
            raise Conflict(f"a datasource named {name!r} already exists")

    def _seal(self, secrets: Secrets, datasource_id: str) -> str | None:
        return self._cipher.encrypt(secrets, datasource_id) if secrets else None

    def _full_url(self, row: Datasource) -> URL:
        return join_secrets(make_url(row.url), self._secrets(row))

    def _secrets(self, row: Datasource) -> Secrets:
        if not row.secrets:
            return {}
        try:
            return self._cipher.decrypt(row.secrets, row.id)
        except CredentialError:
            log.error("datasource %s: stored credentials cannot be decrypted", row.id)
            raise Unavailable(
                "this datasource's stored credentials cannot be decrypted (the server's "
                "datasource key changed): someone who manages it must enter them again"
            ) from None

    def _secrets_or_none(self, row: Datasource) -> Secrets:
        """For display only: an undecryptable secret still shows as present (masked)."""
        try:
            return self._secrets(row)
        except Unavailable:
            return {"password": ""}

    def _spec(self, row: Datasource) -> SourceSpec:
        spec = _spec_of(row.id, self._full_url(row), row.revision, _options(row))
        return dataclasses.replace(spec, check_host=self._policy.check_host)

    def _forget(self, datasource_id: str) -> None:
        self._connections.invalidate(datasource_id)
        self._inspector.invalidate(datasource_id)

    def _out(self, row: Datasource, level: str) -> DatasourceOut:
        url = make_url(row.url)
        secrets = self._secrets_or_none(row)
        has_password = "password" in secrets
        query = {**dict(url.query), **dict.fromkeys(secrets.get("query", {}), MASK)}
        shown = _with_password(url, _MASKED if has_password else None).set(query={
            k: _MASKED if v == MASK else v for k, v in query.items()
        })  # fmt: skip
        return DatasourceOut(
            id=row.id,
            name=row.name,
            dialect=row.dialect,
            driver=url.get_driver_name() if "+" in url.drivername else None,
            url=_render(shown).replace(_MASKED, MASK),
            host=url.host,
            port=url.port,
            database=url.database,
            username=url.username,
            query=query,
            has_password=has_password,
            options=_options(row),
            owner_id=row.owner_id,
            permission=level,  # type: ignore[arg-type]
            revision=row.revision,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# -- URLs and their secrets ---------------------------------------------------------------------


def _url_from(fields: ConnectionFields, base: URL | None) -> URL:
    """The URL a create body or unsaved definition describes."""
    if fields.url is not None:
        try:
            url = make_url(fields.url)
        except (ArgumentError, ValueError):
            raise Invalid(
                "url", "is not a SQLAlchemy URL (dialect+driver://user@host/db)"
            ) from None
        if fields.password is not None:
            if url.password is not None:
                raise Invalid("password", "the url already carries a password")
            url = url.set(password=fields.password)
        return url
    assert fields.drivername is not None
    return URL.create(
        fields.drivername,
        username=fields.username,
        password=fields.password,
        host=fields.host,
        port=fields.port,
        database=fields.database,
        query=fields.query or {},
    )


def apply_patch(current: URL, patch: DatasourcePatch) -> URL:
    """``current`` with the patch's connection changes; the mask keeps a stored secret.

    Raises ``Invalid("password")`` when a kept password would go to another driver, host, port
    or user than the one it was entered for.
    """
    if patch.url is not None:
        try:
            new = make_url(patch.url)
        except (ArgumentError, ValueError):
            raise Invalid(
                "url", "is not a SQLAlchemy URL (dialect+driver://user@host/db)"
            ) from None
    else:
        changes: dict[str, Any] = {
            name: getattr(patch, name)
            for name in ("drivername", "host", "port", "database", "username")
            if name in patch.model_fields_set
        }
        if "query" in patch.model_fields_set:
            changes["query"] = patch.query or {}
        new = current.set(**changes)
        if "password" not in patch.model_fields_set:
            new = _with_password(new, MASK if current.password is not None else None)
    if patch.password is not None:
        if patch.url is not None and new.password is not None:
            raise Invalid("password", "the url already carries a password")
        new = _with_password(new, patch.password)
    kept_password = new.password == MASK
    if kept_password:
        new = _with_password(new, current.password)
    query = dict(new.query)
    kept_options = [k for k, v in query.items() if v == MASK]
    for key in kept_options:
        if key not in current.query:
            raise Invalid("url", f"option {key!r} has no stored value to keep")
        query[key] = current.query[key]
    new = new.set(query=query)
    secret_kept = (kept_password and current.password is not None) or bool(kept_options)
    if secret_kept and _endpoint(new) != _endpoint(current):
        raise Invalid(
            "password",
            "send the password again when changing the driver, host, port or user "
            "(a stored password is never sent to a different server)",
        )
    return new


def _endpoint(url: URL) -> tuple[Any, ...]:
    return (url.drivername, (url.host or "").lower(), url.port, url.username)


def split_secrets(url: URL) -> tuple[URL, Secrets]:
    """The URL without its password and secret options, and those secrets apart."""
    secrets: Secrets = {}
    if url.password is not None:
        secrets["password"] = url.password
    hidden = {k: v for k, v in url.query.items() if k.lower() in SECRET_OPTIONS}
    if hidden:
        secrets["query"] = hidden
    public_query = {k: v for k, v in url.query.items() if k not in hidden}
    return _with_password(url, None).set(query=public_query), secrets


def join_secrets(public: URL, secrets: Secrets) -> URL:
    url = public
    if "password" in secrets:
        url = url.set(password=secrets["password"])
    if secrets.get("query"):
        url = url.update_query_dict(secrets["query"])
    return url


def _with_password(url: URL, password: str | None) -> URL:
    """``url`` with exactly this password; ``URL.set`` cannot clear one (it ignores None)."""
    return url._replace(password=password)


def _render(url: URL) -> str:
    """A URL with no secret in it (callers have removed or masked them) as text."""
    return url.render_as_string(hide_password=False)


def _options(row: Datasource) -> DatasourceOptionsOut:
    merged = {**DatasourceOptionsIn().model_dump(), **(row.options or {})}
    return DatasourceOptionsOut(**merged)


def _spec_of(
    datasource_id: str, url: URL, revision: int, options: DatasourceOptionsIn | DatasourceOptionsOut
) -> SourceSpec:
    return SourceSpec(
        id=datasource_id,
        url=url,
        revision=revision,
        read_only=options.read_only,
        row_limit=options.row_limit,
        timeout_seconds=options.timeout_seconds,
        cache_ttl_seconds=options.cache_ttl_seconds,
        connect_timeout_seconds=options.connect_timeout_seconds,
    )


# -- talking to the database --------------------------------------------------------------------

_VERSION_SQL: Final = {
    "postgresql": "SHOW server_version",
    "mysql": "SELECT VERSION()",
    "mariadb": "SELECT VERSION()",
    "sqlite": "SELECT sqlite_version()",
    "duckdb": "SELECT version()",
}


def _failed(dialect: str, category: str, message: str) -> ConnectionTestResult:
    return ConnectionTestResult(ok=False, category=category, message=message, dialect=dialect)  # type: ignore[arg-type]


def _probe(spec: SourceSpec, policy: UrlPolicy) -> ConnectionTestResult:
    """Connect with the datasource's own safety settings, ask the version, time one round trip."""
    # The test's statements are trivial: a server slower than the connect timeout is as good as
    # unreachable (and MySQL's handshake waits this long, not the connect timeout).
    statement_timeout = min(spec.timeout_seconds, max(spec.connect_timeout_seconds, 2.0))
    try:
        engine = create_datasource_engine(
            spec, policy, pooled=False, statement_timeout=statement_timeout
        )
    except Exception as error:  # a missing driver module fails here, before connecting
        category, message = classify_connection_error(error)
        return _failed(spec.dialect, category, message)
    try:
        with engine.connect() as connection:
            sql = _VERSION_SQL.get(spec.dialect)
            version = str(connection.execute(text(sql)).scalar()) if sql else None
            if version is None and engine.dialect.server_version_info:
                version = ".".join(str(part) for part in engine.dialect.server_version_info)
            started = time.perf_counter()
            connection.execute(text("SELECT 1")).scalar()
            latency = (time.perf_counter() - started) * 1000
    except Exception as error:  # every driver's errors: classified, never echoed
        category, message = classify_connection_error(error)
        log.info("datasource %s: connection test failed (%s): %r", spec.id, category, error)
        return _failed(spec.dialect, category, message)
    finally:
        engine.dispose()
    return ConnectionTestResult(
        ok=True,
        message="connected",
        dialect=spec.dialect,
        server_version=version,
        latency_ms=round(latency, 3),
    )


class _reaching:
    """Turns a datasource that cannot be reached into ``Unavailable`` with a safe message."""

    def __init__(self, spec: SourceSpec) -> None:
        self._spec = spec

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> bool:
        if error is None or not isinstance(error, SQLAlchemyError | OSError):
            return False
        category, message = classify_connection_error(error)
        log.warning("datasource %s unreachable (%s): %r", self._spec.id, category, error)
        raise Unavailable(f"the datasource could not be used: {message}") from None


def jsonable(value: Any) -> Any:
    """A database value as JSON: numbers, strings, booleans and null stay; the rest is text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)

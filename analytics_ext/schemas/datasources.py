"""Datasource bodies: definitions sent by clients, and datasources as they are shown (masked)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from .base import QueryModel, RequestModel, ResponseModel

MASK = "********"
"""Shown instead of every secret; sending it back in a PATCH keeps the stored secret."""

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (newlines, NUL, bidi overrides)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_control)]
Identifier = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_control)]
"""A schema or table name: matched exactly against the names the inspector returned."""
Text = Annotated[str, Field(max_length=1024), AfterValidator(_no_control)]
DriverName = Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]*(\+[a-z0-9_]+)?$")]
"""``dialect`` or ``dialect+driver``, as in a SQLAlchemy URL."""


class DatasourceOptionsIn(RequestModel):
    """How queries on the datasource run. Every field has a default."""

    read_only: bool = True
    """Refuse statements that write; run in a read-only transaction where the database can."""
    row_limit: int | None = Field(100_000, ge=1, le=100_000_000)
    """Most rows a query returns (null: the engine's own cap)."""
    timeout_seconds: float = Field(300.0, gt=0, le=24 * 3600)
    connect_timeout_seconds: float = Field(10.0, gt=0, le=120)
    cache_ttl_seconds: float = Field(0.0, ge=0, le=30 * 24 * 3600)
    """How long a result may be reused for an identical query (0: never)."""


class DatasourceOptionsPatch(RequestModel):
    """Options to change; omitted ones stay as they are."""

    read_only: bool | None = None
    row_limit: int | None = Field(None, ge=1, le=100_000_000)
    timeout_seconds: float | None = Field(None, gt=0, le=24 * 3600)
    connect_timeout_seconds: float | None = Field(None, gt=0, le=120)
    cache_ttl_seconds: float | None = Field(None, ge=0, le=30 * 24 * 3600)


class ConnectionFields(RequestModel):
    """Where the database is: a SQLAlchemy ``url``, or its parts (``drivername`` and the rest).

    ``password`` may accompany a ``url`` that carries none, so a form can keep it in a
    separate field. Secrets are stored encrypted and never shown again.
    """

    url: Text | None = None
    drivername: DriverName | None = None
    host: Annotated[str, Field(max_length=253), AfterValidator(_no_control)] | None = None
    port: int | None = Field(None, ge=1, le=65535)
    database: Text | None = None
    username: Annotated[str, Field(max_length=128), AfterValidator(_no_control)] | None = None
    password: Annotated[str, Field(max_length=1024)] | None = Field(None, repr=False)
    query: dict[Annotated[str, Field(min_length=1, max_length=64)], Text] | None = Field(
        None, max_length=32
    )

    def connection_given(self) -> bool:
        return bool(self.model_fields_set & set(ConnectionFields.model_fields))


class DatasourceCreate(ConnectionFields):
    """``POST /api/datasources``."""

    name: Name
    options: DatasourceOptionsIn = Field(default_factory=DatasourceOptionsIn)

    @model_validator(mode="after")
    def _one_way_to_say_where(self) -> DatasourceCreate:
        if (self.url is None) == (self.drivername is None):
            raise ValueError("give either url or drivername (with host, database, ...), not both")
        return self


class DatasourcePatch(ConnectionFields):
    """``PATCH /api/datasources/{id}``: omitted fields stay. A ``url`` replaces the connection;
    parts (``host``, ``password``, ...) change just themselves. ``"********"`` as the password
    keeps the stored one — except when the driver, host, port or user changes, which needs the
    password again (so a changed host cannot be handed the old secret)."""

    name: Name | None = None
    options: DatasourceOptionsPatch | None = None

    @field_validator("name", "options", mode="before")
    @classmethod
    def _present_means_set(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null (omit the field to leave it unchanged)")
        return value

    @model_validator(mode="after")
    def _one_way_to_say_where(self) -> DatasourcePatch:
        if self.url is not None and (self.model_fields_set & _PARTS):
            raise ValueError("give either url or its parts (host, database, ...), not both")
        return self


_PARTS = frozenset({"drivername", "host", "port", "database", "username", "query"})


class ConnectionTest(RequestModel):
    """``POST /api/datasources/test-connection``: a saved datasource, an unsaved definition, or
    a saved one with changes (as an edit form has them, password masked) applied first."""

    datasource_id: Id | None = None
    definition: DatasourcePatch | None = None
    options: DatasourceOptionsIn | None = None

    @model_validator(mode="after")
    def _something_to_test(self) -> ConnectionTest:
        if self.datasource_id is None and self.definition is None:
            raise ValueError("give datasource_id, definition, or both")
        definition = self.definition
        if (
            self.datasource_id is None
            and definition is not None
            and (definition.url is None) == (definition.drivername is None)
        ):
            raise ValueError("definition: give either url or drivername, not both")
        return self


class DatasourceOptionsOut(ResponseModel):
    read_only: bool
    row_limit: int | None
    timeout_seconds: float
    connect_timeout_seconds: float
    cache_ttl_seconds: float


class DatasourceOut(ResponseModel):
    """A datasource as the API shows it: secrets replaced by ``"********"``."""

    id: str
    name: str
    dialect: str
    driver: str | None
    url: str
    """The URL with the password and secret options masked."""
    host: str | None
    port: int | None
    database: str | None
    username: str | None
    query: dict[str, Any]
    has_password: bool
    options: DatasourceOptionsOut
    owner_id: str | None
    permission: Literal["view", "use", "manage"]
    """The caller's own level on it."""
    revision: int
    created_at: datetime
    updated_at: datetime


class DatasourcePage(ResponseModel):
    items: list[DatasourceOut]
    next: str | None
    total: int


class DatasourceListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)


class ConnectionTestResult(ResponseModel):
    """``ok`` with the server's version and one round trip's latency, or a failure category
    and a message written by this server (never the URL, the password, or the server's text)."""

    ok: bool
    category: (
        Literal[
            "authentication_failed",
            "host_unreachable",
            "timeout",
            "database_missing",
            "driver_missing",
            "refused",
            "connection_failed",
        ]
        | None
    ) = None
    message: str
    dialect: str
    server_version: str | None = None
    latency_ms: float | None = None


class SchemaQuery(QueryModel):
    """``GET /api/datasources/schema``: one page of a schema's tables and views."""

    datasource_id: Id
    schema_: Identifier | None = Field(None, alias="schema")
    cursor: str | None = Field(None, max_length=512)
    limit: int = Field(100, ge=1, le=500)
    refresh: bool = False
    columns: bool = True
    """``false``: names only (``RelationName``: name, kind, row estimate), without describing
    columns or keys, so a tree can list a huge schema and fetch one table's columns on demand.
    The default stays ``true`` (full ``RelationOut`` items) for existing clients."""


class TableColumnsQuery(QueryModel):
    """``GET /api/datasources/schema/table``: one table's or view's columns, one page at a time."""

    datasource_id: Id
    schema_: Identifier | None = Field(None, alias="schema")
    table: Identifier
    cursor: str | None = Field(None, max_length=512)
    limit: int = Field(200, ge=1, le=1000)


PREVIEW_MAX_ROWS = 1000
"""The most rows a preview returns, whatever is asked or set."""


class PreviewQuery(QueryModel):
    """``GET /api/datasources/preview``: the first rows of one table or view."""

    datasource_id: Id
    schema_: Identifier | None = Field(None, alias="schema")
    table: Identifier
    limit: int | None = Field(None, ge=1, le=PREVIEW_MAX_ROWS)
    """Rows to show; none: the caller's ``default_row_limit`` setting (at most 1000)."""


class ForeignKeyOut(ResponseModel):
    columns: list[str]
    referred_schema: str | None
    referred_table: str
    referred_columns: list[str]


class ColumnOut(ResponseModel):
    name: str
    type: str
    nullable: bool
    primary_key: bool


class RelationOut(ResponseModel):
    name: str
    kind: Literal["table", "view"]
    columns: list[ColumnOut]
    primary_key: list[str]
    foreign_keys: list[ForeignKeyOut]
    row_estimate: int | None
    """The database's own estimate (PostgreSQL statistics, MySQL TABLE_ROWS, DuckDB
    estimated_size); null where it keeps none."""


class RelationName(ResponseModel):
    """A table or view without its columns: what a names-only schema page lists."""

    name: str
    kind: Literal["table", "view"]
    row_estimate: int | None


class SchemaPage(ResponseModel):
    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True)

    datasource_id: str
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    schemas: list[str] | None
    """Every schema's name, on the first page only."""
    items: list[RelationOut] | list[RelationName]
    """Described relations, or with ``columns=false`` names only."""
    next: str | None
    total: int
    """Tables and views in the schema."""
    cached_at: datetime


class TableColumnsPage(ResponseModel):
    """One relation with one page of its columns (in table order), its keys and row estimate."""

    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True)

    datasource_id: str
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    table: str
    kind: Literal["table", "view"]
    row_estimate: int | None
    primary_key: list[str]
    foreign_keys: list[ForeignKeyOut]
    columns: list[ColumnOut]
    next: str | None
    """Cursor of the next page of columns; null on the last."""
    total_columns: int


class PreviewColumn(ResponseModel):
    name: str
    type: str


class PreviewResult(ResponseModel):
    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True)

    datasource_id: str
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    table: str
    columns: list[PreviewColumn]
    rows: list[list[Any]]
    """Values as JSON: numbers, strings, booleans, null; decimals and times as strings,
    bytes as base64."""
    truncated: bool

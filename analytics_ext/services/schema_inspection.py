"""Schema inspection: schemas, tables and views with columns, keys and row estimates, in pages.

A catalog can hold 100k columns, so nothing here loads a whole schema's details: listing a
schema reads only relation *names* (cheap, cached), and a page describes only its own ``limit``
relations with a few batched catalog queries (SQLAlchemy's ``get_multi_*`` reflection). Pages
are cached per (datasource id, revision), so a change to the datasource drops them, and
``refresh`` drops them on request.

PostgreSQL, MariaDB/MySQL and SQLite go through SQLAlchemy's inspector; DuckDB is read natively
(``duckdb_columns()``, ``duckdb_constraints()``), since duckdb_engine cannot reflect columns with
SQLAlchemy 2.1. Both sit behind one ``Catalog`` interface.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from sqlalchemy import Connection, Engine, bindparam, inspect, text
from sqlalchemy.engine.reflection import Inspector, ObjectKind

from ..engine.spec import SourceSpec
from ..errors import Invalid, NotFound
from ..schemas.datasources import (
    ColumnOut,
    ForeignKeyOut,
    RelationName,
    RelationOut,
    SchemaPage,
    TableColumnsPage,
)
from ..store.types import utcnow

SYSTEM_SCHEMAS: Final = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)


@dataclass(frozen=True, order=True)
class Relation:
    name: str
    kind: Literal["table", "view"]


class Catalog(Protocol):
    """What one database connection can tell about its schemas."""

    def schemas(self) -> list[str]: ...

    def default_schema(self) -> str | None: ...

    def relations(self, schema: str) -> list[Relation]: ...

    def describe(self, schema: str, relations: list[Relation]) -> list[RelationOut]: ...

    def row_estimates(self, schema: str, names: list[str]) -> dict[str, int | None]: ...


# -- SQLAlchemy (PostgreSQL, MariaDB/MySQL, SQLite) -----------------------------------------------


class SqlAlchemyCatalog:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._inspector: Inspector = inspect(connection)
        self._dialect = connection.dialect

    def schemas(self) -> list[str]:
        names = self._inspector.get_schema_names()
        return sorted(
            n
            for n in names
            if n not in SYSTEM_SCHEMAS and not n.startswith(("pg_temp_", "pg_toast_temp_"))
        )

    def default_schema(self) -> str | None:
        return self._inspector.default_schema_name

    def relations(self, schema: str) -> list[Relation]:
        found = [Relation(n, "table") for n in self._inspector.get_table_names(schema)]
        found += [Relation(n, "view") for n in self._inspector.get_view_names(schema)]
        if self._dialect.name == "postgresql":
            matviews = self._inspector.get_materialized_view_names(schema)
            found += [Relation(n, "view") for n in matviews]
        return sorted(set(found))

    def describe(self, schema: str, relations: list[Relation]) -> list[RelationOut]:
        names = [r.name for r in relations]
        kinds = ObjectKind.ANY
        columns = self._inspector.get_multi_columns(schema=schema, filter_names=names, kind=kinds)
        keys = self._inspector.get_multi_pk_constraint(
            schema=schema, filter_names=names, kind=kinds
        )
        foreign = self._inspector.get_multi_foreign_keys(
            schema=schema, filter_names=names, kind=kinds
        )
        estimates = self.row_estimates(schema, names)
        described = []
        for relation in relations:
            key = (schema, relation.name)
            primary = list((keys.get(key) or {}).get("constrained_columns") or [])
            described.append(
                RelationOut(
                    name=relation.name,
                    kind=relation.kind,
                    columns=[
                        ColumnOut(
                            name=column["name"],
                            type=_type_name(column["type"], self._dialect),
                            nullable=bool(column.get("nullable", True)),
                            primary_key=column["name"] in primary,
                        )
                        for column in columns.get(key, [])
                    ],
                    primary_key=primary,
                    foreign_keys=[
                        ForeignKeyOut(
                            columns=list(fk["constrained_columns"]),
                            referred_schema=fk.get("referred_schema"),
                            referred_table=fk["referred_table"],
                            referred_columns=list(fk["referred_columns"]),
                        )
                        for fk in foreign.get(key, [])
                    ],
                    row_estimate=estimates.get(relation.name),
                )
            )
        return described

    def row_estimates(self, schema: str, names: list[str]) -> dict[str, int | None]:
        """The database's own row estimates for ``names`` (one catalog query, no scans)."""
        if not names:
            return {}
        dialect = self._dialect.name
        if dialect == "postgresql":
            query = text(
                "SELECT c.relname, c.reltuples FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname IN :names"
            )
        elif dialect in {"mysql", "mariadb"}:
            query = text(
                "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = :schema AND TABLE_NAME IN :names"
            )
        else:
            return {}  # SQLite keeps no row estimate without scanning
        rows = self._connection.execute(
            query.bindparams(bindparam("names", expanding=True)), {"schema": schema, "names": names}
        )
        # PostgreSQL says -1 for a table never analyzed: unknown, not empty.
        return {name: (int(n) if n is not None and n >= 0 else None) for name, n in rows}


def _type_name(type_: Any, dialect: Any) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type SQLAlchemy cannot render still gets a name
        return type(type_).__name__.upper()


# -- DuckDB ------------------------------------------------------------------------------------


class DuckDBCatalog:
    """DuckDB's own catalog functions, filtered to the opened database."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        query = text(sql)
        if "names" in params:
            query = query.bindparams(bindparam("names", expanding=True))
        return list(self._connection.execute(query, params))

    def schemas(self) -> list[str]:
        rows = self._rows(
            "SELECT DISTINCT schema_name FROM duckdb_schemas() "
            "WHERE database_name = current_database()"
        )
        return sorted(r[0] for r in rows if r[0] not in SYSTEM_SCHEMAS)

    def default_schema(self) -> str | None:
        return self._rows("SELECT current_schema()")[0][0]

    def relations(self, schema: str) -> list[Relation]:
        tables = self._rows(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = :s",
            s=schema,
        )
        views = self._rows(
            "SELECT view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND schema_name = :s AND NOT internal",
            s=schema,
        )
        found = [Relation(r[0], "table") for r in tables] + [Relation(r[0], "view") for r in views]
        return sorted(set(found))

    def describe(self, schema: str, relations: list[Relation]) -> list[RelationOut]:
        names = [r.name for r in relations]
        if not names:
            return []
        columns: dict[str, list[tuple[str, str, bool]]] = {}
        for table, column, data_type, nullable in self._rows(
            "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = :s "
            "AND table_name IN :names "
            "ORDER BY table_name, column_index",
            s=schema, names=names,
        ):  # fmt: skip
            columns.setdefault(table, []).append((column, data_type, bool(nullable)))
        primary: dict[str, list[str]] = {}
        foreign: dict[str, list[ForeignKeyOut]] = {}
        for table, kind, cols, referred, referred_cols in self._rows(
            "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
            "referenced_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND schema_name = :s "
            "AND table_name IN :names "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index",
            s=schema, names=names,
        ):  # fmt: skip
            if kind == "PRIMARY KEY":
                primary[table] = list(cols)
            else:
                foreign.setdefault(table, []).append(
                    ForeignKeyOut(
                        columns=list(cols),
                        referred_schema=schema,
                        referred_table=referred,
                        referred_columns=list(referred_cols),
                    )
                )
        estimates = self.row_estimates(schema, names)
        return [
            RelationOut(
                name=r.name,
                kind=r.kind,
                columns=[
                    ColumnOut(
                        name=name,
                        type=type_,
                        nullable=nullable,
                        primary_key=name in primary.get(r.name, []),
                    )
                    for name, type_, nullable in columns.get(r.name, [])
                ],
                primary_key=primary.get(r.name, []),
                foreign_keys=foreign.get(r.name, []),
                row_estimate=estimates.get(r.name),
            )
            for r in relations
        ]

    def row_estimates(self, schema: str, names: list[str]) -> dict[str, int | None]:
        """``estimated_size`` of the tables among ``names`` (views have none)."""
        if not names:
            return {}
        return dict(
            self._rows(
                "SELECT table_name, estimated_size FROM duckdb_tables() "
                "WHERE database_name = current_database() AND schema_name = :s "
                "AND table_name IN :names",
                s=schema,
                names=names,
            )
        )


def catalog_for(connection: Connection) -> Catalog:
    if connection.dialect.name == "duckdb":
        return DuckDBCatalog(connection)
    return SqlAlchemyCatalog(connection)


# -- paging and caching ------------------------------------------------------------------------


def encode_position(name: str) -> str:
    raw = json.dumps(["after", name], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, name = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "is not a cursor this server issued") from None
    if tag != "after" or not isinstance(name, str):
        raise Invalid("cursor", "is not a cursor this server issued")
    return name


def encode_offset(offset: int) -> str:
    raw = json.dumps(["column", offset], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(cursor: str) -> int:
    """The column offset a columns page's ``next`` named; Invalid for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, offset = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "is not a cursor this server issued") from None
    if tag != "column" or type(offset) is not int or offset < 0:
        raise Invalid("cursor", "is not a cursor this server issued")
    return offset


@dataclass(frozen=True)
class _Listing:
    schemas: tuple[str, ...]
    default: str | None


class SchemaInspector:
    """Pages of a datasource's schema, cached per (datasource, revision) in a bounded LRU."""

    def __init__(self, max_entries: int = 2048) -> None:
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def invalidate(self, datasource_id: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == datasource_id]:
                del self._cache[key]

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return value

    def _listing(self, spec: SourceSpec, engine: Engine) -> _Listing:
        def compute() -> _Listing:
            with engine.connect() as connection:
                catalog = catalog_for(connection)
                return _Listing(tuple(catalog.schemas()), catalog.default_schema())

        return self._cached((spec.id, spec.revision, "schemas"), compute)

    def resolve_schema(self, spec: SourceSpec, engine: Engine, schema: str | None) -> str:
        """``schema`` if the inspector knows it (exactly), else the default; NotFound otherwise."""
        listing = self._listing(spec, engine)
        if schema is None:
            if listing.default is None:
                raise NotFound("this datasource has no default schema: name one")
            return listing.default
        if schema not in listing.schemas and schema != listing.default:
            raise NotFound(f"schema {schema!r} not found in this datasource")
        return schema

    def relations(self, spec: SourceSpec, engine: Engine, schema: str) -> list[Relation]:
        def compute() -> list[Relation]:
            with engine.connect() as connection:
                return catalog_for(connection).relations(schema)

        return self._cached((spec.id, spec.revision, "relations", schema), compute)

    def page(
        self,
        spec: SourceSpec,
        engine: Engine,
        schema: str | None,
        cursor: str | None,
        limit: int,
        *,
        refresh: bool = False,
        columns: bool = True,
    ) -> SchemaPage:
        """One page of relations in name order: described (columns, keys), or with
        ``columns=False`` only their names, kinds and row estimates (no column reflection)."""
        if refresh:
            self.invalidate(spec.id)
        after = decode_position(cursor) if cursor else None
        schema = self.resolve_schema(spec, engine, schema)

        def compute() -> SchemaPage:
            relations = self.relations(spec, engine, schema)
            start = bisect.bisect_right([r.name for r in relations], after) if after else 0
            chosen = relations[start : start + limit]
            items: list[RelationOut] | list[RelationName]
            with engine.connect() as connection:
                catalog = catalog_for(connection)
                if columns:
                    items = catalog.describe(schema, chosen)
                else:
                    estimates = catalog.row_estimates(schema, [r.name for r in chosen])
                    items = [
                        RelationName(name=r.name, kind=r.kind, row_estimate=estimates.get(r.name))
                        for r in chosen
                    ]
            more = start + limit < len(relations)
            return SchemaPage(
                datasource_id=spec.id,
                schema=schema,
                schemas=list(self._listing(spec, engine).schemas) if after is None else None,
                items=items,
                next=encode_position(chosen[-1].name) if more and chosen else None,
                total=len(relations),
                cached_at=utcnow(),
            )

        key = (spec.id, spec.revision, "page" if columns else "names", schema, after, limit)
        return self._cached(key, compute)

    def describe_relation(
        self, spec: SourceSpec, engine: Engine, schema: str | None, name: str
    ) -> tuple[str, RelationOut]:
        """One relation the inspector knows by exactly this name; NotFound otherwise."""
        schema = self.resolve_schema(spec, engine, schema)
        match = [r for r in self.relations(spec, engine, schema) if r.name == name]
        if not match:
            raise NotFound(f"table {name!r} not found in schema {schema!r}")

        def compute() -> RelationOut:
            with engine.connect() as connection:
                return catalog_for(connection).describe(schema, match)[0]

        return schema, self._cached((spec.id, spec.revision, "relation", schema, name), compute)

    def columns_page(
        self,
        spec: SourceSpec,
        engine: Engine,
        schema: str | None,
        name: str,
        cursor: str | None,
        limit: int,
    ) -> TableColumnsPage:
        """One relation with ``limit`` of its columns from the cursor on, in table order.

        The relation is described once (and cached per revision), so later pages of a very
        wide table are slices of that, not catalog queries."""
        start = decode_offset(cursor) if cursor else 0
        schema, relation = self.describe_relation(spec, engine, schema, name)
        total = len(relation.columns)
        if start > total:
            raise Invalid("cursor", "points past the table's last column")
        end = start + limit
        return TableColumnsPage(
            datasource_id=spec.id,
            schema=schema,
            table=relation.name,
            kind=relation.kind,
            row_estimate=relation.row_estimate,
            primary_key=relation.primary_key,
            foreign_keys=relation.foreign_keys,
            columns=relation.columns[start:end],
            next=encode_offset(end) if end < total else None,
            total_columns=total,
        )

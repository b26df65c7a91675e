"""Saved queries: named, parameterised SQL on a datasource, versioned, shared and run.

Rules, all here rather than in handlers:

- Permissions come from the sharing service, kind ``query``: ``view`` reads and runs the saved
  statement, ``edit`` changes it, ``manage`` deletes and shares it (owner and admins hold it).
  A query the caller cannot view is ``NotFound``.
- The SQL is checked as the engine checks it (one statement that only reads, nothing reaching
  files or the server) and against the parameters: every ``:name`` placeholder needs a
  parameter that binds it and every parameter must be used, so a bad save is a 422 naming the
  field rather than a run that fails later.
- Whoever sets or changes what runs (the datasource or the SQL) must hold ``use`` on the
  datasource. Otherwise an editor could put any statement in front of the owner's authority.
- Running the saved statement needs only ``view``: it runs with the datasource authority of the
  caller if they hold ``use``, else of the query's owner (a viewer runs exactly the saved SQL,
  with parameter values bound by the driver). Running edited SQL needs ``edit`` and the caller's
  own ``use``.
- Every save that changes something appends a version (``saved_query_versions``); restoring
  one appends a new version equal to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from pydantic import TypeAdapter
from sqlalchemy import String, cast, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..engine.errors import ParameterError
from ..engine.parameters import find_placeholders
from ..engine.runs import Run
from ..engine.spec import SourceSpec
from ..engine.statements import classify
from ..engine.urls import forbidden_statement_features
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..schemas.parameters import ParameterList, bind_values, bound_names, check_unique_names
from ..schemas.queries import QueryRunOut
from ..schemas.saved_queries import (
    SavedQueryCreate,
    SavedQueryListQuery,
    SavedQueryOut,
    SavedQueryPage,
    SavedQueryPatch,
    SavedQueryRunCreate,
    dedupe,
)
from ..store import Database
from ..store.models import Chart, Datasource, SavedQuery, SavedQueryVersion, User
from .activity import ActivityLog, RequestOrigin
from .datasources import DATASOURCE, DatasourceService
from .favorites import FavoriteService
from .pagination import decode_cursor, encode_cursor
from .queries import QueryService, run_out
from .saved_query_versions import (
    QUERY,
    State,
    append_version,
    changed_fields,
    load_version,
    state_of,
)
from .sharing import SharedKind, SharingService

LEVELS: Final = ("view", "edit", "manage")
CHART: Final = "chart"
"""The sharing kind of charts (registered by the chart service): charts built on a deleted
query go with it, and so do their grants and favorites."""
RUNNABLE: Final = frozenset({"sql", "datasource_id"})
"""Fields that decide what runs under the query's authority: changing them needs ``use``."""
CHECKED: Final = RUNNABLE | {"parameters"}
"""Fields whose change re-checks the statement against its parameters and datasource."""
PARAMETERS: Final = TypeAdapter(ParameterList)


class SavedQueryService:
    """``/api/query`` and ``/api/query/{id}``. Blocking: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        datasources: DatasourceService,
        queries: QueryService,
        favorites: FavoriteService,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._datasources = datasources
        self._queries = queries
        self._favorites = favorites
        self.kind = sharing.register(SharedKind(QUERY, SavedQuery, LEVELS, linkable=True))

    # -- definitions -------------------------------------------------------------------------

    def create(self, user_id: str, body: SavedQueryCreate, origin: RequestOrigin) -> SavedQueryOut:
        state: State = {
            "name": body.name,
            "description": body.description,
            "datasource_id": body.datasource_id,
            "sql": body.sql,
            "parameters": [parameter.model_dump(mode="json") for parameter in body.parameters],
            "tags": dedupe(body.tags),
        }
        with self._db.transaction() as tx:
            self._check(tx, user_id, state, RUNNABLE)
            row = SavedQuery(owner_id=user_id, version=1, **state)
            tx.add(row)
            tx.flush()
            append_version(tx, row, user_id)
            self._activity.record(
                tx, user_id, "query.created", target=(QUERY, row.id), origin=origin,
                details={"name": row.name, "datasource_id": row.datasource_id},
            )  # fmt: skip
            return self._out(tx, row, self.kind.top)

    def list(self, user_id: str, query: SavedQueryListQuery) -> SavedQueryPage:
        """The queries the caller may view, oldest first, in keyset pages; filtered by name
        text (``q``), an exact tag, or a datasource."""
        with self._db.transaction() as tx:
            filters = [self._sharing.visible(tx, user_id, QUERY)]
            if query.q:
                filters.append(
                    func.lower(SavedQuery.name).contains(query.q.lower(), autoescape=True)
                )
            if query.tag:
                # Tags hold no quotes or backslashes, so a tag's JSON text appears in the
                # stored list exactly when the list holds that tag.
                filters.append(
                    cast(SavedQuery.tags, String).contains(_json_string(query.tag), autoescape=True)
                )
            if query.datasource_id:
                filters.append(SavedQuery.datasource_id == query.datasource_id)
            total = tx.scalar(select(func.count()).select_from(SavedQuery).where(*filters)) or 0
            page = select(SavedQuery).where(*filters)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (SavedQuery.created_at > at)
                    | ((SavedQuery.created_at == at) & (SavedQuery.id > last_id))
                )
            rows = list(
                tx.scalars(
                    page.order_by(SavedQuery.created_at, SavedQuery.id).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            items = [self._out(tx, row, self._level(tx, user_id, row)) for row in shown]
        more = len(rows) > query.limit
        return SavedQueryPage(
            items=items,
            next=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
            total=total,
        )

    def get(self, user_id: str, query_id: str) -> SavedQueryOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, QUERY, query_id, "view")
            return self._out(tx, access.obj, access.level)

    def update(
        self, user_id: str, query_id: str, patch: SavedQueryPatch, origin: RequestOrigin
    ) -> SavedQueryOut:
        """Change the fields sent (needs ``edit``); a change appends a version, no change
        appends nothing. ``base_version`` older than the current version: 409."""
        with _conflicts_as_409(), self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, QUERY, query_id, "edit")
            row: SavedQuery = access.obj
            if patch.base_version is not None and patch.base_version != row.version:
                raise Conflict(
                    f"the query is at version {row.version}, not {patch.base_version}: "
                    "someone saved it since you loaded it; reload and apply your change again"
                )
            state = state_of(row)
            for field in patch.model_fields_set - {"base_version", "parameters", "tags"}:
                state[field] = getattr(patch, field)
            if patch.parameters is not None:
                state["parameters"] = [p.model_dump(mode="json") for p in patch.parameters]
            if patch.tags is not None:
                state["tags"] = dedupe(patch.tags)
            self._save(tx, user_id, row, state, origin, "query.updated")
            return self._out(tx, row, access.level)

    def restore(
        self, user_id: str, query_id: str, number: int, origin: RequestOrigin
    ) -> SavedQueryOut:
        """Append a new version equal to version ``number`` (needs ``edit``); older versions
        stay as they are. The restored state is checked like any save."""
        with _conflicts_as_409(), self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, QUERY, query_id, "edit")
            state = state_of(load_version(tx, query_id, number))
            self._save(
                tx, user_id, access.obj, state, origin, "query.restored", restored_from=number
            )
            return self._out(tx, access.obj, access.level)

    def delete(self, user_id: str, query_id: str, cascade: bool, origin: RequestOrigin) -> None:
        """Delete a query with its versions, grants and favorites (needs ``manage``). Charts
        built on it are refused (409) unless ``cascade``, which deletes them too."""
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, user_id, QUERY, query_id, "manage")
            charts = list(tx.scalars(select(Chart.id).where(Chart.query_id == query_id)))
            if charts and not cascade:
                count = f"{len(charts)} chart{'s' if len(charts) != 1 else ''}"
                raise Conflict(
                    f"{count} {'use' if len(charts) != 1 else 'uses'} this query: delete "
                    "them first, or delete with ?cascade=true to delete them too"
                )
            for chart_id in charts:
                self._sharing.remove_all(tx, CHART, chart_id)
                self._favorites.remove_for_object(tx, CHART, chart_id)
            tx.execute(delete(Chart).where(Chart.query_id == query_id))
            self._sharing.remove_all(tx, QUERY, query_id)
            self._favorites.remove_for_object(tx, QUERY, query_id)
            tx.execute(delete(SavedQueryVersion).where(SavedQueryVersion.query_id == query_id))
            tx.delete(access.obj)
            self._activity.record(
                tx, user_id, "query.deleted", target=(QUERY, query_id), origin=origin,
                details={"name": access.obj.name, "charts_deleted": len(charts)},
            )  # fmt: skip

    # -- running -----------------------------------------------------------------------------

    def run(self, actor_id: str, query_id: str, body: SavedQueryRunCreate) -> QueryRunOut:
        """``POST /api/query/{id}/run``: the saved statement (``view``), or an edited one in
        ``body.sql`` (``edit`` on the query and the caller's own ``use`` on the datasource)."""
        if body.sql is None:
            run = self.run_as_viewer(
                actor_id, query_id, body.parameters, body.row_limit, body.bypass_cache
            )
            return run_out(run)
        with self._db.transaction() as tx:
            row = self._sharing.require(tx, actor_id, QUERY, query_id, "edit").obj
            datasource_id, parameters = (
                row.datasource_id,
                PARAMETERS.validate_python(row.parameters),
            )
        spec = self._datasources.source_for(actor_id, _runnable(datasource_id), "use")
        bindings = bind_values(parameters, body.parameters)
        run = self._queries.start(
            actor_id,
            spec,
            body.sql,
            _used(bindings, body.sql, spec.dialect),
            row_limit=body.row_limit,
            bypass_cache=body.bypass_cache,
        )
        return run_out(run)

    def run_as_viewer(
        self,
        actor_id: str,
        query_id: str,
        values: Mapping[str, Any],
        row_limit: int | None = None,
        bypass_cache: bool = False,
    ) -> Run:
        """Run the query's saved SQL with parameter ``values`` for ``actor_id`` (a user, or a
        share link ``link:<id>``), and return the engine's run (poll it, or read its result
        through ``QueryService``). A stable entry point for other services (charts, export):

        - needs ``view`` on the query (``NotFound`` otherwise);
        - ``values`` go through the typed parameters (``Invalid`` naming ``parameters.<name>``)
          and are bound by the driver, never spliced;
        - the datasource authority is the caller's if they hold ``use``, else the owner's;
          ``Forbidden`` if neither; ``Conflict`` if the datasource was deleted.
        """
        with self._db.transaction() as tx:
            row = self._sharing.require(tx, actor_id, QUERY, query_id, "view").obj
            sql, owner_id, datasource_id = row.sql, row.owner_id, row.datasource_id
            parameters = PARAMETERS.validate_python(row.parameters)
        spec = self._authority(actor_id, owner_id, _runnable(datasource_id))
        bindings = bind_values(parameters, values)
        return self._queries.start(
            actor_id,
            spec,
            sql,
            _used(bindings, sql, spec.dialect),
            row_limit=row_limit,
            bypass_cache=bypass_cache,
        )

    def _authority(self, actor_id: str, owner_id: str | None, datasource_id: str) -> SourceSpec:
        """The datasource as the caller may use it, else as the query's owner may."""
        for who in dict.fromkeys(w for w in (actor_id, owner_id) if w is not None):
            try:
                return self._datasources.source_for(who, datasource_id, "use")
            except (NotFound, Forbidden):
                continue
        raise Forbidden(
            "this query cannot run: neither you nor its owner may use its datasource; ask "
            "whoever manages the datasource for the 'use' permission"
        )

    # -- helpers -----------------------------------------------------------------------------

    def _save(
        self,
        tx: Session,
        user_id: str,
        row: SavedQuery,
        state: State,
        origin: RequestOrigin,
        event: str,
        restored_from: int | None = None,
    ) -> None:
        """Apply ``state`` to ``row`` as a new version, if it changes anything (a restore
        always makes one: it is recorded even when the content is the same)."""
        changed = changed_fields(state_of(row), state)
        if not changed and restored_from is None:
            return
        if CHECKED.intersection(changed):
            self._check(tx, user_id, state, RUNNABLE.intersection(changed))
        for field in changed:
            setattr(row, field, state[field])
        row.version += 1
        append_version(tx, row, user_id, restored_from)
        tx.flush()
        details: dict[str, Any] = {"name": row.name, "version": row.version, "changed": changed}
        if restored_from is not None:
            details["restored_from"] = restored_from
        self._activity.record(
            tx, user_id, event, target=(QUERY, row.id), origin=origin, details=details
        )

    def _check(
        self, tx: Session, user_id: str, state: State, runnable: frozenset[str] | set[str]
    ) -> None:
        """Check ``state`` for its datasource: the caller's ``use`` when ``runnable`` fields
        change, then the statement and its parameters."""
        datasource_id = state["datasource_id"]
        if datasource_id is None:
            raise Invalid("datasource_id", "the query's datasource was deleted: choose another one")
        if runnable:
            datasource = self._sharing.require(tx, user_id, DATASOURCE, datasource_id, "use").obj
        else:
            datasource = tx.get(Datasource, datasource_id)
            if datasource is None:
                raise NotFound("datasource not found")
        check_statement(
            state["sql"], datasource.dialect, PARAMETERS.validate_python(state["parameters"])
        )

    def _level(self, tx: Session, user_id: str, row: SavedQuery) -> str:
        return self._sharing.require(tx, user_id, QUERY, row.id, "view").level

    def _out(self, tx: Session, row: SavedQuery, level: str) -> SavedQueryOut:
        owner = tx.get(User, row.owner_id) if row.owner_id is not None else None
        return SavedQueryOut(
            id=row.id,
            owner_id=row.owner_id,
            owner_name=owner.username if owner is not None else None,
            version=row.version,
            permission=level,  # type: ignore[arg-type]
            created_at=row.created_at,
            updated_at=row.updated_at,
            **state_of(row),
        )


def check_statement(sql: str, dialect: str, parameters: Sequence[Any]) -> None:
    """A saved statement as the engine will check it when it runs, plus its parameters: one
    statement that only reads (whatever the datasource allows, since viewers run it with the
    owner's authority), nothing reaching outside the database, and placeholders that match the
    parameter definitions both ways. ``Invalid`` names ``sql`` or ``parameters.<i>.name``."""
    classify(sql, dialect, read_only=True)
    reaching_out = forbidden_statement_features(sql, dialect)
    if reaching_out:
        raise Invalid("sql", "; ".join(reaching_out))
    check_unique_names(parameters)
    try:
        used = {placeholder.name for placeholder in find_placeholders(sql, dialect)}
    except ParameterError as error:
        raise Invalid("sql", error.message.removeprefix("parameters: ")) from None
    defined = {name: index for index, p in enumerate(parameters) for name in bound_names(p)}
    missing = sorted(used - defined.keys())
    if missing:
        raise Invalid(
            "sql",
            f"uses :{missing[0]}, which no parameter defines: add a parameter named "
            f"{missing[0]!r} (a date range named 'x' binds :x_start and :x_end)",
        )
    for name, index in defined.items():
        if name not in used:
            raise Invalid(f"parameters.{index}.name", f"binds :{name}, which the SQL does not use")


def _used(bindings: dict[str, Any], sql: str, dialect: str) -> dict[str, Any]:
    """The bindings ``sql`` uses (an edited statement may drop a placeholder; a missing one is
    still refused by the engine, naming it)."""
    try:
        used = {placeholder.name for placeholder in find_placeholders(sql, dialect)}
    except ParameterError:
        return bindings  # the engine refuses the statement itself, naming ``sql``
    return {name: value for name, value in bindings.items() if name in used}


def _runnable(datasource_id: str | None) -> str:
    if datasource_id is None:
        raise Conflict(
            "this query's datasource was deleted: someone who may edit the query must choose "
            "another datasource"
        )
    return datasource_id


def _json_string(text: str) -> str:
    """``text`` as the store's JSON serializer writes it inside a list."""
    return json.dumps(text)


@contextmanager
def _conflicts_as_409() -> Iterator[None]:
    """Two saves of one query at once both write the next version number; the unique
    (query, version) key refuses the second, which the caller hears as a 409."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            "the query was saved by someone else at the same moment; reload and retry"
        ) from None

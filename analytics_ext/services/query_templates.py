"""Query templates: reusable parameterised SQL, shared like saved queries, instantiated into them.

Rules, all here rather than in handlers:

- A template's body must pass ``engine.templating.check`` against its own parameters when it
  is saved (create and every change of body or parameters), so a stored template always renders.
- Permissions come from the one sharing service, kind ``query_template``: ``view`` (read,
  render, instantiate), ``edit`` (change), ``manage`` (delete, share). Invisible: 404.
- Rendering binds values, never splices them: the SQL holds ``:name`` placeholders and the
  bindings travel beside it. Instantiating renders with the caller's values (they decide the
  ``{% if %}`` branches) and saves the SQL as a saved query through ``SavedQueryService.create``,
  so its own checks (``use`` on the datasource) apply; the values become the defaults of the
  parameters the SQL still uses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from ..engine import templating
from ..engine.export import jsonable
from ..errors import Invalid, NotFound
from ..schemas.parameters import (
    DateParameter,
    DateRangeParameter,
    ParameterList,
    QueryParameter,
    bind_values,
    bound_names,
    check_unique_names,
)
from ..schemas.query_templates import (
    QueryTemplateCreate,
    QueryTemplateListQuery,
    QueryTemplateOut,
    QueryTemplatePage,
    QueryTemplatePatch,
    RenderedTemplate,
    TemplateInstantiate,
    TemplateRender,
    dedupe,
)
from ..schemas.saved_queries import SavedQueryCreate, SavedQueryOut
from ..store import Database
from ..store.models import QueryTemplate, User
from .activity import ActivityLog, RequestOrigin
from .pagination import decode_cursor, encode_cursor
from .saved_queries import SavedQueryService
from .sharing import SharedKind, SharingService

QUERY_TEMPLATE: Final = "query_template"
LEVELS: Final = ("view", "edit", "manage")
_PARAMETERS: Final = TypeAdapter(ParameterList)


@dataclass(frozen=True)
class Expansion:
    """A template rendered with values: the SQL, what it binds, and the parameters it uses."""

    sql: str
    bindings: dict[str, Any]
    """Each placeholder in ``sql`` and its driver value (``date`` objects for dates)."""
    parameters: list[QueryParameter]
    """The definitions whose placeholders ``sql`` still holds, in the template's order."""


def parameters_of(stored: Sequence[Mapping[str, Any]]) -> list[QueryParameter]:
    """Stored definitions (JSON) as the typed models they were validated as when saved."""
    return _PARAMETERS.validate_python(list(stored))


def names_of(parameters: Sequence[QueryParameter]) -> templating.TemplateNames:
    return templating.TemplateNames.of({p.name: bound_names(p) for p in parameters})


def check_template(body: str, parameters: Sequence[QueryParameter]) -> None:
    """422 naming the field: duplicate parameter names, or a body outside the whitelist."""
    check_unique_names(parameters)
    templating.check(body, names_of(parameters))


def expand(
    body: str,
    parameters: Sequence[QueryParameter],
    values: Mapping[str, Any],
    today: dt.date | None = None,
) -> Expansion:
    """Render ``body`` with ``values`` (defaults fill gaps; 422 naming a bad value)."""
    bindings = bind_values(parameters, values, today)
    conditions: dict[str, Any] = {}
    for parameter in parameters:
        names = bound_names(parameter)
        for name in names:
            conditions[name] = _condition_value(bindings[name])
        if isinstance(parameter, DateRangeParameter):
            start, end = (conditions[name] for name in names)
            both = start is not None and end is not None
            conditions[parameter.name] = {"start": start, "end": end} if both else None
    sql, used = templating.render(body, names_of(parameters), conditions)
    kept = [kept for p in parameters if (kept := _still_used(p, used)) is not None]
    return Expansion(sql, {name: bindings[name] for name in used}, kept)


def _still_used(parameter: QueryParameter, used: Sequence[str]) -> QueryParameter | None:
    """The definition as the rendered SQL needs it: None if none of its placeholders is left;
    a date range whose SQL kept only one bound (``{% if %}`` dropped the other) becomes a
    date parameter of that name, since a saved query must use every name it defines."""
    names = bound_names(parameter)
    left = [name for name in names if name in used]
    if not left:
        return None
    if not isinstance(parameter, DateRangeParameter) or len(left) == len(names):
        return parameter
    half = "start" if left[0] == names[0] else "end"
    default = getattr(parameter.default, half) if parameter.default is not None else None
    return DateParameter(
        type="date",
        name=left[0],
        label=parameter.label,
        description=parameter.description,
        required=parameter.required,
        default=default,
    )


def _condition_value(value: Any) -> Any:
    """Dates compare as ISO text in conditions (``{% if day >= '2026-01-01' %}``)."""
    return value.isoformat() if isinstance(value, dt.date) else value


class QueryTemplateService:
    """``/api/query/templates``: blocking methods, called through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        saved_queries: SavedQueryService,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._saved_queries = saved_queries
        self.kind = sharing.register(
            SharedKind(QUERY_TEMPLATE, QueryTemplate, LEVELS, linkable=True)
        )

    def create(
        self, actor_id: str, body: QueryTemplateCreate, origin: RequestOrigin
    ) -> QueryTemplateOut:
        check_template(body.body, body.parameters)
        with self._db.transaction() as tx:
            owner = _active_user(tx, actor_id)
            row = QueryTemplate(
                owner_id=owner.id,
                name=body.name,
                description=body.description,
                body=body.body,
                parameters=[p.model_dump(mode="json") for p in body.parameters],
                tags=dedupe(body.tags),
            )
            tx.add(row)
            tx.flush()
            self._activity.record(
                tx, owner.id, "query_template.created", target=(QUERY_TEMPLATE, row.id),
                origin=origin, details={"name": row.name},
            )  # fmt: skip
            return _out(row, owner, self.kind.top)

    def list(self, actor_id: str, query: QueryTemplateListQuery) -> QueryTemplatePage:
        """The templates the caller may view, oldest first, in keyset pages."""
        with self._db.transaction() as tx:
            where = [self._sharing.visible(tx, actor_id, QUERY_TEMPLATE)]
            if query.q:
                where.append(
                    func.lower(QueryTemplate.name).contains(query.q.lower(), autoescape=True)
                )
            if query.tag:
                # Tags hold no quotes or backslashes, so the JSON text holds "tag" verbatim
                # (non-ASCII as \\u escapes, which json.dumps writes the same way).
                needle = json.dumps(query.tag)
                where.append(cast(QueryTemplate.tags, String).contains(needle, autoescape=True))
            total = tx.scalar(select(func.count()).select_from(QueryTemplate).where(*where)) or 0
            page = select(QueryTemplate).where(*where)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (QueryTemplate.created_at > at)
                    | ((QueryTemplate.created_at == at) & (QueryTemplate.id > last_id))
                )
            rows = list(
                tx.scalars(
                    page.order_by(QueryTemplate.created_at, QueryTemplate.id).limit(query.limit + 1)
                )
            )
            shown = rows[: query.limit]
            viewer = tx.get(User, actor_id)
            owners = _owners(tx, shown)
            items = [
                _out(row, owners.get(row.owner_id or ""), self._level(tx, viewer, row))
                for row in shown
            ]
        more = len(rows) > query.limit
        return QueryTemplatePage(
            items=items,
            next=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
            total=total,
        )

    def get(self, actor_id: str, template_id: str) -> QueryTemplateOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, QUERY_TEMPLATE, template_id, "view")
            return _out(access.obj, _owner(tx, access.obj), access.level)

    def update(
        self, actor_id: str, template_id: str, patch: QueryTemplatePatch, origin: RequestOrigin
    ) -> QueryTemplateOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, QUERY_TEMPLATE, template_id, "edit")
            row: QueryTemplate = access.obj
            body = patch.body if patch.body is not None else row.body
            if patch.parameters is not None:
                parameters = patch.parameters
            else:
                parameters = parameters_of(row.parameters)
            if patch.body is not None or patch.parameters is not None:
                check_template(body, parameters)
            changed = sorted(
                name for name in patch.model_fields_set if getattr(patch, name) is not None
            )
            if patch.name is not None:
                row.name = patch.name
            if patch.description is not None:
                row.description = patch.description
            row.body = body
            row.parameters = [p.model_dump(mode="json") for p in parameters]
            if patch.tags is not None:
                row.tags = dedupe(patch.tags)
            tx.flush()
            self._activity.record(
                tx, actor_id, "query_template.updated", target=(QUERY_TEMPLATE, row.id),
                origin=origin, details={"name": row.name, "changed": changed},
            )  # fmt: skip
            return _out(row, _owner(tx, row), access.level)

    def delete(self, actor_id: str, template_id: str, origin: RequestOrigin) -> None:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, QUERY_TEMPLATE, template_id, "manage")
            self._sharing.remove_all(tx, QUERY_TEMPLATE, template_id)
            tx.delete(access.obj)
            self._activity.record(
                tx, actor_id, "query_template.deleted", target=(QUERY_TEMPLATE, template_id),
                origin=origin, details={"name": access.obj.name},
            )  # fmt: skip

    def render(self, actor_id: str, template_id: str, body: TemplateRender) -> RenderedTemplate:
        """A preview: the SQL with placeholders and the values that would be bound."""
        with self._db.transaction() as tx:
            row = self._sharing.require(tx, actor_id, QUERY_TEMPLATE, template_id, "view").obj
            text, stored = row.body, row.parameters
        expansion = expand(text, parameters_of(stored), body.parameters)
        bindings = {name: jsonable(value) for name, value in expansion.bindings.items()}
        return RenderedTemplate(sql=expansion.sql, bindings=bindings)

    def instantiate(
        self, actor_id: str, template_id: str, body: TemplateInstantiate, origin: RequestOrigin
    ) -> SavedQueryOut:
        """A new saved query from the template (``SavedQueryService.create`` checks ``use`` on
        the datasource); the values given become its parameters' defaults."""
        with self._db.transaction() as tx:
            row = self._sharing.require(tx, actor_id, QUERY_TEMPLATE, template_id, "view").obj
            text, stored = row.body, row.parameters
            description, tags = row.description, list(row.tags)
        expansion = expand(text, parameters_of(stored), body.parameters)
        parameters = [_with_default(p, body.parameters) for p in expansion.parameters]
        create = SavedQueryCreate(
            name=body.name,
            description=body.description if body.description is not None else description,
            datasource_id=body.datasource_id,
            sql=expansion.sql,
            parameters=parameters,
            tags=body.tags if body.tags is not None else tags,
        )
        saved = self._saved_queries.create(actor_id, create, origin)
        with self._db.transaction() as tx:
            self._activity.record(
                tx, actor_id, "query_template.instantiated", target=(QUERY_TEMPLATE, template_id),
                origin=origin, details={"query_id": saved.id, "name": body.name},
            )  # fmt: skip
        return saved

    def _level(self, tx: Session, viewer: User | None, row: QueryTemplate) -> str:
        if viewer is None:  # a share link: it sees its one object, at view
            return "view"
        return self._sharing.level_of(tx, viewer, self.kind, row) or "view"


def _with_default(parameter: QueryParameter, values: Mapping[str, Any]) -> QueryParameter:
    """The definition with the value given for it as its default (as given: ``today-7d``
    stays relative). A date cut from a range (``period_start``) takes that half of it."""
    value = values.get(parameter.name)
    if value is None and isinstance(parameter, DateParameter):
        whole, _, half = parameter.name.rpartition("_")
        given = values.get(whole)
        if half in ("start", "end") and isinstance(given, dict):
            value = given.get(half)
    if value is None:
        return parameter
    data = {**parameter.model_dump(mode="json"), "default": value}
    try:
        return type(parameter).model_validate(data)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]["msg"]
        raise Invalid(f"parameters.{parameter.name}", f"cannot be a default: {problem}") from None


def _active_user(tx: Session, actor_id: str) -> User:
    """The account acting; a share link or a disabled account cannot create anything."""
    user = tx.get(User, actor_id)
    if user is None or user.disabled_at is not None:
        raise NotFound("user not found")
    return user


def _owner(tx: Session, row: QueryTemplate) -> User | None:
    return tx.get(User, row.owner_id) if row.owner_id is not None else None


def _owners(tx: Session, rows: Sequence[QueryTemplate]) -> dict[str, User]:
    ids = {row.owner_id for row in rows if row.owner_id is not None}
    if not ids:
        return {}
    return {user.id: user for user in tx.scalars(select(User).where(User.id.in_(ids)))}


def _out(row: QueryTemplate, owner: User | None, level: str) -> QueryTemplateOut:
    return QueryTemplateOut(
        id=row.id,
        name=row.name,
        description=row.description,
        body=row.body,
        parameters=list(row.parameters),
        tags=list(row.tags),
        owner_id=row.owner_id,
        owner_name=owner.username if owner is not None else None,
        permission=level,  # type: ignore[arg-type]
        created_at=row.created_at,
        updated_at=row.updated_at,
    )

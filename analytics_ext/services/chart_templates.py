"""Chart templates (``/api/chart/templates``): a spec and a style, reusable on any query.

A template's spec is an ordinary ``ChartSpec`` whose encoding fields are *roles* — names such
as ``date`` or ``value`` standing for "the column you bind here" — optionally with a field
type the column must fit (``{"x": {"field": "date", "type": "temporal"}}``). Applying it to a
query binds each channel to a column (``bindings: {"x": "order_date"}``; a channel left out
binds the column named like its role) and saves a chart through ``ChartService``, after the
same column and type checks as any chart, reported at the binding: ``bindings.y: 'name' is
text; sum needs a numeric column``.

Templates are shared like charts (kind ``chart_template``: view, edit, manage); applying one
needs ``view`` on it and on the query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Forbidden, Invalid
from ..schemas.chart_objects import (
    ChartOut,
    ChartTemplateApply,
    ChartTemplateCreate,
    ChartTemplateListQuery,
    ChartTemplateOut,
    ChartTemplatePage,
    ChartTemplatePatch,
    TemplateRole,
)
from ..schemas.charts import ChartSpec, Customization
from ..store import Database
from ..store.models import ChartTemplate, User
from .activity import ActivityLog, RequestOrigin
from .chart_data import CHART, ChartDataService, parse_customization, parse_spec, query_bindings
from .charts import LEVELS, ChartService
from .pagination import decode_cursor, encode_cursor
from .sharing import SharedKind, SharingService, is_link_actor

CHART_TEMPLATE = "chart_template"


class ChartTemplateService:
    """Template CRUD and apply. Blocking methods: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        data: ChartDataService,
        charts: ChartService,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._data = data
        self._charts = charts
        self.kind = sharing.register(
            SharedKind(CHART_TEMPLATE, ChartTemplate, LEVELS, linkable=True)
        )

    def create(
        self, actor_id: str, body: ChartTemplateCreate, origin: RequestOrigin
    ) -> ChartTemplateOut:
        """A template from a spec, or from a chart the caller may view (its fields become the
        roles, its customization the style)."""
        if is_link_actor(actor_id):
            raise Forbidden("a share link opens one object read only; it cannot create templates")
        spec, style = None, None
        if body.spec is not None:
            spec = parse_spec(body.spec)
        if body.customization is not None:
            style = parse_customization(body.customization)
        with self._db.transaction() as tx:
            source = None
            if body.from_chart_id is not None:
                source = self._sharing.require(tx, actor_id, CHART, body.from_chart_id, "view")
                spec = ChartSpec.model_validate(source.obj.spec)
                style = style or Customization.model_validate(source.obj.customization or {})
            assert spec is not None
            template = ChartTemplate(
                owner_id=actor_id,
                name=body.name,
                description=body.description,
                spec=_stored(spec),
                customization=_stored(style or Customization()),
            )
            tx.add(template)
            tx.flush()
            self._activity.record(
                tx, actor_id, "chart_template.created", target=(CHART_TEMPLATE, template.id),
                origin=origin, details={"name": body.name, "from_chart_id": body.from_chart_id},
            )  # fmt: skip
            return _out(template, self.kind.top)

    def get(self, actor_id: str, template_id: str) -> ChartTemplateOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART_TEMPLATE, template_id, "view")
            return _out(access.obj, access.level)

    def list(self, actor_id: str, query: ChartTemplateListQuery) -> ChartTemplatePage:
        """The templates the caller may view, oldest first, in keyset pages."""
        with self._db.transaction() as tx:
            visible = self._sharing.visible(tx, actor_id, CHART_TEMPLATE)
            total = tx.scalar(select(func.count()).select_from(ChartTemplate).where(visible)) or 0
            page = select(ChartTemplate).where(visible)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (ChartTemplate.created_at > at)
                    | ((ChartTemplate.created_at == at) & (ChartTemplate.id > last_id))
                )
            order = (ChartTemplate.created_at, ChartTemplate.id)
            rows = list(tx.scalars(page.order_by(*order).limit(query.limit + 1)))
            shown = rows[: query.limit]
            items = [_out(row, self._level(tx, actor_id, row)) for row in shown]
        last = shown[-1] if len(rows) > query.limit else None
        return ChartTemplatePage(
            items=items,
            next=encode_cursor(last.created_at, last.id) if last is not None else None,
            total=total,
        )

    def update(
        self, actor_id: str, template_id: str, body: ChartTemplatePatch, origin: RequestOrigin
    ) -> ChartTemplateOut:
        spec = parse_spec(body.spec) if body.spec is not None else None
        style = parse_customization(body.customization) if body.customization is not None else None
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART_TEMPLATE, template_id, "edit")
            template: ChartTemplate = access.obj
            if body.name is not None:
                template.name = body.name
            if body.description is not None:
                template.description = body.description
            if spec is not None:
                template.spec = _stored(spec)
            if style is not None:
                template.customization = _stored(style)
            tx.flush()
            self._activity.record(
                tx, actor_id, "chart_template.updated", target=(CHART_TEMPLATE, template.id),
                origin=origin, details={"fields": [n for n, v in body if v is not None]},
            )  # fmt: skip
            return _out(template, access.level)

    def delete(self, actor_id: str, template_id: str, origin: RequestOrigin) -> None:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART_TEMPLATE, template_id, "manage")
            self._sharing.remove_all(tx, CHART_TEMPLATE, template_id)
            tx.delete(access.obj)
            self._activity.record(
                tx, actor_id, "chart_template.deleted", target=(CHART_TEMPLATE, template_id),
                origin=origin, details={"name": access.obj.name},
            )  # fmt: skip

    # -- apply ----------------------------------------------------------------------------------

    def apply(
        self, actor_id: str, template_id: str, body: ChartTemplateApply, origin: RequestOrigin
    ) -> ChartOut:
        """A new chart of ``body.query_id`` from the template, its roles bound to columns."""
        with self._db.transaction() as tx:
            template = self._sharing.require(tx, actor_id, CHART_TEMPLATE, template_id, "view").obj
            spec = ChartSpec.model_validate(template.spec)
            style = Customization.model_validate(template.customization or {})
        query = self._data.viewable_query(actor_id, body.query_id)
        bindings = query_bindings(query, body.parameters)
        schema = self._data.result_schema(actor_id, query, bindings)
        bound = bind_roles(spec, body.bindings, schema.names)
        try:
            self._data.check(actor_id, query, bindings, bound, schema)
        except Invalid as error:
            raise _at_binding(error) from None
        return self._charts.create_checked(
            actor_id,
            body.query_id,
            name=body.name,
            description=body.description,
            parameters=body.parameters,
            spec=bound,
            customization=style,
            origin=origin,
            details={"template_id": template_id},
            schema=schema,
        )

    def _level(self, tx: Session, actor_id: str, template: ChartTemplate) -> str:
        if is_link_actor(actor_id):
            return "view"
        user = tx.get(User, actor_id)
        return (user and self._sharing.level_of(tx, user, self.kind, template)) or "view"


def roles(spec: ChartSpec) -> list[TemplateRole]:
    return [
        TemplateRole(channel=channel, role=encoding.field, type=encoding.type)
        for channel, encoding in spec.channels().items()
    ]


def bind_roles(spec: ChartSpec, bindings: dict[str, str], columns: list[str]) -> ChartSpec:
    """The template's spec with each channel's role replaced by its bound column: 422 at
    ``bindings.<channel>`` for a channel the template lacks or a role left unbound."""
    channels = spec.channels()
    for channel in bindings:
        if channel not in channels:
            raise Invalid(f"bindings.{channel}", f"the template has no {channel} channel")
    encodings: dict[str, Any] = {}
    for channel, encoding in channels.items():
        column = bindings.get(channel)
        if column is None:
            if encoding.field not in columns:
                shown = ", ".join(columns[:40])
                raise Invalid(
                    f"bindings.{channel}",
                    f"bind a column to {channel} (role {encoding.field!r}); the query has no "
                    f"column of that name (columns: {shown})",
                )
            column = encoding.field
        encodings[channel] = encoding.model_copy(update={"field": column})
    return spec.model_copy(update={"encodings": spec.encodings.model_copy(update=encodings)})


def _at_binding(error: Invalid) -> Invalid:
    """A column check's ``spec.encodings.y.field`` problem, reported at ``bindings.y``."""
    parts = error.field.split(".")
    if len(parts) >= 3 and parts[:2] == ["spec", "encodings"]:
        problem = error.message.split(": ", 1)[1] if ": " in error.message else error.message
        return Invalid(f"bindings.{parts[2]}", problem)
    return error


def _stored(model: ChartSpec | Customization) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True)


def _out(template: ChartTemplate, level: str) -> ChartTemplateOut:
    spec = ChartSpec.model_validate(template.spec)
    return ChartTemplateOut(
        id=template.id,
        name=template.name,
        description=template.description,
        owner_id=template.owner_id,
        spec=spec,
        customization=Customization.model_validate(template.customization or {}),
        roles=roles(spec),
        permission=level,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )

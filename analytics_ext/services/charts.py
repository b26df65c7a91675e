"""Charts (``/api/chart``): a declarative spec and its customization, bound to a saved query.

A chart is saved only if it can be drawn: its spec validates (field-level 422s), its parameter
values fit the query's typed parameters, and every encoded field is a column of the query's
result with a type that suits its role — checked by running the query once for a few rows,
with the query owner's datasource authority (``ChartDataService.check``). Creating a chart
needs ``view`` on the query; after that the chart is its own object under the sharing service
(kind ``chart``: view, edit, manage), and its viewers see its data without seeing the query.

Customization stores only what the user chose; responses add ``effective_customization``
with the caller's settings filling the rest. Names, descriptions and titles are plain text,
stored and returned unchanged (renderers escape them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Forbidden, NotFound
from ..schemas.chart_objects import ChartCreate, ChartListQuery, ChartOut, ChartPage, ChartPatch
from ..schemas.charts import ChartSpec, Customization
from ..store import Database
from ..store.models import Chart, SavedQuery, User
from .activity import ActivityLog, RequestOrigin
from .chart_data import (
    CHART,
    ChartDataService,
    parse_customization,
    parse_spec,
    query_bindings,
)
from .favorites import FavoriteService
from .pagination import decode_cursor, encode_cursor
from .sharing import SharedKind, SharingService, is_link_actor

LEVELS = ("view", "edit", "manage")


class ChartService:
    """Chart CRUD. Blocking methods: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        data: ChartDataService,
        favorites: FavoriteService,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._data = data
        self._favorites = favorites
        self.kind = sharing.register(SharedKind(CHART, Chart, LEVELS, linkable=True))

    # -- create -------------------------------------------------------------------------------

    def create(self, actor_id: str, body: ChartCreate, origin: RequestOrigin) -> ChartOut:
        spec = parse_spec(body.spec)
        customization = parse_customization(body.customization)
        return self.create_checked(
            actor_id,
            body.query_id,
            name=body.name,
            description=body.description,
            parameters=body.parameters,
            spec=spec,
            customization=customization,
            origin=origin,
        )

    def create_checked(
        self,
        actor_id: str,
        query_id: str,
        *,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        spec: ChartSpec,
        customization: Customization,
        origin: RequestOrigin,
        details: Mapping[str, Any] | None = None,
        schema: pa.Schema | None = None,
    ) -> ChartOut:
        """Save a chart of ``query_id`` (needs ``view`` on it) once ``spec`` is known to draw
        from its result (chart templates create through here too, with the result's
        ``schema`` they already read)."""
        _refuse_links(actor_id)
        query = self._data.viewable_query(actor_id, query_id)
        self._data.check(actor_id, query, query_bindings(query, parameters), spec, schema)
        with self._db.transaction() as tx:
            self._sharing.require(tx, actor_id, "query", query_id, "view")  # still visible
            chart = Chart(
                owner_id=actor_id,
                name=name,
                description=description,
                query_id=query_id,
                parameters=dict(parameters),
                spec=_stored(spec),
                customization=_stored(customization),
            )
            tx.add(chart)
            tx.flush()
            self._activity.record(
                tx, actor_id, "chart.created", target=(CHART, chart.id), origin=origin,
                details={"name": name, "query_id": query_id, "type": spec.type, **(details or {})},
            )  # fmt: skip
            return self._data.chart_out(actor_id, chart, self.kind.top, customization)

    # -- read -----------------------------------------------------------------------------------

    def get(self, actor_id: str, chart_id: str) -> ChartOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART, chart_id, "view")
            return self._data.chart_out(actor_id, access.obj, access.level)

    def list(self, actor_id: str, query: ChartListQuery) -> ChartPage:
        """The charts the caller may view (optionally of one query), oldest first, in pages."""
        with self._db.transaction() as tx:
            where = [self._sharing.visible(tx, actor_id, CHART)]
            if query.query_id is not None:
                where.append(Chart.query_id == query.query_id)
            total = tx.scalar(select(func.count()).select_from(Chart).where(*where)) or 0
            page = select(Chart).where(*where)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (Chart.created_at > at) | ((Chart.created_at == at) & (Chart.id > last_id))
                )
            rows = list(
                tx.scalars(page.order_by(Chart.created_at, Chart.id).limit(query.limit + 1))
            )
            shown = rows[: query.limit]
            items = [
                self._data.chart_out(actor_id, row, self._level(tx, actor_id, row)) for row in shown
            ]
        more = len(rows) > query.limit
        last = shown[-1] if more else None
        return ChartPage(
            items=items,
            next=encode_cursor(last.created_at, last.id) if last is not None else None,
            total=total,
        )

    def _level(self, tx: Session, actor_id: str, chart: Chart) -> str:
        if is_link_actor(actor_id):
            return "view"
        user = tx.get(User, actor_id)
        return (user and self._sharing.level_of(tx, user, self.kind, chart)) or "view"

    # -- change ---------------------------------------------------------------------------------

    def update(
        self, actor_id: str, chart_id: str, body: ChartPatch, origin: RequestOrigin
    ) -> ChartOut:
        """Change a chart (needs ``edit``). A new query, parameters or spec is checked against
        the query's result again; a new query needs ``view`` on it."""
        spec = parse_spec(body.spec) if body.spec is not None else None
        customization = (
            parse_customization(body.customization) if body.customization is not None else None
        )
        with self._db.transaction() as tx:
            chart: Chart = self._sharing.require(tx, actor_id, CHART, chart_id, "edit").obj
            query_id = body.query_id or chart.query_id
            parameters = body.parameters if body.parameters is not None else chart.parameters
            current_spec = ChartSpec.model_validate(chart.spec)
        drawn = body.query_id is not None or body.parameters is not None or spec is not None
        if drawn:
            if body.query_id is not None and body.query_id != chart.query_id:
                query = self._data.viewable_query(actor_id, query_id)
            else:
                query = self._query_of(chart)
            bindings = query_bindings(query, parameters or {})
            self._data.check(actor_id, query, bindings, spec or current_spec)
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, CHART, chart_id, "edit")
            chart = access.obj
            changed = [name for name, value in body if value is not None]
            if body.name is not None:
                chart.name = body.name
            if body.description is not None:
                chart.description = body.description
            if body.query_id is not None:
                chart.query_id = body.query_id
            if body.parameters is not None:
                chart.parameters = dict(body.parameters)
            if spec is not None:
                chart.spec = _stored(spec)
            if customization is not None:
                chart.customization = _stored(customization)
            tx.flush()
            if not is_link_actor(actor_id):
                self._activity.record(
                    tx, actor_id, "chart.updated", target=(CHART, chart.id), origin=origin,
                    details={"fields": changed},
                )  # fmt: skip
            return self._data.chart_out(actor_id, chart, access.level)

    def delete(self, actor_id: str, chart_id: str, origin: RequestOrigin) -> None:
        """Delete a chart, its grants and everyone's favorites of it (needs ``manage``)."""
        with self._db.transaction() as tx:
            chart: Chart = self._sharing.require(tx, actor_id, CHART, chart_id, "manage").obj
            self._sharing.remove_all(tx, CHART, chart.id)
            self._favorites.remove_for_object(tx, CHART, chart.id)
            tx.delete(chart)
            self._activity.record(
                tx, actor_id, "chart.deleted", target=(CHART, chart_id), origin=origin,
                details={"name": chart.name},
            )  # fmt: skip

    def _query_of(self, chart: Chart) -> SavedQuery:
        with self._db.transaction() as tx:
            query = tx.get(SavedQuery, chart.query_id)
            if query is None:
                raise NotFound("chart not found")
            return query


def _refuse_links(actor_id: str) -> None:
    if is_link_actor(actor_id):
        raise Forbidden("a share link opens one object read only; it cannot create charts")


def _stored(model: ChartSpec | Customization) -> dict[str, Any]:
    """What the store keeps: the fields that were set (so defaults can improve later)."""
    return model.model_dump(mode="json", exclude_unset=True)

"""Dashboards (``/api/dashboards``): tiles on a grid, saved, versioned and shared.

Rules, all here rather than in handlers:

- Permissions come from the sharing service, kind ``dashboard``: ``view`` reads the dashboard
  (and, through the tile-data service, its tiles' data, run with the owner's authority),
  ``edit`` changes and publishes it, ``manage`` deletes and shares it (owner and admins hold
  it). A dashboard the caller cannot view is ``NotFound``. A share link views one dashboard.
- The board's shape (unique tile ids, every tile placed once, no overlap, filters aimed at
  query or chart tiles) is checked by ``schemas.dashboards.check_board``. What the tiles point
  at is checked here, at every save, against the store: a query tile's saved query and a chart
  tile's chart must be visible to whoever saves (a reference already on the dashboard may stay
  without the saver seeing it: an editor keeps the owner's tiles while changing others), fixed
  parameter values must be parameters of the tile's query and fit their types, and a filter's
  targets must be parameters of their tile's query (the chart's query for chart tiles) of a
  compatible type. Each problem is a 422 naming the field (``tiles.2.query_id``,
  ``tiles.4.targets.0.parameter``); an invisible object reads "not found or not visible to
  you", the same as a missing one, so the check leaks nothing.
- Every save that changes something appends a version (``dashboard_versions``); restoring one
  appends a new version equal to it. ``base_version`` older than the current version: 409.
- Titles, descriptions and markdown are stored as given (plain text); renderers escape them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..dashboards.urls import notebook_name, viewer_path
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..schemas.dashboards import (
    ChartTile,
    DashboardCreate,
    DashboardListQuery,
    DashboardOut,
    DashboardPage,
    DashboardPatch,
    FilterTile,
    LayoutItem,
    QueryTile,
    Tile,
)
from ..schemas.parameters import (
    DateRange,
    EnumParameter,
    ParameterList,
    QueryParameter,
    bind_values,
)
from ..schemas.saved_queries import dedupe
from ..store import Database
from ..store.models import Chart, Dashboard, SavedQuery, User
from .activity import ActivityLog, RequestOrigin
from .dashboard_versions import (
    DASHBOARD,
    State,
    append_version,
    changed_fields,
    load_version,
    state_of,
)
from .favorites import FavoriteService
from .pagination import decode_cursor, encode_cursor
from .sharing import SharedKind, SharingService, is_link_actor

__all__ = ["DASHBOARD", "LEVELS", "DashboardService", "layout_of", "tiles_of"]

LEVELS: Final = ("view", "edit", "manage")
QUERY: Final = "query"
CHART: Final = "chart"
TILES: Final = TypeAdapter(list[Tile])
LAYOUT: Final = TypeAdapter(list[LayoutItem])
PARAMETERS: Final = TypeAdapter(ParameterList)


def tiles_of(row: Dashboard) -> list[Tile]:
    """The stored tiles as the schema's models (they were validated when saved)."""
    return TILES.validate_python(row.tiles or [])


def layout_of(row: Dashboard) -> list[LayoutItem]:
    return LAYOUT.validate_python(row.layout or [])


class DashboardService:
    """``/api/dashboards`` and ``/api/dashboards/{id}``. Blocking: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        favorites: FavoriteService,
        *,
        public_url: str,
        dashboards_dir: Path | None = None,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._favorites = favorites
        self._public_url = public_url
        self.dashboards_dir = dashboards_dir
        """Where published notebooks are written (``dashboard_publish``); None: nowhere."""
        self.kind = sharing.register(SharedKind(DASHBOARD, Dashboard, LEVELS, linkable=True))

    # -- create and read -----------------------------------------------------------------------

    def create(self, actor_id: str, body: DashboardCreate, origin: RequestOrigin) -> DashboardOut:
        """A new dashboard owned by the caller, at version 1."""
        _refuse_links(actor_id)
        state: State = {
            "title": body.title,
            "description": body.description,
            "tiles": _dump(body.tiles),
            "layout": _dump(body.layout),
            "refresh_seconds": body.refresh_seconds,
            "tags": dedupe(body.tags),
        }
        with self._db.transaction() as tx:
            self.check_references(tx, actor_id, body.tiles)
            row = Dashboard(owner_id=actor_id, version=1, **state)
            tx.add(row)
            tx.flush()
            append_version(tx, row, actor_id)
            self._activity.record(
                tx, actor_id, "dashboard.created", target=(DASHBOARD, row.id), origin=origin,
                details={"title": row.title, "tiles": len(body.tiles)},
            )  # fmt: skip
            return self.out(tx, row, self.kind.top)

    def get(self, actor_id: str, dashboard_id: str) -> DashboardOut:
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "view")
            return self.out(tx, access.obj, access.level)

    def list(self, actor_id: str, query: DashboardListQuery) -> DashboardPage:
        """The dashboards the caller may view, oldest first, in keyset pages; filtered by text
        in the title or description (``q``), an exact tag, and whose they are (``owner``:
        ``me``, or ``shared`` with me by someone else)."""
        with self._db.transaction() as tx:
            filters = [self._sharing.visible(tx, actor_id, DASHBOARD)]
            if query.q:
                text = query.q.lower()
                filters.append(
                    or_(
                        func.lower(Dashboard.title).contains(text, autoescape=True),
                        func.lower(Dashboard.description).contains(text, autoescape=True),
                    )
                )
            if query.tag:
                # A tag's JSON text (quotes and escapes included) appears in the stored list's
                # JSON text exactly when the list holds that tag.
                filters.append(
                    cast(Dashboard.tags, String).contains(json.dumps(query.tag), autoescape=True)
                )
            if query.owner == "me":
                filters.append(Dashboard.owner_id == actor_id)
            elif query.owner == "shared":
                filters.append(or_(Dashboard.owner_id.is_(None), Dashboard.owner_id != actor_id))
            page = select(Dashboard).where(*filters)
            if query.cursor:
                at, last_id = decode_cursor(query.cursor)
                page = page.where(
                    (Dashboard.created_at > at)
                    | ((Dashboard.created_at == at) & (Dashboard.id > last_id))
                )
            rows = list(
                tx.scalars(page.order_by(Dashboard.created_at, Dashboard.id).limit(query.limit + 1))
            )
            shown = rows[: query.limit]
            items = [self.out(tx, row, self._level(tx, actor_id, row)) for row in shown]
        more = len(rows) > query.limit
        return DashboardPage(
            items=items,
            next=encode_cursor(shown[-1].created_at, shown[-1].id) if more else None,
        )

    # -- change --------------------------------------------------------------------------------

    def update(
        self, actor_id: str, dashboard_id: str, patch: DashboardPatch, origin: RequestOrigin
    ) -> DashboardOut:
        """Change the fields sent (needs ``edit``); a change appends a version, no change
        appends nothing. ``base_version`` older than the current version: 409."""
        sent = patch.model_fields_set - {"base_version"}
        for field in sorted(sent - {"refresh_seconds"}):
            if getattr(patch, field) is None:
                raise Invalid(field, "may not be null (leave it out to keep it)")
        with _conflicts_as_409(), self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "edit")
            row: Dashboard = access.obj
            if patch.base_version is not None and patch.base_version != row.version:
                raise Conflict(
                    f"the dashboard is at version {row.version}, not {patch.base_version}: "
                    "someone saved it since you loaded it; reload and apply your change again"
                )
            state = state_of(row)
            for field in sent & {"title", "description", "refresh_seconds"}:
                state[field] = getattr(patch, field)
            if patch.tags is not None:
                state["tags"] = dedupe(patch.tags)
            if patch.tiles is not None and patch.layout is not None:
                state["tiles"], state["layout"] = _dump(patch.tiles), _dump(patch.layout)
            self._save(tx, actor_id, row, state, origin, "dashboard.updated")
            return self.out(tx, row, access.level)

    def restore(
        self, actor_id: str, dashboard_id: str, number: int, origin: RequestOrigin
    ) -> DashboardOut:
        """Append a new version equal to version ``number`` (needs ``edit``); older versions
        stay as they are. The restored tiles are checked like any save (a query deleted or
        hidden since then is a 422)."""
        with _conflicts_as_409(), self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "edit")
            state = state_of(load_version(tx, dashboard_id, number))
            self._save(
                tx, actor_id, access.obj, state, origin, "dashboard.restored", restored_from=number
            )
            return self.out(tx, access.obj, access.level)

    def delete(self, actor_id: str, dashboard_id: str, origin: RequestOrigin) -> None:
        """Delete a dashboard with its versions, grants (share links and kernel tokens too),
        favorites and published notebook (needs ``manage``)."""
        with self._db.transaction() as tx:
            access = self._sharing.require(tx, actor_id, DASHBOARD, dashboard_id, "manage")
            row: Dashboard = access.obj
            self._sharing.remove_all(tx, DASHBOARD, dashboard_id)
            self._favorites.remove_for_object(tx, DASHBOARD, dashboard_id)
            tx.delete(row)  # its versions go with it (ON DELETE CASCADE)
            self._activity.record(
                tx, actor_id, "dashboard.deleted", target=(DASHBOARD, dashboard_id),
                origin=origin, details={"title": row.title},
            )  # fmt: skip
        self.remove_notebook(dashboard_id)

    def remove_notebook(self, dashboard_id: str) -> bool:
        """Remove the published notebook of ``dashboard_id``, if there is one."""
        if self.dashboards_dir is None:
            return False
        with suppress(FileNotFoundError):
            (self.dashboards_dir / notebook_name(dashboard_id)).unlink()
            return True
        return False

    # -- what tiles point at -------------------------------------------------------------------

    def check_references(
        self,
        tx: Session,
        actor_id: str,
        tiles: Sequence[Tile],
        kept: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """Every saved query and chart the tiles name exists and is visible to ``actor_id``
        (or is in ``kept``: already on the dashboard), fixed parameter values fit the tile's
        query, and filters bind parameters of their targets' queries with a compatible type.
        ``Invalid`` names the first offending field."""
        parameters_of: dict[str, dict[str, QueryParameter]] = {}
        for index, tile in enumerate(tiles):
            if isinstance(tile, QueryTile):
                field = f"tiles.{index}.query_id"
                query = self._referenced(tx, actor_id, QUERY, tile.query_id, field, kept)
            elif isinstance(tile, ChartTile):
                field = f"tiles.{index}.chart_id"
                chart: Chart = self._referenced(tx, actor_id, CHART, tile.chart_id, field, kept)
                query = tx.get(SavedQuery, chart.query_id)
                if query is None:
                    raise Invalid(field, f"chart {tile.chart_id!r} not found or not visible to you")
            else:
                continue
            parameters = {p.name: p for p in PARAMETERS.validate_python(query.parameters or [])}
            _check_fixed_values(index, tile.parameters, parameters)
            parameters_of[tile.id] = parameters
        for index, tile in enumerate(tiles):
            if not isinstance(tile, FilterTile):
                continue
            for number, target in enumerate(tile.targets):
                field = f"tiles.{index}.targets.{number}.parameter"
                aimed = parameters_of[target.tile].get(target.parameter)
                if aimed is None:
                    raise Invalid(
                        field,
                        f"{target.parameter!r} is not a parameter of the query of tile "
                        f"{target.tile!r}",
                    )
                problem = _incompatible(tile.parameter, aimed)
                if problem is not None:
                    raise Invalid(field, problem)

    def _referenced(
        self,
        tx: Session,
        actor_id: str,
        kind: str,
        object_id: str,
        field: str,
        kept: frozenset[tuple[str, str]],
    ) -> Any:
        if (kind, object_id) in kept:
            found = tx.get(self._sharing.kind(kind).model, object_id)
            if found is not None:
                return found
        try:
            return self._sharing.require(tx, actor_id, kind, object_id, "view").obj
        except NotFound:
            raise Invalid(field, f"{kind} {object_id!r} not found or not visible to you") from None

    # -- helpers -------------------------------------------------------------------------------

    def _save(
        self,
        tx: Session,
        actor_id: str,
        row: Dashboard,
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
        if "tiles" in changed or restored_from is not None:
            kept = frozenset(_references(state_of(row)["tiles"]))
            self.check_references(tx, actor_id, TILES.validate_python(state["tiles"]), kept)
        for field in changed:
            setattr(row, field, state[field])
        row.version += 1
        append_version(tx, row, actor_id, restored_from)
        tx.flush()
        details: dict[str, Any] = {"title": row.title, "version": row.version, "changed": changed}
        if restored_from is not None:
            details["restored_from"] = restored_from
        self._activity.record(
            tx, actor_id, event, target=(DASHBOARD, row.id), origin=origin, details=details
        )

    def _level(self, tx: Session, actor_id: str, row: Dashboard) -> str:
        if is_link_actor(actor_id):
            return "view"
        user = tx.get(User, actor_id)
        return (user and self._sharing.level_of(tx, user, self.kind, row)) or "view"

    def viewer_url(self, dashboard_id: str) -> str:
        """Where viewers open ``dashboard_id`` (from ``public_url``, never a Host header)."""
        return viewer_path(self._public_url, dashboard_id)

    def out(self, tx: Session, row: Dashboard, level: str) -> DashboardOut:
        """The response for ``row`` as seen by a caller holding ``level``; the owner is named
        (``owner_name``) so a shared dashboard's row can say whose it is."""
        published = row.published_version is not None
        owner = tx.get(User, row.owner_id) if row.owner_id is not None else None
        return DashboardOut(
            id=row.id,
            title=row.title,
            description=row.description,
            tiles=tiles_of(row),
            layout=layout_of(row),
            refresh_seconds=row.refresh_seconds,
            tags=list(row.tags or []),
            owner_id=row.owner_id,
            owner_name=owner.username if owner is not None else None,
            version=row.version,
            permission=level,
            published_version=row.published_version,
            published_at=row.published_at,
            viewer_url=self.viewer_url(row.id) if published else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _dump(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


def _references(tiles: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    """The (kind, id) of each saved object stored tiles point at."""
    for tile in tiles:
        if tile.get("type") == "query":
            yield QUERY, tile["query_id"]
        elif tile.get("type") == "chart":
            yield CHART, tile["chart_id"]


def _check_fixed_values(
    index: int, values: Mapping[str, Any], parameters: Mapping[str, QueryParameter]
) -> None:
    """A tile's fixed ``parameters`` name parameters of its query, with values of their type."""
    for name, value in values.items():
        field = f"tiles.{index}.parameters.{name}"
        parameter = parameters.get(name)
        if parameter is None:
            raise Invalid(field, "is not a parameter of the tile's query")
        try:
            bind_values([parameter], {name: value})
        except Invalid as error:
            raise Invalid(field, error.message.removeprefix(f"{error.field}: ")) from None


def _incompatible(control: QueryParameter, aimed: QueryParameter) -> str | None:
    """Why a filter defined as ``control`` cannot set the query parameter ``aimed``, or None.

    A filter of a list of options fits any parameter that accepts every option; otherwise the
    types must match (text, number, date, date range) and the filter's default must fit.
    """
    if isinstance(control, EnumParameter):
        for option in control.options:
            problem = _refused(aimed, option)
            if problem is not None:
                return f"the filter's option {option!r} does not fit {aimed.name!r}: {problem}"
        return None
    if control.type != aimed.type:
        return (
            f"a {control.type} filter cannot set {aimed.name!r}, a {aimed.type} parameter of "
            "that query"
        )
    default = control.default
    if isinstance(default, DateRange):
        default = {"start": default.start, "end": default.end}
    if default is not None:
        problem = _refused(aimed, default)
        if problem is not None:
            return f"the filter's default does not fit {aimed.name!r}: {problem}"
    return None


def _refused(parameter: QueryParameter, value: Any) -> str | None:
    try:
        bind_values([parameter], {parameter.name: value})
    except Invalid as error:
        return error.message.removeprefix(f"{error.field}: ")
    return None


def _refuse_links(actor_id: str) -> None:
    if is_link_actor(actor_id):
        raise Forbidden("a share link opens one dashboard read only; it cannot create one")


@contextmanager
def _conflicts_as_409() -> Iterator[None]:
    """Two saves of one dashboard at once both write the next version number; the unique
    (dashboard, version) key refuses the second, which the caller hears as a 409."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            "the dashboard was saved by someone else at the same moment; reload and retry"
        ) from None

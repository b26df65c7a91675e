"""The REST routes of the extension (relative to the server's ``base_url``)."""

from __future__ import annotations

from typing import Final

from ..auth import resources as res
from . import (
    activity,
    admin,
    api_keys,
    auth,
    chart_export,
    charts,
    dashboard_tiles,
    dashboard_view,
    dashboards,
    datasources,
    favorites,
    query,
    query_export,
    query_templates,
    saved_queries,
    settings,
)
from .base import AnalyticsHandler
from .sharing import share_routes
from .system import HealthHandler, InfoHandler, NotFoundHandler, OpenAPIHandler
from .user import AvatarHandler, UserHandler, UserSearchHandler

ROUTES: Final[list[tuple[str, type[AnalyticsHandler]]]] = [
    (r"/api/health", HealthHandler),
    (r"/api/analytics/info", InfoHandler),
    (r"/api/analytics/openapi\.json", OpenAPIHandler),
    (r"/api/user", UserHandler),
    (r"/api/user/avatar", AvatarHandler),
    (r"/api/users", UserSearchHandler),
    *activity.ROUTES,
    *api_keys.ROUTES,
    *settings.ROUTES,
    *auth.ROUTES,
    *admin.ROUTES,
    *datasources.ROUTES,
    *query.ROUTES,
    *query_templates.ROUTES,
    *query_export.ROUTES,
    *saved_queries.ROUTES,
    *favorites.ROUTES,
    *charts.ROUTES,
    *chart_export.ROUTES,
    *share_routes("query", res.QUERY, ("query", "query_template")),
    *share_routes("chart", res.CHART, ("chart", "chart_template")),
    *dashboards.ROUTES,
    *dashboard_tiles.ROUTES,
    *share_routes("dashboards", res.DASHBOARDS, ("dashboard",)),
    *dashboard_view.ROUTES,  # the viewer pages and Voila paths (pages, outside /api)
    # Last: anything else under our areas answers a JSON 404 instead of Jupyter's HTML page.
    (
        r"/api/(?:admin|analytics|auth|chart|dashboards|datasources|query|users?)/.*",
        NotFoundHandler,
    ),
]

PUBLIC_ROUTES: Final[dict[str, frozenset[str]]] = {
    r"/api/health": frozenset({"GET"}),
    **auth.PUBLIC,
}
"""Every route verb reachable without credentials. The route-auth test reads this list and
fails for any other verb that answers an anonymous caller with anything but 401."""

"""The resources our handlers ask the Authorizer about: ``@authorized`` names one of these.

One list, so an Authorizer (ours in multi-user mode, or a JupyterHub scope mapping) can grant or
refuse each area without reading handler code.
"""

from typing import Final

USERS: Final = "analytics_ext:users"
"""The caller's own account: profile, avatar."""

SYSTEM: Final = "analytics_ext:system"
"""Server information and the API description."""

API_KEYS: Final = "analytics_ext:api_keys"
"""The caller's API keys (creating one needs a login or an admin-scoped key)."""

ADMIN: Final = "analytics_ext:admin"
"""Server administration: every user account (admins only)."""

DATASOURCES: Final = "analytics_ext:datasources"
"""Datasources, their schemas and previews, and their grants (each checked by the sharing
service: view, use, manage)."""

QUERY: Final = "analytics_ext:query"
"""Running queries on datasources the caller may use, their results and history; saved
queries, their versions, favorites, templates, grants and exports (each checked by the
sharing service: view, edit, manage)."""

CHART: Final = "analytics_ext:chart"
"""Charts, chart templates, their grants and exports (checked like saved queries)."""

DASHBOARDS: Final = "analytics_ext:dashboards"
"""Dashboards, their versions, publishing, tile data, exports and grants, and the published
viewer pages (checked by the sharing service: view, edit, manage)."""

ALL_RESOURCES: Final = frozenset(
    {USERS, SYSTEM, API_KEYS, ADMIN, DATASOURCES, QUERY, CHART, DASHBOARDS}
)

SHARE_LINK_RESOURCES: Final = frozenset({QUERY, CHART, DASHBOARDS})
"""What a share link may be presented to at all; the sharing service then limits it to the one
object it names, read only."""

NOTEBOOK_RESOURCES: Final = frozenset(
    {"kernels", "sessions", "contents", "terminals", "nbconvert", "lsp"}
)
"""Jupyter resources that run code or touch the server's files: admins and the ``notebook`` role."""

ADMIN_ONLY_RESOURCES: Final = frozenset({"server", ADMIN})
"""Shutting the server down, and managing accounts."""

READABLE_JUPYTER_RESOURCES: Final = frozenset({"api", "config", "events", "kernelspecs", "csp"})
"""Jupyter resources every logged-in user may read, so JupyterLab itself loads for them."""

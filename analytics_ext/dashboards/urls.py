"""Where published dashboards live on the Jupyter server, in one place for every module.

Viewers open ``{base_url}analytics/dashboards/<id>``; the Voila process's own pages, assets and
kernel websockets are proxied under ``{base_url}analytics/voila/``, which is also the Voila
process's ``base_url``, so the paths it writes into its pages need no rewriting.
"""

from __future__ import annotations

from jupyter_server.utils import url_path_join

VIEWER_PREFIX = "analytics/dashboards"
VOILA_PREFIX = "analytics/voila/"


def notebook_name(dashboard_id: str) -> str:
    """The published notebook's file name in ``dashboards_dir``."""
    return f"{dashboard_id}.ipynb"


def viewer_path(base_url: str, dashboard_id: str) -> str:
    """The viewer page's path under the server's ``base_url``."""
    return url_path_join(base_url, VIEWER_PREFIX, dashboard_id)


def voila_base_url(base_url: str) -> str:
    """The Voila process's ``base_url``: the prefix the proxy forwards unchanged."""
    return url_path_join(base_url, VOILA_PREFIX)

"""analytics_ext: a Jupyter-native analytics toolkit.

A Jupyter Server extension (REST services over a SQLAlchemy store), a JupyterLab sidebar,
notebook widgets and Voila dashboards, all behind one permission check. See README.md.
"""

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import AnalyticsExtension

    return [{"module": "analytics_ext", "app": AnalyticsExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "analytics-ext"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext analytics_ext``: the ``%%analytics`` cell magic (``analytics_ext.magics``)."""
    from .magics import load_ipython_extension as load_magics

    load_magics(ipython)

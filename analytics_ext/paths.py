"""Default locations, all under the Jupyter data dir: one ``JUPYTER_DATA_DIR`` moves them all."""

from __future__ import annotations

from pathlib import Path

from jupyter_core.paths import jupyter_data_dir


def data_dir() -> Path:
    return Path(jupyter_data_dir()) / "analytics_ext"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'analytics.sqlite'}"

"""Admin subcommands of ``jupyter analytics``: store migrations and demo data.

They read the same configuration files as the server (``jupyter_server_config.*`` and
``jupyter_analytics_ext_config.*``), so ``db upgrade`` migrates the store the server will open.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_core.application import JupyterApp
from traitlets import Bool, Float, Unicode
from traitlets.config import Application

from ._version import __version__

if TYPE_CHECKING:
    from .store import Database


def _configured_extension(app: JupyterApp):  # -> AnalyticsExtension (import cycle otherwise)
    from .app import AnalyticsExtension

    for name in ("jupyter_server_config", "jupyter_analytics_ext_config"):
        Application.load_config_file(app, name, path=app.config_file_paths)
    # Command-line flags (--AnalyticsExtension.db_url=...) win over files, as in the server.
    app.update_config(app.cli_config)
    return AnalyticsExtension(config=app.config)


class _StoreApp(JupyterApp):
    version = __version__

    @property
    def classes(self) -> list:  # type: ignore[override]
        from .app import AnalyticsExtension

        return [AnalyticsExtension]

    @contextmanager
    def open_store(self) -> Iterator[Database]:
        """The store the server is configured with, disposed of afterwards."""
        from .store import Database

        db = Database(_configured_extension(self).db_url)
        try:
            yield db
        finally:
            db.dispose()


class DbUpgradeApp(_StoreApp):
    name = "jupyter-analytics-db-upgrade"
    description = "Apply pending migrations to the analytics store (AnalyticsExtension.db_url)."

    def start(self) -> None:
        from .store.schema import current_revision, head_revision, upgrade_schema

        with self.open_store() as db:
            before = current_revision(db)
            upgrade_schema(db)
            print(f"store ({db.backend}) upgraded from {before or 'empty'} to {head_revision()}")


class DbCurrentApp(_StoreApp):
    name = "jupyter-analytics-db-current"
    description = "Show the store's schema revision and the one this version expects."

    def start(self) -> None:
        from .store.schema import current_revision, head_revision

        with self.open_store() as db:
            current, head = current_revision(db), head_revision()
            state = "up to date" if current == head else "needs `jupyter analytics db upgrade`"
            print(f"store ({db.backend}) at {current or 'empty'}; code expects {head}: {state}")
        if current != head:
            sys.exit(1)


class DbApp(JupyterApp):
    name = "jupyter-analytics-db"
    description = "Manage the analytics store: `db upgrade`, `db current`."
    version = __version__
    subcommands = {
        "upgrade": (DbUpgradeApp, DbUpgradeApp.description),
        "current": (DbCurrentApp, DbCurrentApp.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_subcommands()
            self.exit(1)
        self.subapp.start()


class DemoDataApp(_StoreApp):
    name = "jupyter-analytics-demo-data"
    description = "Write the retail demo databases (DuckDB and SQLite), offline and deterministic."

    out = Unicode(
        "", help="Folder to write to (default: AnalyticsExtension.demo_data_dir).", config=True
    )
    scale = Float(1.0, help="Size factor: 1.0 is about one million order lines.", config=True)
    force = Bool(False, help="Regenerate even if complete files for this scale exist.", config=True)

    aliases = {"out": "DemoDataApp.out", "scale": "DemoDataApp.scale"}
    flags = {"force": ({"DemoDataApp": {"force": True}}, "Regenerate the files.")}

    def start(self) -> None:
        from .demo.__main__ import summary_table
        from .demo.retail import write_demo_data

        out = Path(self.out or _configured_extension(self).demo_data_dir)
        started = time.perf_counter()
        files = write_demo_data(out, scale=self.scale, force=self.force, progress=print)
        print(summary_table(files, time.perf_counter() - started))

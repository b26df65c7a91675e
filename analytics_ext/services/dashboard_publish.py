"""Publishing a dashboard: the notebook Voila renders for its viewers.

``POST /api/dashboards/{id}/publish`` (needs ``edit``) writes ``<dashboards_dir>/<id>.ipynb``
with nbformat: one code cell, ``from analytics_ext.dashboards.view import show`` and
``show("<id>")``, which draws the dashboard as saved, through the REST API, with the kernel's
token for that dashboard. The notebook holds no query, no data and no credential, so writing
it again is all "publishing" needs; its metadata records the dashboard id, the version
published and the title (Voila's page title). ``DELETE`` removes it.

The file is written atomically (a temporary file in the same folder, then ``os.replace``) so
the Voila process, which serves this folder, never reads half a notebook. The name comes from
the dashboard id, which is checked to be 22 url-safe characters before any path is built.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Final

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from sqlalchemy import select

from ..dashboards.urls import notebook_name
from ..errors import NotFound, Unavailable
from ..schemas.dashboards import PublishOut
from ..store import Database
from ..store.models import Dashboard
from ..store.types import utcnow
from .activity import ActivityLog, RequestOrigin
from .dashboards import DASHBOARD, DashboardService
from .sharing import SharingService

DASHBOARD_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
FOLDER_MODE: Final = 0o755
FILE_MODE: Final = 0o644
"""Readable by the Voila process, whichever account it runs as; written only by the server."""
PRUNE_AFTER_SECONDS: Final = 300.0
"""A notebook younger than this is never pruned: it may belong to a publish whose
transaction has not committed yet."""


def notebook_path(folder: Path, dashboard_id: str) -> Path:
    """``folder/<id>.ipynb`` for a well-formed id; anything else (``../x``) is ``NotFound``,
    so no caller can name a file outside ``folder``."""
    if not DASHBOARD_ID.fullmatch(dashboard_id):
        raise NotFound("dashboard not found")
    return folder / notebook_name(dashboard_id)


def build_notebook(dashboard_id: str, version: int, title: str) -> nbformat.NotebookNode:
    """The published notebook of a dashboard (nbformat 4, validated)."""
    notebook = new_notebook(
        metadata={
            "analytics_ext": {"dashboard_id": dashboard_id, "version": version},
            "title": title,
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        cells=[
            new_code_cell(
                "from analytics_ext.dashboards.view import show\n"
                f"show({json.dumps(dashboard_id)}, version={int(version)})"
            )
        ],
    )
    nbformat.validate(notebook)
    return notebook


def write_atomically(path: Path, text: str) -> None:
    """``text`` at ``path`` all at once: readers see the old file or the new one, never part."""
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.chmod(FOLDER_MODE)  # mkdir's mode is masked by the umask
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class DashboardPublishService:
    """``POST/DELETE /api/dashboards/{id}/publish``. Blocking: call through ``Services.run``."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        sharing: SharingService,
        dashboards: DashboardService,
        dashboards_dir: Path | None,
    ) -> None:
        self._db = db
        self._activity = activity
        self._sharing = sharing
        self._dashboards = dashboards
        self.dashboards_dir = dashboards_dir

    def _folder(self) -> Path:
        if self.dashboards_dir is None:
            raise Unavailable("this server has no folder for published dashboards")
        return self.dashboards_dir

    def publish(self, actor_id: str, dashboard_id: str, origin: RequestOrigin) -> PublishOut:
        """Write the dashboard's notebook (needs ``edit``) and record the version published.
        Publishing again rewrites it (with the current version and title)."""
        path = notebook_path(self._folder(), dashboard_id)
        with self._db.transaction() as tx:
            row: Dashboard = self._sharing.require(
                tx, actor_id, DASHBOARD, dashboard_id, "edit"
            ).obj
            notebook = build_notebook(row.id, row.version, row.title)
            write_atomically(path, nbformat.writes(notebook))
            row.published_version = row.version
            row.published_at = utcnow()
            tx.flush()
            self._activity.record(
                tx, actor_id, "dashboard.published", target=(DASHBOARD, row.id), origin=origin,
                details={"title": row.title, "version": row.version},
            )  # fmt: skip
            published = PublishOut(
                dashboard_id=row.id,
                version=row.version,
                notebook=path.name,
                viewer_url=self._dashboards.viewer_url(row.id),
                published_at=row.published_at,
            )
        self.prune()
        return published

    def unpublish(self, actor_id: str, dashboard_id: str, origin: RequestOrigin) -> None:
        """Remove the dashboard's notebook (needs ``edit``): its viewer page stops serving.
        Unpublishing what is not published changes nothing."""
        path = notebook_path(self._folder(), dashboard_id)
        with self._db.transaction() as tx:
            row: Dashboard = self._sharing.require(
                tx, actor_id, DASHBOARD, dashboard_id, "edit"
            ).obj
            path.unlink(missing_ok=True)
            if row.published_version is None:
                return
            row.published_version = None
            row.published_at = None
            self._activity.record(
                tx, actor_id, "dashboard.unpublished", target=(DASHBOARD, row.id),
                origin=origin, details={"title": row.title},
            )  # fmt: skip

    def prune(self, older_than: float = PRUNE_AFTER_SECONDS) -> list[str]:
        """Remove notebooks of dashboards that no longer exist or are no longer published (a
        deleted account's dashboards go in the store's transaction, which touches no files);
        the ids removed. Files that are not dashboard notebooks, and notebooks written in the
        last ``older_than`` seconds, are left alone."""
        folder = self.dashboards_dir
        if folder is None or not folder.is_dir():
            return []
        cutoff = time.time() - older_than
        found = {
            entry.stem: entry
            for entry in folder.iterdir()
            if entry.suffix == ".ipynb"
            and DASHBOARD_ID.fullmatch(entry.stem)
            and _written_before(entry, cutoff)
        }
        if not found:
            return []
        with self._db.transaction() as tx:
            published = set(
                tx.scalars(
                    select(Dashboard.id).where(
                        Dashboard.id.in_(found), Dashboard.published_version.is_not(None)
                    )
                )
            )
        removed = sorted(set(found) - published)
        for dashboard_id in removed:
            found[dashboard_id].unlink(missing_ok=True)
        return removed


def _written_before(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime <= cutoff
    except OSError:  # removed meanwhile
        return False

"""The "demo" datasource: the retail demo database, registered for the owner at server start.

``make demo`` (``jupyter analytics demo-data``) writes ``retail.duckdb`` into ``demo_data_dir``;
without this module a user would still have to define a datasource on it by hand before the
example notebooks or the query editor could use it. At start (``AnalyticsExtension
.demo_datasource``, on by default) the server gives the owner a datasource named ``demo`` on that
file, through ``DatasourceService.create`` like any other: the URL policy applies (the file must
lie in ``datasource_dirs``, DuckDB must be an allowed dialect) and the file is opened read-only.

The rules, chosen so that the server never surprises the person who owns the data:

- **Once per store.** The registration leaves a ``datasource.demo_registered`` event in the
  activity log; once it is there the server never creates the datasource again. A ``demo``
  datasource the owner deleted stays deleted and one they renamed keeps its new name (to get it
  back, define a DuckDB datasource on ``<demo_data_dir>/retail.duckdb``).
- **Never a duplicate, never an overwrite.** Names are unique per owner in the store, so of two
  processes starting on one store at once only one inserts; the other finds the name taken by a
  datasource on the same file and adopts it. A ``demo`` datasource the owner made by hand on the
  same file is adopted too; one on another database is left alone and nothing is created.
- **Nothing when there is nothing.** No demo file yet (run ``jupyter analytics demo-data``, then
  restart), no owner account (a JupyterHub deployment), or a policy that refuses the file: the
  log says so at INFO or WARNING, and the server starts as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import Session

from ..errors import AnalyticsError, Conflict
from ..schemas.datasources import DatasourceCreate
from ..store import Database
from ..store.models import ActivityEvent, Datasource, User
from .activity import ActivityLog, RequestOrigin
from .datasources import DATASOURCE, DatasourceService
from .users import UserService

log = logging.getLogger(__name__)

DEMO_DATASOURCE_NAME: Final = "demo"
DEMO_DUCKDB_FILE: Final = "retail.duckdb"
REGISTERED_EVENT: Final = "datasource.demo_registered"
"""The activity event that marks a store as having had its demo datasource."""


class DemoOutcome(StrEnum):
    CREATED = "created"
    ADOPTED = "adopted"
    """A ``demo`` datasource on the demo file was already there (a racing process, or by hand)."""
    ALREADY_REGISTERED = "already_registered"
    NAME_TAKEN = "name_taken"
    """The owner has a ``demo`` datasource on another database: left alone."""
    NO_FILE = "no_file"
    NO_OWNER = "no_owner"
    REFUSED = "refused"
    """The URL policy refused the file (``datasource_dirs``, ``allowed_dialects``)."""


@dataclass(frozen=True)
class DemoRegistration:
    outcome: DemoOutcome
    datasource_id: str | None = None
    detail: str = ""


class DemoDatasourceService:
    """Blocking (store and file system): called once at server start, before requests arrive."""

    def __init__(
        self,
        db: Database,
        activity: ActivityLog,
        users: UserService,
        datasources: DatasourceService,
    ) -> None:
        self._db = db
        self._activity = activity
        self._users = users
        self._datasources = datasources

    def ensure(self, owner_username: str | None, demo_dir: Path) -> DemoRegistration:
        """Register the demo database for the owner unless the rules above say otherwise.

        ``owner_username`` is the identity provider's owner name (the owner account is created
        if it does not exist yet, as the first request would); None when the identity provider
        has no owner (JupyterHub), then only an existing owner account is used.
        """
        result = self._ensure(owner_username, Path(demo_dir).expanduser())
        level = logging.WARNING if result.outcome is DemoOutcome.REFUSED else logging.INFO
        log.log(level, "analytics_ext: demo datasource: %s%s", result.outcome.value,
                f" ({result.detail})" if result.detail else "")  # fmt: skip
        return result

    def _ensure(self, owner_username: str | None, demo_dir: Path) -> DemoRegistration:
        path = demo_dir / DEMO_DUCKDB_FILE
        if self._registered():
            return DemoRegistration(DemoOutcome.ALREADY_REGISTERED)
        if not path.is_file():
            return DemoRegistration(
                DemoOutcome.NO_FILE,
                detail=f"{path} does not exist; run `jupyter analytics demo-data`",
            )
        owner_id = self._owner_id(owner_username)
        if owner_id is None:
            return DemoRegistration(DemoOutcome.NO_OWNER, detail="this server has no owner account")
        existing = self._adopt(owner_id, path)
        if existing is not None:
            return existing
        body = DatasourceCreate(name=DEMO_DATASOURCE_NAME, url=_duckdb_url(path))
        try:
            created = self._datasources.create(owner_id, body, RequestOrigin())
        except (Conflict, IntegrityError):
            # Another process inserted it between our look and our insert: theirs stands.
            adopted = self._adopt(owner_id, path)
            return adopted or DemoRegistration(DemoOutcome.NAME_TAKEN)
        except AnalyticsError as error:  # Invalid or Forbidden from the URL policy
            return DemoRegistration(DemoOutcome.REFUSED, detail=error.message)
        with self._db.transaction() as tx:
            self._mark(tx, owner_id, created.id, path)
        return DemoRegistration(DemoOutcome.CREATED, created.id, str(path))

    def _registered(self) -> bool:
        with self._db.transaction() as tx:
            marker = select(ActivityEvent.id).where(ActivityEvent.type == REGISTERED_EVENT)
            return tx.scalar(marker.limit(1)) is not None

    def _owner_id(self, owner_username: str | None) -> str | None:
        if owner_username:
            return self._users.ensure_owner(owner_username, owner_username).id
        with self._db.transaction() as tx:
            return tx.scalar(select(User.id).where(User.is_owner.is_(True)))

    def _adopt(self, owner_id: str, path: Path) -> DemoRegistration | None:
        """The outcome when the owner already has a datasource named ``demo``, else None."""
        with self._db.transaction() as tx:
            row = tx.scalars(
                select(Datasource).where(
                    Datasource.owner_id == owner_id, Datasource.name == DEMO_DATASOURCE_NAME
                )
            ).first()
            if row is None:
                return None
            if not _same_file(row, path):
                return DemoRegistration(
                    DemoOutcome.NAME_TAKEN,
                    row.id,
                    "the owner's `demo` datasource is another database",
                )
            self._mark(tx, owner_id, row.id, path)
            return DemoRegistration(DemoOutcome.ADOPTED, row.id, str(path))

    def _mark(self, tx: Session, owner_id: str, datasource_id: str, path: Path) -> None:
        self._activity.record(
            tx, owner_id, REGISTERED_EVENT, target=(DATASOURCE, datasource_id),
            details={"name": DEMO_DATASOURCE_NAME, "file": path.name},
        )  # fmt: skip


def _duckdb_url(path: Path) -> str:
    return URL.create("duckdb", database=str(path.resolve())).render_as_string()


def _same_file(row: Datasource, path: Path) -> bool:
    try:
        url = make_url(row.url)
    except ArgumentError:
        return False
    if url.get_backend_name() != "duckdb" or not url.database:
        return False
    return Path(url.database).expanduser().resolve() == path.resolve()

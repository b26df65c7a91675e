"""Bring a store to the schema this version of the code expects, or refuse with a clear message.

Migrations live inside the package (``store/migrations``) so an installed wheel can upgrade the
store it finds; nothing ever alters tables outside Alembic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPGRADE_COMMAND = "jupyter analytics db upgrade"


class SchemaMismatch(RuntimeError):
    """The store's schema is not the one this code was written for."""


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(db: Database, revision: str = "head") -> None:
    """Apply every pending migration in one transaction per revision."""
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_schema(db: Database, *, auto_upgrade: bool) -> None:
    """Upgrade an older store when allowed; refuse a newer or unknown one with what to do."""
    current = current_revision(db)
    head = head_revision()
    if current == head:
        return
    known = {
        script.revision
        for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    }
    if current is not None and current not in known:
        raise SchemaMismatch(
            f"the analytics store ({db.backend}) is at schema revision {current!r}, which "
            f"this version of analytics_ext (expects {head!r}) does not know: it was written "
            "by a newer release. Upgrade analytics_ext, or point AnalyticsExtension.db_url at "
            "another store."
        )
    if not auto_upgrade:
        raise SchemaMismatch(
            f"the analytics store ({db.backend}) is at schema revision {current!r} but this "
            f"version needs {head!r}. Run `{UPGRADE_COMMAND}` (or set "
            "AnalyticsExtension.auto_upgrade_db=True)."
        )
    upgrade_schema(db)

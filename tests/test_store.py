"""The store: migrations match the models, schema checks at start, WAL on SQLite, the db command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from analytics_ext.store import Database, SchemaMismatch, ensure_schema, upgrade_schema
from analytics_ext.store.models import Base
from analytics_ext.store.schema import UPGRADE_COMMAND, current_revision, head_revision


@pytest.fixture
def db(store_url: str):
    database = Database(store_url)
    yield database
    database.dispose()


def test_migrations_match_the_models(db: Database):
    upgrade_schema(db)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert current_revision(db) == head_revision()


def test_every_migration_downgrades_cleanly(db: Database):
    upgrade_schema(db)
    from alembic import command

    from analytics_ext.store.schema import _alembic_config

    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_schema(db)
    assert "users" in inspect(db.engine).get_table_names()


def test_empty_store_is_upgraded_at_start(db: Database):
    ensure_schema(db, auto_upgrade=True)
    assert current_revision(db) == head_revision()


def test_outdated_store_is_refused_when_auto_upgrade_is_off(db: Database):
    with pytest.raises(SchemaMismatch) as refused:
        ensure_schema(db, auto_upgrade=False)
    assert UPGRADE_COMMAND in str(refused.value)
    assert "users" not in inspect(db.engine).get_table_names()  # nothing half-applied


def test_store_from_a_newer_release_is_refused(db: Database):
    upgrade_schema(db)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaMismatch) as refused:
        ensure_schema(db, auto_upgrade=True)
    assert "newer release" in str(refused.value)


def test_sqlite_store_uses_wal_and_foreign_keys(sqlite_url: str):
    db = Database(sqlite_url)
    try:
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_timestamps_come_back_in_utc(db: Database):
    from analytics_ext.services.activity import ActivityLog
    from analytics_ext.services.users import UserService

    upgrade_schema(db)
    owner = UserService(db, ActivityLog()).ensure_owner("Ada", "Ada")
    assert owner.created_at.utcoffset().total_seconds() == 0
    assert owner.username == "ada"  # canonicalised


def _jupyter_analytics(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "analytics_ext.app", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_db_command_upgrades_the_configured_store(store_url: str, tmp_path):
    flag = f"--AnalyticsExtension.db_url={store_url}"
    before = _jupyter_analytics("db", "current", flag, tmp_path=tmp_path)
    assert before.returncode == 1, before.stderr
    assert "jupyter analytics db upgrade" in before.stdout
    upgraded = _jupyter_analytics("db", "upgrade", flag, tmp_path=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert head_revision() in upgraded.stdout
    after = _jupyter_analytics("db", "current", flag, tmp_path=tmp_path)
    assert after.returncode == 0, after.stderr
    assert "up to date" in after.stdout


def test_db_command_reads_the_server_config_file(sqlite_url: str, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        f"c.AnalyticsExtension.db_url = {sqlite_url!r}\n"
    )
    upgraded = _jupyter_analytics("db", "upgrade", tmp_path=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    db = Database(sqlite_url)
    try:
        assert current_revision(db) == head_revision()
    finally:
        db.dispose()

"""User settings: read with defaults and upgrades, replace, merge, and record what changed.

Other services read a user's preferences with ``SettingsService.get`` (the query runner's
default row limit, chart defaults). Writes are last-write-wins unless the caller sends the ETag
it last saw: the check and the write happen under one row lock, so two editors who both read
the same version cannot both win.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..errors import AnalyticsError, NotFound
from ..schemas.settings import SETTINGS_VERSION, UserSettings, UserSettingsPatch
from ..store import Database
from ..store.models import User, UserSettingsDocument
from .activity import ActivityLog

log = logging.getLogger(__name__)

_UPSERTS: Final = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
"""The store backends (DESIGN.md §5), each with its ``INSERT ... ON CONFLICT`` construct."""


class PreconditionFailed(AnalyticsError):
    """The document changed since the version the caller's ``If-Match`` names."""

    status = 412


def _from_v0(document: dict[str, Any]) -> dict[str, Any]:
    """Version 0 is a hypothetical pre-release layout (flat ``row_limit``, ``theme`` and
    ``uppercase_keywords``), kept so the upgrade path is exercised before a real version 2."""
    upgraded = dict(document)
    if "row_limit" in upgraded:
        upgraded["default_row_limit"] = upgraded.pop("row_limit")
    if "theme" in upgraded:
        upgraded["chart_theme"] = upgraded.pop("theme")
    if "uppercase_keywords" in upgraded:
        case = "upper" if upgraded.pop("uppercase_keywords") else "preserve"
        upgraded["sql_formatting"] = {**upgraded.get("sql_formatting", {}), "keyword_case": case}
    return upgraded


UPGRADES: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {0: _from_v0}
"""``UPGRADES[n]`` turns a version ``n`` document into version ``n + 1``."""


def upgrade_document(document: dict[str, Any], version: int) -> dict[str, Any]:
    """A stored document in the current layout. A newer layout (written by a later release)
    is read as is: fields this release does not know are dropped by ``_tolerant``."""
    while version < SETTINGS_VERSION:
        document = UPGRADES[version](document)
        version += 1
    return {**document, "version": SETTINGS_VERSION}


def _tolerant(document: object) -> UserSettings:
    """The stored document as settings; a field that no longer validates takes its default.

    Stored settings are old data (an earlier release, a hand edit): a bad field must not lock
    the user out of their settings with a 500.
    """
    fields = dict(document) if isinstance(document, dict) else {}
    for _ in range(len(fields) + 1):
        try:
            return UserSettings.model_validate(fields)
        except ValidationError as error:
            bad = {str(item["loc"][0]) for item in error.errors() if item["loc"]}
            log.warning("ignoring invalid stored settings fields %s", sorted(bad))
            fields = {name: value for name, value in fields.items() if name not in bad}
    return UserSettings()


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in document.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def changed_fields(before: UserSettings, after: UserSettings) -> list[str]:
    """Dotted paths of the settings that differ (``sql_formatting.indent``), sorted."""
    old, new = _flatten(before.model_dump()), _flatten(after.model_dump())
    return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))


def merge(current: UserSettings, changes: UserSettingsPatch) -> UserSettings:
    """``current`` with ``changes`` applied: nested objects merge, ``null`` resets to default."""

    def apply(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)  # absent, so validation fills the default
            elif isinstance(value, dict):
                merged[name] = apply(merged.get(name, {}), value)
            else:
                merged[name] = value
        return merged

    return UserSettings.model_validate(
        apply(current.model_dump(), changes.model_dump(exclude_unset=True))
    )


def settings_etag(settings: UserSettings) -> str:
    """A strong ETag of the whole document (defaults included): it changes with any value."""
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


class SettingsService:
    """Read and change user settings. Blocking: call through ``Services.run``."""

    def __init__(self, db: Database, activity: ActivityLog) -> None:
        self._db = db
        self._activity = activity

    def get(self, user_id: str) -> UserSettings:
        """The user's settings with defaults for unset fields (all defaults if none saved)."""
        with self._db.transaction() as tx:
            return self._read(tx.get(UserSettingsDocument, user_id))

    def replace(
        self, user_id: str, settings: UserSettings, *, if_match: Collection[str] | None = None
    ) -> UserSettings:
        """``PUT``: the whole document becomes ``settings``."""
        return self._write(user_id, lambda _current: settings, if_match)

    def update(
        self, user_id: str, changes: UserSettingsPatch, *, if_match: Collection[str] | None = None
    ) -> UserSettings:
        """``PATCH``: ``changes`` merged into the current document."""
        return self._write(user_id, lambda current: merge(current, changes), if_match)

    @staticmethod
    def _read(row: UserSettingsDocument | None) -> UserSettings:
        if row is None:
            return UserSettings()
        return _tolerant(upgrade_document(row.document, row.version))

    def _write(
        self,
        user_id: str,
        change: Callable[[UserSettings], UserSettings],
        if_match: Collection[str] | None,
    ) -> UserSettings:
        with self._db.transaction() as tx:
            row, created = self._locked_row(tx, user_id)
            current = self._read(row)
            if if_match is not None and settings_etag(current) not in if_match:
                raise PreconditionFailed(
                    "the settings changed since you read them: fetch them again and retry"
                )
            updated = change(current)
            fields = changed_fields(current, updated)
            if not fields:
                if created:
                    tx.delete(row)  # an unchanged document leaves no trace, not even an empty row
                return updated
            document = updated.model_dump(mode="json", exclude_defaults=True)
            document.pop("version", None)  # kept in its own column
            row.document, row.version = document, SETTINGS_VERSION
            self._activity.record(
                tx, user_id, "user.settings_updated", target=("user", user_id),
                details={"fields": fields},
            )  # fmt: skip
            return updated

    def _locked_row(self, tx: Session, user_id: str) -> tuple[UserSettingsDocument, bool]:
        """The user's row (created empty, i.e. all defaults, if missing), locked until the
        transaction ends, and whether this call created it.

        An insert that ignores a conflict never fails when two first writes race, and takes
        SQLite's write lock; ``FOR UPDATE`` holds the PostgreSQL row. So the ``If-Match`` check
        and the write cannot interleave with another request's.
        """
        if tx.get(User, user_id) is None:
            raise NotFound("user not found")
        insert = _UPSERTS[tx.get_bind().dialect.name]
        created = tx.execute(
            insert(UserSettingsDocument)
            .values(user_id=user_id, document={}, version=SETTINGS_VERSION)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        row = tx.scalars(
            select(UserSettingsDocument)
            .where(UserSettingsDocument.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        return row, created.rowcount == 1

"""What a deleted account owned: handed to another account, or deleted with it.

``AnalyticsExtension.deleted_user_objects`` chooses. ``reassign`` (the default) gives every object
to the admin who deletes the account (the owner, when the command line does), so a datasource
the team relies on does not vanish with the colleague who created it; a name the heir already
uses gets the departed user's name appended. ``delete`` removes the objects and every grant on
them. Either way the grants *held by* the deleted account go.

Each kind of owned object registers here (``OWNED_KINDS``); later kinds (dashboards) add one
line and are handled by the same transaction as the deletion. The order matters under
``delete``: charts go before the saved queries they draw from (whose deletion would cascade to
them and leave their grants behind). A deleted dashboard's versions go with it (ON DELETE
CASCADE); its published notebook, if any, is left for the publish service to prune (this module
runs inside the store transaction and touches no files).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..store.models import (
    Chart,
    ChartTemplate,
    Dashboard,
    Datasource,
    Favorite,
    ObjectGrant,
    QueryTemplate,
    SavedQuery,
)


class DeletedUserObjects(StrEnum):
    REASSIGN = "reassign"
    DELETE = "delete"


@dataclass(frozen=True)
class OwnedKind:
    """A model with ``owner_id`` and a per-owner unique ``name``, shared as ``object_type``."""

    model: Any
    object_type: str
    unique_names: bool = True
    """Whether ``name`` is unique per owner (renamed on reassignment if the heir has it);
    False for kinds without one (a dashboard's ``title``)."""


OWNED_KINDS: tuple[OwnedKind, ...] = (
    OwnedKind(Dashboard, "dashboard", unique_names=False),
    OwnedKind(Chart, "chart"),
    OwnedKind(ChartTemplate, "chart_template"),
    OwnedKind(SavedQuery, "query"),
    OwnedKind(QueryTemplate, "query_template"),
    OwnedKind(Datasource, "datasource"),
)


def settle_owned_objects(
    tx: Session,
    user_id: str,
    departed_username: str,
    heir_id: str | None,
    policy: DeletedUserObjects,
) -> dict[str, int]:
    """Reassign or delete what ``user_id`` owns, inside the deleting transaction.

    Returns how many objects of each kind were handled (for the activity event).
    """
    handled: dict[str, int] = {}
    for kind in OWNED_KINDS:
        owned = list(tx.scalars(select(kind.model).where(kind.model.owner_id == user_id)))
        if not owned:
            continue
        handled[kind.object_type] = len(owned)
        if policy is DeletedUserObjects.DELETE or heir_id is None:
            ids = [row.id for row in owned]
            tx.execute(
                delete(ObjectGrant).where(
                    ObjectGrant.object_type == kind.object_type, ObjectGrant.object_id.in_(ids)
                )
            )
            tx.execute(
                delete(Favorite).where(
                    Favorite.object_type == kind.object_type, Favorite.object_id.in_(ids)
                )
            )
            for row in owned:
                tx.delete(row)
            continue
        taken = (
            set(tx.scalars(select(kind.model.name).where(kind.model.owner_id == heir_id)))
            if kind.unique_names
            else set()
        )
        for row in owned:
            if kind.unique_names:
                if row.name in taken:
                    row.name = _free_name(row.name, departed_username, taken)
                taken.add(row.name)
            row.owner_id = heir_id
            # The heir owns it now: a grant it held on the object is redundant.
            tx.execute(
                delete(ObjectGrant).where(
                    ObjectGrant.object_type == kind.object_type,
                    ObjectGrant.object_id == row.id,
                    ObjectGrant.principal_type == "user",
                    ObjectGrant.principal_id == heir_id,
                )
            )
    tx.execute(
        delete(ObjectGrant).where(
            ObjectGrant.principal_type == "user", ObjectGrant.principal_id == user_id
        )
    )
    return handled


def _free_name(name: str, departed: str, taken: set[str]) -> str:
    base = f"{name} (from {departed})"[:120]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base} {n}", n + 1
    return candidate

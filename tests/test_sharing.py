"""The sharing service: one policy (owner and admins hold everything, grants are ordered levels,
invisible objects are 404), grants created, changed, listed and revoked by managers only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analytics_ext.errors import Forbidden, Invalid, NotFound
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.store import Database
from analytics_ext.store.models import ObjectGrant, User
from analytics_ext.store.types import utcnow
from tests.test_datasources import HERE, World, make_world

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def world(db: Database, tmp_path) -> Iterator[World]:
    """Runs on both store backends (SQLite and PostgreSQL)."""
    made = make_world(db, tmp_path)
    yield made
    made.connections.dispose_all()


@pytest.fixture
def source(world: World) -> str:
    return world.create(world.alice, url=POSTGRES_URL).id


def level(world: World, user_id: str, object_id: str) -> str | None:
    with world.db.transaction() as tx:
        try:
            return world.sharing.require(tx, user_id, "datasource", object_id, "view").level
        except NotFound:
            return None


def grant(world: World, actor: str, object_id: str, user_id: str, lvl: str):
    body = GrantCreate(object_id=object_id, principal_id=user_id, level=lvl)
    return world.sharing.grant(actor, "datasource", body, HERE)


def test_owner_and_admins_hold_every_level_others_nothing(world, source):
    assert level(world, world.alice, source) == "manage"
    assert level(world, world.admin, source) == "manage"
    assert level(world, world.bob, source) is None


def test_levels_are_ordered_and_a_regrant_changes_the_level(world, source):
    out, created = grant(world, world.alice, source, world.bob, "use")
    assert created
    assert (out.principal_name, out.level) == ("bob", "use")
    with world.db.transaction() as tx:
        world.sharing.require(tx, world.bob, "datasource", source, "view")
        world.sharing.require(tx, world.bob, "datasource", source, "use")
        with pytest.raises(Forbidden, match="manage"):
            world.sharing.require(tx, world.bob, "datasource", source, "manage")
    again, created = grant(world, world.alice, source, world.bob, "view")
    assert not created
    assert again.id == out.id
    assert level(world, world.bob, source) == "view"


def test_only_managers_grant_list_and_revoke(world, source):
    with pytest.raises(NotFound, match="datasource not found"):
        grant(world, world.bob, source, world.bob, "manage")  # cannot see it: 404
    grant(world, world.alice, source, world.bob, "use")
    with pytest.raises(Forbidden):
        grant(world, world.bob, source, world.bob, "manage")  # cannot raise himself
    with pytest.raises(Forbidden):
        world.sharing.list_grants(world.bob, "datasource", source)
    out, _ = grant(world, world.alice, source, world.bob, "manage")
    carol = _user(world, "carol")
    grant(world, world.bob, source, carol, "view")  # a manager may share further
    listed = world.sharing.list_grants(world.bob, "datasource", source)
    assert [(g.principal_name, g.level) for g in listed] == [("bob", "manage"), ("carol", "view")]
    world.sharing.revoke(world.alice, "datasource", out.id, HERE)
    assert level(world, world.bob, source) is None
    with pytest.raises(NotFound, match="grant not found"):
        world.sharing.revoke(world.bob, "datasource", listed[1].id, HERE)  # bob lost manage


def test_bad_grants(world, source):
    with pytest.raises(NotFound, match="user not found"):
        grant(world, world.alice, source, "A" * 22, "view")
    with pytest.raises(Invalid, match="owner"):
        grant(world, world.admin, source, world.alice, "view")
    with pytest.raises(Invalid, match="level"):
        grant(world, world.alice, source, world.bob, "admin")
    with pytest.raises(NotFound, match="grant not found"):
        world.sharing.revoke(world.alice, "datasource", "B" * 22, HERE)
    with world.db.transaction() as tx:
        assert tx.query(ObjectGrant).count() == 0


def test_disabled_users_hold_nothing(world, source):
    grant(world, world.alice, source, world.bob, "use")
    with world.db.transaction() as tx:
        tx.get(User, world.bob).disabled_at = utcnow()
    assert level(world, world.bob, source) is None


def test_deleting_the_object_drops_its_grants(world, source):
    grant(world, world.alice, source, world.bob, "use")
    world.service.delete(world.alice, source, HERE)
    with world.db.transaction() as tx:
        assert tx.query(ObjectGrant).count() == 0


def _user(world: World, name: str) -> str:
    with world.db.transaction() as tx:
        user = User(username=name, display_name=name)
        tx.add(user)
        tx.flush()
        return user.id

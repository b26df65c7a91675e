"""Share links in the sharing service: a link views exactly one object, read only, until it
expires or is revoked; it is refused for kinds that are not linkable; its token is a credential
only in its own format. Runs on SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from analytics_ext.auth.secret_tokens import SecretKind, issue_secret
from analytics_ext.errors import Invalid, NotFound, Unauthenticated
from analytics_ext.schemas.datasources import DatasourceCreate
from analytics_ext.schemas.sharing import GrantCreate
from analytics_ext.services.sharing import SharedKind, is_link_actor
from analytics_ext.store import Database
from analytics_ext.store.models import ObjectGrant, SavedQuery
from analytics_ext.store.types import utcnow
from tests.test_datasources import HERE, World, make_world

LEVELS = ("view", "edit", "manage")
PG = DatasourceCreate(name="pg", url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def world(db: Database, tmp_path) -> Iterator[World]:
    made = make_world(db, tmp_path)
    made.sharing.register(SharedKind("query", SavedQuery, LEVELS, linkable=True))
    yield made
    made.connections.dispose_all()


def save(world: World, owner: str, name: str) -> str:
    with world.db.transaction() as tx:
        query = SavedQuery(owner_id=owner, name=name, sql="SELECT 1")
        tx.add(query)
        tx.flush()
        return query.id


def link(world: World, actor: str, object_id: str, **fields):
    body = GrantCreate(object_id=object_id, principal_type="link", **fields)
    grant, created = world.sharing.grant(actor, "query", body, HERE)
    assert created
    assert grant.token is not None
    return grant


def can(world: World, actor: str, object_id: str, level: str = "view") -> bool:
    with world.db.transaction() as tx:
        try:
            world.sharing.require(tx, actor, "query", object_id, level)
        except NotFound:
            return False
        return True


def visible_ids(world: World, actor: str) -> set[str]:
    with world.db.transaction() as tx:
        clause = world.sharing.visible(tx, actor, "query")
        return set(tx.scalars(SavedQuery.__table__.select().with_only_columns(
            SavedQuery.id).where(clause)))  # fmt: skip


def test_a_link_views_its_one_object_and_nothing_more(world: World) -> None:
    a, b = save(world, world.alice, "A"), save(world, world.alice, "B")
    grant = link(world, world.alice, a)
    guest = world.sharing.authenticate_link(grant.token)
    assert is_link_actor(guest.actor_id)
    assert (guest.object_type, guest.object_id) == ("query", a)
    assert can(world, guest.actor_id, a, "view")
    # Higher levels on A, and anything about B, look like objects that do not exist.
    assert not can(world, guest.actor_id, a, "edit")
    assert not can(world, guest.actor_id, a, "manage")
    assert not can(world, guest.actor_id, b, "view")
    assert visible_ids(world, guest.actor_id) == {a}
    with pytest.raises(NotFound):
        world.sharing.list_grants(guest.actor_id, "query", a)
    with pytest.raises(NotFound):
        world.sharing.revoke(guest.actor_id, "query", grant.id, HERE)
    with pytest.raises(NotFound):
        link(world, guest.actor_id, a)


def test_revoking_or_expiring_ends_the_link_at_once(world: World) -> None:
    a = save(world, world.alice, "A")
    revoked, expiring = link(world, world.alice, a), link(world, world.alice, a)
    revoked_actor = world.sharing.authenticate_link(revoked.token).actor_id
    expiring_actor = world.sharing.authenticate_link(expiring.token).actor_id
    world.sharing.revoke(world.alice, "query", revoked.id, HERE)
    with world.db.transaction() as tx:
        tx.execute(
            update(ObjectGrant)
            .where(ObjectGrant.id == expiring.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    for grant, actor in ((revoked, revoked_actor), (expiring, expiring_actor)):
        with pytest.raises(Unauthenticated):
            world.sharing.authenticate_link(grant.token)
        # An actor id minted before the end is worthless too: every check reads the grant.
        assert not can(world, actor, a)
        assert visible_ids(world, actor) == set()


def test_links_are_listed_without_their_secret_and_managed_by_managers(world: World) -> None:
    a = save(world, world.alice, "A")
    grant = link(world, world.alice, a, expires_at=utcnow() + timedelta(days=2))
    listed = world.sharing.list_grants(world.alice, "query", a)
    assert [(g.id, g.principal_type, g.level, g.token) for g in listed] == [
        (grant.id, "link", "view", None)
    ]
    assert listed[0].expires_at is not None
    secret = grant.token.rsplit("_", 1)[1]
    assert secret not in listed[0].model_dump_json()  # the lookup is public, the secret never
    with pytest.raises(NotFound):  # bob cannot even see A
        link(world, world.bob, a)


def test_link_rules(world: World) -> None:
    a = save(world, world.alice, "A")
    with pytest.raises(Invalid, match="level: a share link grants view only"):
        link(world, world.alice, a, level="edit")
    with pytest.raises(Invalid, match="expires_at: must be in the future"):
        link(world, world.alice, a, expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(Invalid, match="expires_at: must be within 366 days"):
        link(world, world.alice, a, expires_at=utcnow() + timedelta(days=400))
    source = world.service.create(world.alice, PG, HERE).id  # datasources are not linkable
    body = GrantCreate(object_id=source, principal_type="link")
    with pytest.raises(Invalid, match="principal_type: a datasource cannot be shared by link"):
        world.sharing.grant(world.alice, "datasource", body, HERE)


def test_only_share_link_tokens_authenticate(world: World) -> None:
    a = save(world, world.alice, "A")
    grant = link(world, world.alice, a)
    assert grant.token.startswith("ael_")
    kind, lookup, secret = grant.token.split("_")
    forged = [
        f"{kind}_{lookup}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}",  # wrong secret
        f"aek_{lookup}_{secret}",  # right secret, presented as another kind
        issue_secret(SecretKind.SHARE_LINK).token,  # well formed, unknown
        "",
        "ael_" + "x" * 500,
    ]
    for token in forged:
        with pytest.raises(Unauthenticated):
            world.sharing.authenticate_link(token)

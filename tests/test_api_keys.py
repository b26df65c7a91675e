"""API keys on a real store (SQLite and PostgreSQL): shown once, kept hashed, scoped, revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from analytics_ext.auth.rate_limits import MemoryRateLimiter, RateLimited
from analytics_ext.auth.secret_tokens import SecretKind, issue_secret, parse_secret
from analytics_ext.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.api_keys import ApiKeyScope, ApiKeyService
from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, ApiKey, Base, User
from analytics_ext.store.types import utcnow

ORIGIN = RequestOrigin("10.0.0.7", "pytest")


@pytest.fixture
def keys(db: Database) -> ApiKeyService:
    return ApiKeyService(db, ActivityLog(), MemoryRateLimiter())


def make_user(db: Database, username: str, *, admin: bool = False) -> str:
    with db.transaction() as tx:
        user = User(username=username, display_name=username.title(), is_admin=admin)
        tx.add(user)
        tx.flush()
        return user.id


def every_stored_text(db: Database) -> str:
    """Every value of every column of every table, as one string."""
    parts: list[str] = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                parts.extend(repr(value) for value in row)
    return "\n".join(parts)


def test_secret_is_shown_once_and_never_stored(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    created = keys.create(ada, "ci", [ApiKeyScope.READ], None, ORIGIN)
    kind, lookup, secret = parse_secret(created.token)
    assert kind is SecretKind.API_KEY
    assert created.prefix == f"aek_{lookup}"
    assert "token" not in repr(created)  # the repr may be logged
    stored = every_stored_text(db)
    assert secret not in stored
    assert created.token not in stored
    assert lookup in stored  # the lookup is meant to be stored in clear
    listed = keys.list(ada)
    assert [key.model_dump().keys() for key in listed] == [
        {"id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at"}
    ]
    assert secret not in repr(listed)
    assert "sha256$" not in repr(listed)


def test_list_shows_prefix_scopes_and_dates(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    expiry = utcnow() + timedelta(days=30)
    created = keys.create(ada, "nightly", [ApiKeyScope.WRITE, ApiKeyScope.READ], expiry, ORIGIN)
    (listed,) = keys.list(ada)
    assert listed.id == created.id
    assert listed.name == "nightly"
    assert listed.prefix == created.prefix
    assert listed.prefix.startswith("aek_")
    assert listed.scopes == [ApiKeyScope.READ, ApiKeyScope.WRITE]
    assert listed.expires_at == expiry
    assert listed.last_used_at is None
    keys.authenticate(created.token)
    (listed,) = keys.list(ada)
    assert listed.last_used_at is not None


def test_authenticate_carries_user_key_and_scopes(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    created = keys.create(ada, "reader", [ApiKeyScope.READ], None, ORIGIN)
    principal = keys.authenticate(created.token)
    assert (principal.user_id, principal.key_id) == (ada, created.id)
    assert principal.scopes == {ApiKeyScope.READ}
    assert principal.allows(ApiKeyScope.READ)
    assert not principal.allows(ApiKeyScope.WRITE)
    writer = keys.authenticate(keys.create(ada, "writer", ["write"], None, ORIGIN).token)
    assert writer.allows(ApiKeyScope.READ)
    assert not writer.allows(ApiKeyScope.ADMIN)


def _unauthenticated(keys: ApiKeyService, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        keys.authenticate(token)
    return str(caught.value)


def test_every_bad_key_gets_the_same_refusal(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    revoked = keys.create(ada, "revoked", [ApiKeyScope.READ], None, ORIGIN)
    keys.revoke(ada, revoked.id, ORIGIN)
    expiring = keys.create(ada, "expiring", [ApiKeyScope.READ], None, ORIGIN)
    with db.transaction() as tx:
        tx.execute(
            update(ApiKey)
            .where(ApiKey.id == expiring.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    good = keys.create(ada, "good", [ApiKeyScope.READ], None, ORIGIN)
    _kind, lookup, secret = parse_secret(good.token)
    wrong_secret = f"aek_{lookup}_{issue_secret(SecretKind.API_KEY).token[-43:]}"
    other_kind = f"aer_{lookup}_{secret}"  # right lookup and secret, presented as a refresh token
    unknown = issue_secret(SecretKind.API_KEY).token

    bob = make_user(db, "bob")
    bobs = keys.create(bob, "bob's", [ApiKeyScope.READ], None, ORIGIN)
    with db.transaction() as tx:
        tx.execute(update(User).where(User.id == bob).values(disabled_at=utcnow()))

    messages = {
        _unauthenticated(keys, token)
        for token in [
            revoked.token,
            expiring.token,
            wrong_secret,
            other_kind,
            unknown,
            bobs.token,
            "",
            "not a key",
            good.token + "x",
        ]
    }
    assert messages == {str(Unauthenticated())}
    assert keys.authenticate(good.token).key_id == good.id  # the good one still works


def test_last_used_is_written_at_most_once_a_minute(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    created = keys.create(ada, "busy", [ApiKeyScope.READ], None, ORIGIN)
    start = utcnow()

    def last_used():
        with db.transaction() as tx:
            return tx.get(ApiKey, created.id).last_used_at

    keys.authenticate(created.token, now=start)
    assert last_used() == start
    keys.authenticate(created.token, now=start + timedelta(seconds=59))
    assert last_used() == start
    keys.authenticate(created.token, now=start + timedelta(seconds=61))
    assert last_used() == start + timedelta(seconds=61)


def test_only_admins_create_admin_keys(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    root = make_user(db, "root", admin=True)
    with pytest.raises(Forbidden):
        keys.create(ada, "sneaky", [ApiKeyScope.READ, ApiKeyScope.ADMIN], None, ORIGIN)
    assert keys.list(ada) == []
    created = keys.create(root, "ops", [ApiKeyScope.ADMIN], None, ORIGIN)
    assert keys.authenticate(created.token).allows(ApiKeyScope.WRITE)


def test_input_rules(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    for bad_name in ["", "   ", "x" * 129, "tab\tname", "bidi\u202eevil", "line\nbreak"]:
        with pytest.raises(Invalid) as caught:
            keys.create(ada, bad_name, [ApiKeyScope.READ], None, ORIGIN)
        assert caught.value.field == "name"
    for bad_scopes in [[], ["root"]]:
        with pytest.raises(Invalid) as caught:
            keys.create(ada, "ok", bad_scopes, None, ORIGIN)
        assert caught.value.field == "scopes"
    now = utcnow()
    for bad_expiry in [now - timedelta(seconds=1), now.replace(tzinfo=None) + timedelta(days=1)]:
        with pytest.raises(Invalid) as caught:
            keys.create(ada, "ok", [ApiKeyScope.READ], bad_expiry, ORIGIN)
        assert caught.value.field == "expires_at"
    assert keys.create(ada, "é" * 128, [ApiKeyScope.READ], None, ORIGIN).name == "é" * 128


def test_names_are_unique_among_live_keys(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    bob = make_user(db, "bob")
    first = keys.create(ada, "ci", [ApiKeyScope.READ], None, ORIGIN)
    with pytest.raises(Conflict):
        keys.create(ada, "ci", [ApiKeyScope.WRITE], None, ORIGIN)
    keys.create(bob, "ci", [ApiKeyScope.READ], None, ORIGIN)  # another user's names are theirs
    keys.revoke(ada, first.id, ORIGIN)
    keys.create(ada, "ci", [ApiKeyScope.READ], None, ORIGIN)  # a revoked key frees its name


def test_someone_elses_key_is_not_found(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    bob = make_user(db, "bob")
    adas = keys.create(ada, "ci", [ApiKeyScope.READ], None, ORIGIN)
    for user, key_id in [(bob, adas.id), (ada, "no-such-key"), (bob, "no-such-key")]:
        with pytest.raises(NotFound):
            keys.revoke(user, key_id, ORIGIN)
    assert keys.authenticate(adas.token).key_id == adas.id
    assert keys.list(bob) == []
    keys.revoke(ada, adas.id, ORIGIN)
    assert keys.list(ada) == []
    with pytest.raises(NotFound):  # already revoked
        keys.revoke(ada, adas.id, ORIGIN)


def test_creation_is_rate_limited_per_user(db: Database, keys: ApiKeyService) -> None:
    ada = make_user(db, "ada")
    bob = make_user(db, "bob")
    for number in range(10):
        keys.create(ada, f"key {number}", [ApiKeyScope.READ], None, ORIGIN)
    with pytest.raises(RateLimited) as caught:
        keys.create(ada, "one too many", [ApiKeyScope.READ], None, ORIGIN)
    assert caught.value.retry_after > 0
    assert len(keys.list(ada)) == 10
    keys.create(bob, "bob's first", [ApiKeyScope.READ], None, ORIGIN)


def test_created_and_revoked_are_recorded_without_the_secret(
    db: Database, keys: ApiKeyService
) -> None:
    ada = make_user(db, "ada")
    created = keys.create(ada, "ci", [ApiKeyScope.READ], None, ORIGIN)
    keys.revoke(ada, created.id, ORIGIN)
    with db.transaction() as tx:
        events = list(tx.scalars(select(ActivityEvent).order_by(ActivityEvent.created_at)))
    assert [event.type for event in events] == ["api_key.created", "api_key.revoked"]
    for event in events:
        assert (event.user_id, event.target_type, event.target_id) == (ada, "api_key", created.id)
        assert event.details["name"] == "ci"
        assert event.ip_address == "10.0.0.7"
    _kind, _lookup, secret = parse_secret(created.token)
    assert secret not in every_stored_text(db)

"""The activity feed: own events newest first, filters, keyset pages, admins read others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from analytics_ext.store import Database
from analytics_ext.store.models import ActivityEvent, User

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    yield db
    db.dispose()


def seed(store: Database, user_id: str, types: list[str]) -> None:
    """One event a minute from START, in the order given (so the last is the newest)."""
    with store.transaction() as tx:
        for minute, kind in enumerate(types):
            at = START + timedelta(minutes=minute)
            tx.add(ActivityEvent(user_id=user_id, type=kind, created_at=at, details={"n": minute}))


def other_user(store: Database) -> str:
    with store.transaction() as tx:
        user = User(username="bob", display_name="Bob", is_admin=False, is_owner=False)
        tx.add(user)
        tx.flush()
        return user.id


async def feed(api, **params):
    query = urlencode(params, doseq=True)
    return await api.get(f"/api/user/activity?{query}" if query else "/api/user/activity")


async def test_own_feed_is_newest_first_and_pages_by_cursor(api, store):
    owner = await api.get("/api/user")
    seed(store, owner["id"], [f"test.event{n}" for n in range(7)])
    first = await feed(api, limit=3)
    assert [e["details"]["n"] for e in first["items"]] == [6, 5, 4]
    assert first["total"] == 7
    second = await feed(api, limit=3, cursor=first["next"])
    third = await feed(api, limit=3, cursor=second["next"])
    assert [e["details"]["n"] for e in second["items"] + third["items"]] == [3, 2, 1, 0]
    assert third["next"] is None


async def test_filters_by_type_family_and_time(api, store):
    owner = await api.get("/api/user")
    seed(store, owner["id"], ["auth.login", "api_key.created", "auth.logout", "user.x"])
    by_family = await feed(api, type="auth.*")
    assert [e["type"] for e in by_family["items"]] == ["auth.logout", "auth.login"]
    exact = await feed(api, type=["api_key.created", "user.x"])
    assert {e["type"] for e in exact["items"]} == {"api_key.created", "user.x"}
    window = await feed(
        api,
        since=(START + timedelta(minutes=1)).isoformat(),
        until=(START + timedelta(minutes=3)).isoformat(),
    )
    assert [e["type"] for e in window["items"]] == ["auth.logout", "api_key.created"]


async def test_records_from_the_api_appear_in_the_feed(api):
    await api.patch("/api/user", {"display_name": "Feed Reader"})
    await api.request("POST", "/api/auth/api-keys", {"name": "k", "scopes": ["read"]}, expect=201)
    types = [e["type"] for e in (await feed(api))["items"]]
    assert types == ["api_key.created", "user.profile_updated"]


async def test_admin_reads_another_users_feed(api, store):
    bob = other_user(store)
    seed(store, bob, ["auth.login"])
    assert [e["type"] for e in (await feed(api, user_id=bob))["items"]] == ["auth.login"]
    await api.request("GET", f"/api/user/activity?user_id={'A' * 22}", expect=404)


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=201", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T00:00:00", "since"),  # no time zone
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "since"),
        ("user_id=short", "user_id"),
        ("colour=blue", "colour"),
    ],
)
async def test_bad_queries_name_the_parameter(api, query, word):
    reply = await api.request("GET", f"/api/user/activity?{query}", expect=422)
    assert word in reply.body["message"]


async def test_numbers_are_not_timestamps(api):
    reply = await api.request("GET", "/api/user/activity?until=0.5", expect=422)
    assert "until" in reply.body["message"]

"""Admin user management (``/api/admin/users``) on a team server: who may use it, what each change
does to the account's access (at once), the deletion policy, and the guard rails that keep
administrators from locking themselves out. Each rule is tried by someone who should fail."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from analytics_ext.errors import Conflict, Forbidden, Unauthenticated
from analytics_ext.schemas.admin import AdminUserCreate, AdminUserUpdate
from analytics_ext.services import Services
from analytics_ext.services.activity import ActivityLog, RequestOrigin
from analytics_ext.services.admin_users import AdminUserService
from analytics_ext.services.revocation import RevocationView
from analytics_ext.store import Database
from analytics_ext.store.models import (
    ActivityEvent,
    ApiKey,
    AuthSession,
    OneTimeToken,
    RefreshToken,
    User,
    UserAvatar,
    UserSettingsDocument,
)
from analytics_ext.store.types import utcnow
from tests.conftest import TEST_PASSWORD
from tests.support.api import ApiClient

NEW_PASSWORD = "a different horse, stapled"
MISSING_ID = "Z" * 22


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def db_url(store_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL (the team store)."""
    return store_url


async def _post(client: ApiClient, path: str, body: object, expect: int) -> object:
    return (await client.request("POST", path, body, expect=expect)).body


async def _api_key(client: ApiClient, scopes: list[str]) -> str:
    created = await _post(
        client, "/api/auth/api-keys", {"name": "/".join(scopes), "scopes": scopes}, 201
    )
    return created["token"]


def _rows(services: Services, statement) -> list:
    with services.db.transaction() as tx:
        return list(tx.execute(statement).all())


# --- who may use it ---------------------------------------------------------------------------


async def test_ordinary_user_gets_403_on_every_admin_route(create_account, login):
    target = await create_account("target")
    await create_account("bob")
    bob = await login("bob")
    item = f"/api/admin/users/{target.id}"
    for method, path, body in [
        ("GET", "/api/admin/users", None),
        ("POST", "/api/admin/users", {"username": "mallory", "password": NEW_PASSWORD}),
        ("GET", item, None),
        ("PATCH", item, {"disabled": True}),
        ("PATCH", f"/api/admin/users/{(await bob.get('/api/user'))['id']}", {"is_admin": True}),
        ("DELETE", item, None),
        ("POST", f"{item}/password", {"password": NEW_PASSWORD}),
    ]:
        reply = await bob.request(method, path, body)
        assert reply.status == 403, (method, path, reply.body)
    await bob.request("GET", "/api/user", expect=200)  # bob himself is fine, and still no admin
    assert (await bob.get("/api/user"))["is_admin"] is False


async def test_admin_api_key_needs_the_admin_scope(create_account, login, as_key):
    await create_account("ada", is_admin=True)
    ada = await login("ada")
    for scopes, expected in ((["read"], 403), (["write"], 403), (["admin"], 200)):
        key = as_key(await _api_key(ada, scopes))
        await key.request("GET", "/api/admin/users", expect=expected)
    write = as_key(await _api_key(ada, ["read", "write"]))
    body = {"username": "mallory", "password": NEW_PASSWORD}
    await write.request("POST", "/api/admin/users", body, expect=403)


async def test_admin_may_manage_users(create_account, login):
    await create_account("ada", is_admin=True)
    ada = await login("ada")
    created = await _post(
        ada, "/api/admin/users", {"username": "bob", "password": NEW_PASSWORD}, 201
    )
    assert created["username"] == "bob"


# --- creating, reading, listing ---------------------------------------------------------------


async def test_create_returns_the_account_and_records_the_admin(api, server_services):
    owner = await api.get("/api/user")
    created = await _post(
        api,
        "/api/admin/users",
        {
            "username": "Grace",
            "password": NEW_PASSWORD,
            "email": "Grace@Example.ORG",
            "display_name": "Grace Hopper",
            "notebook_role": True,
        },
        201,
    )
    assert created["username"] == "grace"  # canonical
    assert created["email"] == "grace@example.org"
    assert created["display_name"] == "Grace Hopper"
    assert created["email_verified"] is True  # an admin vouches for it
    assert (created["is_admin"], created["is_owner"], created["notebook_role"]) == (
        False, False, True,
    )  # fmt: skip
    assert (created["disabled"], created["disabled_at"], created["last_login_at"]) == (
        False, None, None,
    )  # fmt: skip
    assert await api.get(f"/api/admin/users/{created['id']}") == created
    actors = _rows(
        server_services,
        select(ActivityEvent.actor_id).where(
            ActivityEvent.user_id == created["id"], ActivityEvent.type == "user.created"
        ),
    )
    assert actors == [(owner["id"],)]
    # The account works: it logs in with the password the admin chose.
    await server_services.auth.login("grace", NEW_PASSWORD, RequestOrigin("127.0.0.1"))


async def test_fullwidth_username_and_email_case_conflict(api, create_account):
    await create_account("ada", email="ada@example.org")
    body = {"username": "\uff21\uff24\uff21", "password": NEW_PASSWORD}
    reply = await api.request("POST", "/api/admin/users", body, expect=409)
    assert "username" in reply.body["message"]
    body = {"username": "ada2", "password": NEW_PASSWORD, "email": "ADA@EXAMPLE.ORG"}
    reply = await api.request("POST", "/api/admin/users", body, expect=409)
    assert "email" in reply.body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "bob", "password": NEW_PASSWORD, "role": "admin"}, "role"),
        ({"username": "bob"}, "password"),
        ({"password": NEW_PASSWORD}, "username"),
        ({"username": "b", "password": NEW_PASSWORD}, "username"),
        ({"username": "bob smith", "password": NEW_PASSWORD}, "username"),
        ({"username": "bob", "password": "password"}, "password"),
        ({"username": "bob", "password": "short"}, "password"),
        ({"username": "bob", "password": NEW_PASSWORD, "email": "not-an-address"}, "email"),
        ({"username": "bob", "password": NEW_PASSWORD, "is_admin": "yes"}, "is_admin"),
        ({"username": "bob", "password": NEW_PASSWORD, "display_name": "a\u202eb"}, "display_name"),
    ],
)
async def test_create_refuses_bad_bodies_naming_the_field(api, body, field):
    reply = await api.request("POST", "/api/admin/users", body, expect=422)
    assert reply.body["message"].startswith(field), reply.body
    users = await api.get("/api/admin/users")
    assert [u["username"] for u in users["items"] if not u["is_owner"]] == []


async def test_malformed_json_is_400(api):
    reply = await api.request("POST", "/api/admin/users", raw=b"{not json")
    assert reply.status == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"disabled": None}, "disabled"),
        ({"is_admin": 1}, "is_admin"),
        ({"notebook_role": "true"}, "notebook_role"),
        ({"display_name": ""}, "display_name"),
        ({"email": "x@example.org"}, "email"),
    ],
)
async def test_update_refuses_bad_bodies_naming_the_field(api, create_account, body, field):
    bob = await create_account("bob")
    reply = await api.request("PATCH", f"/api/admin/users/{bob.id}", body, expect=422)
    assert reply.body["message"].startswith(field), reply.body


async def test_unknown_and_malformed_ids_are_404(api):
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"disabled": True}),
        ("DELETE", "", None),
        ("POST", "/password", {"password": NEW_PASSWORD}),
    ]:
        for user_id in (MISSING_ID, "abc", "A" * 23, "%00" * 8):
            reply = await api.request(method, f"/api/admin/users/{user_id}{suffix}", body)
            assert reply.status == 404, (method, user_id, suffix, reply.body)
            assert "message" in reply.body  # JSON, not Jupyter's HTML page


async def test_list_pages_filters_and_last_login(api, create_account, login, server_services):
    names = [f"user{i}" for i in range(5)]
    for name in names:
        await create_account(name, display_name=f"Person {name.upper()}")
    await create_account("admin1", is_admin=True, display_name="Boss")
    await api.request("PATCH", f"/api/admin/users/{(await _find(api, 'user3'))['id']}",
                      {"disabled": True}, expect=200)  # fmt: skip
    await login("user1")
    seen, cursor, totals = [], None, set()
    while True:
        page = await api.get("/api/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 2
        seen += [item["username"] for item in page["items"]]
        totals.add(page["total"])
        cursor = page["next"]
        if cursor is None:
            break
    owner = (await api.get("/api/user"))["username"]
    assert sorted(seen) == sorted([*names, "admin1", owner])
    assert len(seen) == len(set(seen))  # no repeats across pages
    assert totals == {7}
    items = {u["username"]: u for u in (await api.get("/api/admin/users?limit=200"))["items"]}
    assert items["user1"]["last_login_at"] is not None
    started = _rows(server_services, select(AuthSession.created_at).where(
        AuthSession.user_id == items["user1"]["id"]))  # fmt: skip
    assert datetime.fromisoformat(items["user1"]["last_login_at"]) == started[0][0]
    assert items["user2"]["last_login_at"] is None

    async def usernames(query: str) -> list[str]:
        page = await api.get(f"/api/admin/users?{query}&limit=200")
        assert page["total"] == len(page["items"])
        return sorted(u["username"] for u in page["items"])

    assert await usernames("q=USER1") == ["user1"]
    assert await usernames("q=person%20user4") == ["user4"]  # display name, any case
    assert await usernames("q=example.org&disabled=true") == ["user3"]
    assert await usernames("is_admin=true") == sorted(["admin1", owner])
    assert await usernames("is_admin=false&disabled=false") == ["user0", "user1", "user2", "user4"]
    assert await usernames("q=%25") == []  # LIKE wildcards are matched literally
    for bad in ("limit=0", "limit=201", "cursor=garbage", "disabled=maybe", "q=", "sort=name"):
        reply = await api.request("GET", f"/api/admin/users?{bad}", expect=422)
        assert reply.body["message"].split(":")[0] in bad, (bad, reply.body)


async def _find(api: ApiClient, username: str) -> dict:
    page = await api.get(f"/api/admin/users?q={username}&limit=200")
    return next(u for u in page["items"] if u["username"] == username)


async def test_list_costs_three_queries_however_many_users(
    api, create_account, login, server_services
):
    for i in range(6):
        await create_account(f"user{i}")
        await login(f"user{i}")
    await api.get("/api/user")  # the owner's account is created on first use: not counted
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    event.listen(server_services.db.engine, "before_cursor_execute", count)
    try:
        await api.get("/api/admin/users?limit=200")
    finally:
        event.remove(server_services.db.engine, "before_cursor_execute", count)
    # The revocation view polls in the background; everything else is the list's own work.
    polls = ("users.updated_at >", "auth_sessions.revoked_at >")
    listed = [s for s in statements if not any(poll in s for poll in polls)]
    # The caller's admin check, the count, and the page with each last login in a subquery.
    assert len(listed) == 3, "\n---\n".join(s[:120] for s in listed)


# --- changes end or grant access at once ------------------------------------------------------


async def test_disable_ends_access_at_once_and_enable_restores_login(
    api, create_account, login, as_key, server_services
):
    nora = await create_account("nora", notebook_role=True)
    client = await login("nora")
    key = as_key(await _api_key(client, ["read", "write"]))
    await client.request("GET", "/api/kernels", expect=200)
    await key.request("GET", "/api/user", expect=200)

    disabled = await api.patch(f"/api/admin/users/{nora.id}", {"disabled": True})
    assert disabled["disabled"] is True
    assert disabled["disabled_at"] is not None

    await client.request("GET", "/api/user", expect=401)
    await client.request("GET", "/api/kernels", expect=403)
    await key.request("GET", "/api/user", expect=401)
    origin = RequestOrigin("127.0.0.1")
    with pytest.raises(Unauthenticated):
        await server_services.auth.refresh(client.tokens.refresh_token, origin)
    with pytest.raises(Unauthenticated):
        await server_services.auth.login("nora", TEST_PASSWORD, origin)
    live = _rows(server_services, select(AuthSession.id).where(
        AuthSession.user_id == nora.id, AuthSession.revoked_at.is_(None)))  # fmt: skip
    keys = _rows(server_services, select(ApiKey.revoked_at).where(ApiKey.user_id == nora.id))
    assert live == []
    assert keys
    assert all(revoked is not None for (revoked,) in keys)
    owner = await api.get("/api/user")
    events = _rows(server_services, select(ActivityEvent.actor_id, ActivityEvent.details).where(
        ActivityEvent.user_id == nora.id, ActivityEvent.type == "admin.user_disabled"))  # fmt: skip
    assert events == [(owner["id"], {"sessions_ended": 1, "api_keys_revoked": 1, "by": "admin"})]

    enabled = await api.patch(f"/api/admin/users/{nora.id}", {"disabled": False})
    assert enabled["disabled"] is False
    assert enabled["disabled_at"] is None
    again = await login("nora")
    await again.request("GET", "/api/kernels", expect=200)
    await key.request("GET", "/api/user", expect=401)  # revoked keys stay revoked
    await client.request("GET", "/api/user", expect=401)  # and so do ended sessions


async def test_roles_take_effect_at_once(api, create_account, login):
    bob = await create_account("bob")
    client = await login("bob")
    await client.request("GET", "/api/kernels", expect=403)
    await client.request("GET", "/api/admin/users", expect=403)

    granted = await api.patch(f"/api/admin/users/{bob.id}", {"notebook_role": True})
    assert granted["notebook_role"] is True
    await client.request("GET", "/api/kernels", expect=200)

    await api.patch(f"/api/admin/users/{bob.id}", {"is_admin": True, "notebook_role": False})
    await client.request("GET", "/api/admin/users", expect=200)
    await api.patch(f"/api/admin/users/{bob.id}", {"is_admin": False})
    await client.request("GET", "/api/admin/users", expect=403)
    await client.request("GET", "/api/kernels", expect=403)

    renamed = await api.patch(f"/api/admin/users/{bob.id}", {"display_name": "  Robert  "})
    assert renamed["display_name"] == "Robert"
    assert (await client.get("/api/user"))["display_name"] == "Robert"
    unchanged = await api.patch(f"/api/admin/users/{bob.id}", {})
    assert unchanged == renamed


async def test_set_password_ends_sessions(api, create_account, login, server_services):
    bob = await create_account("bob")
    client = await login("bob")
    weak = await api.request(
        "POST", f"/api/admin/users/{bob.id}/password", {"password": "bob"}, expect=422
    )
    assert weak.body["message"].startswith("password")
    await client.request("GET", "/api/user", expect=200)  # a refused password changes nothing

    await _post(api, f"/api/admin/users/{bob.id}/password", {"password": NEW_PASSWORD}, 204)
    await client.request("GET", "/api/user", expect=401)
    origin = RequestOrigin("127.0.0.1")
    with pytest.raises(Unauthenticated):
        await server_services.auth.login("bob", TEST_PASSWORD, origin)
    await server_services.auth.login("bob", NEW_PASSWORD, origin)
    owner = await api.get("/api/user")
    password_set = (ActivityEvent.user_id == bob.id) & (
        ActivityEvent.type == "admin.user_password_set"
    )
    events = _rows(server_services, select(ActivityEvent.actor_id).where(password_set))
    assert events == [(owner["id"],)]


# --- deletion ---------------------------------------------------------------------------------


async def test_delete_removes_the_account_and_keeps_its_activity(
    api, create_account, login, as_key, server_services
):
    nora = await create_account("nora", notebook_role=True)
    client = await login("nora")
    key = as_key(await _api_key(client, ["read"]))
    await client.request("PATCH", "/api/user", {"display_name": "Nora N."}, expect=200)
    now = utcnow()
    with server_services.db.transaction() as tx:
        tx.add(UserSettingsDocument(user_id=nora.id, document={}, version=1))
        tx.add(UserAvatar(user_id=nora.id, png=b"\x89PNG", etag="0" * 64))
        tx.add(OneTimeToken(
            user_id=nora.id, purpose="reset", lookup="l" * 16, secret_hash="h" * 64,
            expires_at=now + timedelta(minutes=30),
        ))  # fmt: skip
    event_ids = _rows(
        server_services, select(ActivityEvent.id).where(ActivityEvent.user_id == nora.id)
    )
    assert len(event_ids) >= 3  # created, login, api key, profile change

    await api.request("DELETE", f"/api/admin/users/{nora.id}", expect=204)

    await client.request("GET", "/api/user", expect=401)
    await client.request("GET", "/api/kernels", expect=403)
    await key.request("GET", "/api/user", expect=401)
    refresh = {"refresh_token": client.tokens.refresh_token}
    await client.request("POST", "/api/auth/refresh", refresh, expect=401)
    await api.request("GET", f"/api/admin/users/{nora.id}", expect=404)
    await api.request("DELETE", f"/api/admin/users/{nora.id}", expect=404)
    for model in (User, AuthSession, ApiKey, OneTimeToken, UserSettingsDocument, UserAvatar):
        column = model.id if model is User else model.user_id
        assert _rows(server_services, select(func.count()).where(column == nora.id)) == [(0,)]
    assert _rows(server_services, select(func.count()).select_from(RefreshToken)) == [(0,)]
    kept = _rows(server_services, select(ActivityEvent.user_id, ActivityEvent.actor_id).where(
        ActivityEvent.id.in_([row[0] for row in event_ids])))  # fmt: skip
    assert len(kept) == len(event_ids)
    assert {user_id for user_id, _ in kept} == {None}
    owner = await api.get("/api/user")
    deleted = _rows(server_services, select(ActivityEvent.actor_id, ActivityEvent.user_id,
        ActivityEvent.details).where(ActivityEvent.type == "admin.user_deleted",
                                     ActivityEvent.target_id == nora.id))  # fmt: skip
    assert deleted == [(owner["id"], None, {"username": "nora", "by": "admin"})]
    # The name is free again.
    await create_account("nora")


async def test_deletion_waits_for_other_processes_only_when_just_disabled(
    api, create_account, server_services
):
    """Other processes poll the store; a deleted row cannot be polled, so deletion first
    disables and gives them two poll intervals to see it (an account disabled long ago is
    deleted at once)."""
    settle = 2 * server_services.revocations.poll_interval
    fresh = await create_account("fresh")
    started = asyncio.get_running_loop().time()
    await api.request("DELETE", f"/api/admin/users/{fresh.id}", expect=204)
    assert asyncio.get_running_loop().time() - started >= settle
    old = await create_account("old")
    await api.patch(f"/api/admin/users/{old.id}", {"disabled": True})
    with server_services.db.transaction() as tx:
        tx.get(User, old.id).disabled_at = utcnow() - timedelta(minutes=5)
    started = asyncio.get_running_loop().time()
    await api.request("DELETE", f"/api/admin/users/{old.id}", expect=204)
    assert asyncio.get_running_loop().time() - started < settle


# --- guard rails ------------------------------------------------------------------------------


async def test_owner_cannot_be_disabled_deleted_demoted_or_given_a_password(
    api, create_account, login
):
    owner = await api.get("/api/user")
    await create_account("ada", is_admin=True)
    ada = await login("ada")
    item = f"/api/admin/users/{owner['id']}"
    for client in (ada, api):
        for method, path, body, words in [
            ("PATCH", item, {"disabled": True}, "owner"),
            ("PATCH", item, {"is_admin": False}, "owner"),
            ("DELETE", item, None, "owner"),
        ]:
            reply = await client.request(method, path, body, expect=409)
            assert words in reply.body["message"], reply.body
    reply = await ada.request("POST", f"{item}/password", {"password": NEW_PASSWORD}, expect=409)
    assert "owner" in reply.body["message"]
    after = await api.get(item)
    assert (after["is_admin"], after["disabled"]) == (True, False)
    await api.request("GET", "/api/kernels", expect=200)
    reply = await ada.request("PATCH", item, {"display_name": "The Owner"}, expect=409)
    assert "PATCH /api/user" in reply.body["message"]
    changed = await ada.patch(item, {"notebook_role": True})  # other changes are fine
    assert changed["notebook_role"] is True
    assert changed["display_name"] == owner["display_name"]


async def test_admin_cannot_disable_delete_or_demote_themselves(create_account, login):
    ada_account = await create_account("ada", is_admin=True)
    ada = await login("ada")
    item = f"/api/admin/users/{ada_account.id}"
    for method, body in [
        ("PATCH", {"disabled": True}),
        ("PATCH", {"is_admin": False}),
        ("PATCH", {"is_admin": False, "display_name": "x"}),
        ("DELETE", None),
    ]:
        reply = await ada.request(method, item, body, expect=409)
        assert "ask another administrator" in reply.body["message"], reply.body
    me = await ada.get(item)
    assert (me["is_admin"], me["disabled"], me["display_name"]) == (True, False, "ada")
    await ada.request("GET", "/api/admin/users", expect=200)


async def test_admin_may_demote_disable_and_delete_another_admin(create_account, login):
    await create_account("ada", is_admin=True)
    grace = await create_account("grace", is_admin=True)
    ada = await login("ada")
    grace_client = await login("grace")
    await ada.patch(f"/api/admin/users/{grace.id}", {"is_admin": False})
    await grace_client.request("GET", "/api/admin/users", expect=403)
    await ada.patch(f"/api/admin/users/{grace.id}", {"is_admin": True, "disabled": True})
    await grace_client.request("GET", "/api/admin/users", expect=401)
    await ada.request("DELETE", f"/api/admin/users/{grace.id}", expect=204)


# --- the last admin, at the service (no owner: a store the command line manages) --------------


@pytest.fixture
def admin_service(db: Database) -> AdminUserService:
    """The service on a store without an owner, acting as the command line (``actor_id=None``)."""
    revocations = RevocationView(db)
    return AdminUserService(
        db, ActivityLog(), hasher=None, accounts=None, revocations=revocations,  # type: ignore[arg-type]
        deletion_settle=timedelta(0),
    )  # fmt: skip


def _add_user(db: Database, username: str, **fields) -> str:
    with db.transaction() as tx:
        user = User(username=username, display_name=username, **fields)
        tx.add(user)
        tx.flush()
        return user.id


async def test_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(db, admin_service):
    ada = _add_user(db, "ada", is_admin=True)
    _add_user(db, "grace", is_admin=True, disabled_at=utcnow())  # a disabled admin does not count
    _add_user(db, "bob")
    for changes in (AdminUserUpdate(is_admin=False), AdminUserUpdate(disabled=True)):
        with pytest.raises(Conflict, match="last enabled administrator"):
            admin_service.update(None, ada, changes)
    with pytest.raises(Conflict, match="last enabled administrator"):
        await admin_service.delete(None, ada)
    assert admin_service.get(None, ada).is_admin
    assert not admin_service.get(None, ada).disabled

    # With a second enabled admin, the first may go.
    admin_service.update(None, admin_service.find("bob").id, AdminUserUpdate(is_admin=True))
    assert admin_service.update(None, ada, AdminUserUpdate(is_admin=False)).is_admin is False


async def test_another_process_refuses_a_deleted_account(db):
    """A second server process (its own revocation view, polling the shared store) must refuse
    the deleted account's session too, though polling cannot see a deleted row: the two-step
    deletion lets it see the account disabled first (with ``deletion_settle=timedelta(0)`` this
    fails nearly every time: the other view keeps the account's enabled flags forever)."""
    user_id = _add_user(db, "nora")
    with db.transaction() as tx:
        session = AuthSession(user_id=user_id, expires_at=utcnow() + timedelta(hours=1))
        tx.add(session)
        tx.flush()
        session_id = session.id
    other = RevocationView(db, poll_interval=0.2)
    await other.start()
    try:
        assert other.principal(user_id, session_id) is not None
        service = AdminUserService(
            db, ActivityLog(), hasher=None, accounts=None,  # type: ignore[arg-type]
            revocations=RevocationView(db, poll_interval=0.2),
        )  # fmt: skip
        await service.delete(None, user_id)
        assert other.principal(user_id, session_id) is None
    finally:
        await other.stop()


def test_a_demoted_admin_cannot_act_on_a_stale_view(db, admin_service):
    ada = _add_user(db, "ada", is_admin=True)
    grace = _add_user(db, "grace", is_admin=True)
    bob = _add_user(db, "bob")
    admin_service.update(grace, ada, AdminUserUpdate(is_admin=False))
    with pytest.raises(Forbidden):  # ada's request passed the Authorizer a moment before
        admin_service.update(ada, bob, AdminUserUpdate(is_admin=True))
    assert admin_service.get(None, bob).is_admin is False


def test_two_admins_demoting_each_other_at_once_leave_one_admin(postgresql_url):
    """PostgreSQL: the admin rows are locked in one order, so one demotion waits for the other
    and then sees there would be no admin left."""
    from analytics_ext.store import upgrade_schema

    db = Database(postgresql_url)
    upgrade_schema(db)
    try:
        service = AdminUserService(
            db, ActivityLog(), hasher=None, accounts=None, revocations=RevocationView(db),  # type: ignore[arg-type]
        )  # fmt: skip
        for _round in range(5):
            with db.transaction() as tx:
                tx.query(ActivityEvent).delete()
                tx.query(User).delete()
            ada, grace = _add_user(db, "ada", is_admin=True), _add_user(db, "grace", is_admin=True)
            barrier = threading.Barrier(2)
            outcomes: list[str] = []
            threads = [
                threading.Thread(target=_demote, args=(service, barrier, outcomes, *pair))
                for pair in ((ada, grace), (grace, ada))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert outcomes.count("ok") == 1, outcomes
            admins = [u for u in (service.get(None, ada), service.get(None, grace)) if u.is_admin]
            assert len(admins) == 1, outcomes
    finally:
        db.dispose()


def _demote(
    service: AdminUserService, barrier: threading.Barrier, outcomes: list[str], actor: str,
    target: str,
) -> None:  # fmt: skip
    barrier.wait()
    try:
        service.update(actor, target, AdminUserUpdate(is_admin=False))
        outcomes.append("ok")
    except (Conflict, Forbidden) as error:
        outcomes.append(type(error).__name__)


def test_create_body_never_shows_the_password():
    body = AdminUserCreate(username="ada", password=NEW_PASSWORD)
    assert NEW_PASSWORD not in repr(body)
    assert NEW_PASSWORD not in str(body)

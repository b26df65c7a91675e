"""Every mutating ``/api/user`` and ``/api/auth`` route records each change it makes exactly once.

Table-driven over the routes of the running server: a route added later without an entry here
fails ``test_every_mutating_route_is_in_the_table``. Each case prepares what it needs, calls the
route once, and the new events (read from the store) must be exactly the expected types, each
once — none missing, none twice.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from analytics_ext.services.activity import RequestOrigin
from analytics_ext.store.models import ActivityEvent
from tests.conftest import TEST_PASSWORD
from tests.support.api import ApiClient
from tests.support.routes import declared_verbs, our_routes
from tests.test_email_change import inbox, link_token

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
NEW_PASSWORD = "a brand new horse staple"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config.AnalyticsExtension.allow_signup = True
    return jp_server_config


@dataclass
class Ctx:
    api: ApiClient
    anonymous: ApiClient
    login: Callable[..., Awaitable[ApiClient]]
    create_account: Callable[..., Awaitable[Any]]
    services: Any
    tmp_path: Any


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "teal").save(out, "PNG")
    return out.getvalue()


async def _ada(ctx: Ctx) -> ApiClient:
    await ctx.create_account("ada")
    return await ctx.login("ada")


# Each case: (method, route pattern, coroutine doing the call after its own set-up, expected types)
async def patch_profile(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    return lambda: ada.request("PATCH", "/api/user", {"display_name": "Ada L."}, expect=200)


async def put_avatar(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    return lambda: ada.request("PUT", "/api/user/avatar", raw=png(), expect=204)


async def delete_avatar(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    await ada.request("PUT", "/api/user/avatar", raw=png(), expect=204)
    return lambda: ada.request("DELETE", "/api/user/avatar", expect=204)


async def put_settings(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    return lambda: ada.request("PUT", "/api/user/settings", {"default_row_limit": 7}, expect=200)


async def patch_settings(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    return lambda: ada.request("PATCH", "/api/user/settings", {"default_row_limit": 9}, expect=200)


async def change_password(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    body = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
    return lambda: ada.request("POST", "/api/user/password", body, expect=204)


async def create_key(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    body = {"name": "nightly", "scopes": ["read"]}
    return lambda: ada.request("POST", "/api/auth/api-keys", body, expect=201)


async def revoke_key(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    key = (await ada.request("POST", "/api/auth/api-keys", {"name": "k", "scopes": ["read"]})).body
    return lambda: ada.request("DELETE", f"/api/auth/api-keys/{key['id']}", expect=204)


async def login(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await ctx.create_account("ada")
    body = {"username": "ada", "password": TEST_PASSWORD}
    return lambda: ctx.anonymous.request("POST", "/api/auth/login", body, expect=200)


async def refresh(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    body = {"refresh_token": ada.tokens.refresh_token}
    return lambda: ctx.anonymous.request("POST", "/api/auth/refresh", body, expect=200)


async def register(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    body = {"username": "grace", "password": TEST_PASSWORD, "email": "grace@example.org"}
    return lambda: ctx.anonymous.request("POST", "/api/auth/register", body, expect=201)


async def forgot(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await ctx.create_account("ada")
    body = {"email_or_username": "ada"}
    return lambda: ctx.anonymous.request("POST", "/api/auth/forgot-password", body, expect=202)


async def reset(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await ctx.create_account("ada")
    await ctx.services.recovery.forgot_password("ada", RequestOrigin("127.0.0.1"))
    await ctx.services.recovery.wait_for_deliveries()
    token = link_token(inbox(ctx.tmp_path, "ada@example.org")[-1], "reset")
    body = {"token": token, "password": NEW_PASSWORD}
    return lambda: ctx.anonymous.request("POST", "/api/auth/reset-password", body, expect=204)


async def _unverified(ctx: Ctx) -> None:
    await ctx.create_account("ada", verified=False)


async def verify(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await _unverified(ctx)
    await ctx.services.recovery.request_verification("ada", RequestOrigin("127.0.0.1"))
    await ctx.services.recovery.wait_for_deliveries()
    token = link_token(inbox(ctx.tmp_path, "ada@example.org")[-1], "verify")
    return lambda: ctx.anonymous.request(
        "POST", "/api/auth/verify-email", {"token": token}, expect=204
    )


async def resend(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await _unverified(ctx)
    ada = await ctx.login("ada")
    return lambda: ada.request("POST", "/api/auth/resend-verification", expect=202)


async def request_verification(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    await _unverified(ctx)
    body = {"email_or_username": "ada"}
    return lambda: ctx.anonymous.request("POST", "/api/auth/request-verification", body, expect=202)


async def logout(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    return lambda: ada.request("POST", "/api/auth/logout", expect=204)


async def revoke_session(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    other = await ctx.login("ada")
    session_id = other.tokens.session_id
    return lambda: ada.request("DELETE", f"/api/auth/sessions/{session_id}", expect=204)


async def revoke_others(ctx: Ctx) -> Callable[[], Awaitable[Any]]:
    ada = await _ada(ctx)
    await ctx.login("ada")
    return lambda: ada.request("POST", "/api/auth/sessions/revoke-others", expect=200)


CASES: dict[tuple[str, str], tuple[Callable[[Ctx], Awaitable[Any]], list[str]]] = {
    ("PATCH", "/api/user"): (patch_profile, ["user.profile_updated"]),
    ("PUT", "/api/user/avatar"): (put_avatar, ["user.avatar_changed"]),
    ("DELETE", "/api/user/avatar"): (delete_avatar, ["user.avatar_removed"]),
    ("PUT", "/api/user/settings"): (put_settings, ["user.settings_updated"]),
    ("PATCH", "/api/user/settings"): (patch_settings, ["user.settings_updated"]),
    ("POST", "/api/user/password"): (change_password, ["user.password_changed"]),
    ("POST", "/api/auth/api-keys"): (create_key, ["api_key.created"]),
    ("DELETE", "/api/auth/api-keys/{id}"): (revoke_key, ["api_key.revoked"]),
    ("POST", "/api/auth/login"): (login, ["auth.login"]),
    ("POST", "/api/auth/refresh"): (refresh, ["auth.token_refreshed"]),
    # Sign-up makes three changes: the account, its verification mail, its first session.
    ("POST", "/api/auth/register"): (
        register,
        ["auth.login", "user.created", "user.email_verification_sent"],
    ),
    ("POST", "/api/auth/forgot-password"): (forgot, ["auth.password_reset_requested"]),
    ("POST", "/api/auth/reset-password"): (reset, ["auth.password_reset"]),
    ("POST", "/api/auth/verify-email"): (verify, ["user.email_verified"]),
    ("POST", "/api/auth/resend-verification"): (resend, ["user.email_verification_sent"]),
    ("POST", "/api/auth/request-verification"): (
        request_verification,
        ["user.email_verification_sent"],
    ),
    ("POST", "/api/auth/logout"): (logout, ["auth.logout"]),
    ("DELETE", "/api/auth/sessions/{id}"): (revoke_session, ["auth.session_revoked"]),
    ("POST", "/api/auth/sessions/revoke-others"): (revoke_others, ["auth.sessions_revoked"]),
}


def _normalise(pattern: str, base_url: str) -> str:
    path = "/" + pattern.rstrip("$")[len(base_url) :]
    return re.sub(r"\(\?P<\w+>[^)]*\)", "{id}", path)


async def test_every_mutating_route_is_in_the_table(jp_serverapp, jp_base_url):
    found = set()
    for route in our_routes(jp_serverapp.web_app, jp_base_url):
        path = _normalise(route.pattern, jp_base_url)
        if not path.startswith(("/api/user", "/api/auth")):
            continue
        for verb in set(declared_verbs(route.handler)) & MUTATING:
            found.add((verb, path))
    assert found == set(CASES)


def _event_types(services) -> list[str]:
    with services.db.transaction() as tx:
        return list(tx.scalars(select(ActivityEvent.type).order_by(ActivityEvent.created_at)))


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: f"{case[0]} {case[1]}")
async def test_each_change_is_recorded_once(
    case, api, anonymous, login, create_account, server_services, tmp_path
):
    prepare, expected = CASES[case]
    ctx = Ctx(api, anonymous, login, create_account, server_services, tmp_path)
    call = await prepare(ctx)
    before = len(_event_types(server_services))
    await call()
    await server_services.recovery.wait_for_deliveries()
    new = _event_types(server_services)[before:]
    assert sorted(new) == sorted(expected), json.dumps(new)

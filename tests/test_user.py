"""The local owner: one persistent analytics user behind Jupyter's own token."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text

from analytics_ext.store.models import User


def count_users(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(User)).scalar_one()
    finally:
        engine.dispose()


def user_row(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("select * from users")).mappings().one())
    finally:
        engine.dispose()


@pytest.fixture
def db_url(store_url: str) -> str:
    return store_url


async def test_token_holder_is_the_persistent_owner_and_admin(api, db_url):
    first = await api.get("/api/user")
    again = await api.get("/api/user")
    assert first == again
    assert first["is_owner"] is True
    assert first["is_admin"] is True
    assert len(first["id"]) == 22
    assert first["created_at"].endswith("Z") or first["created_at"].endswith("+00:00")
    assert count_users(db_url) == 1


async def test_identity_model_shows_display_name_and_avatar(api, jp_base_url):
    await api.patch("/api/user", {"display_name": "Ada Lovelace"})
    me = await api.get("/api/me")
    identity = me["identity"]
    assert identity["display_name"] == "Ada Lovelace"
    assert identity["initials"] == "AL"
    assert identity["avatar_url"] == f"{jp_base_url}api/user/avatar"
    # Internal fields stay out of Jupyter's identity model.
    assert set(identity) == {"username", "name", "display_name", "initials", "avatar_url", "color"}


async def test_default_avatar_is_escaped_svg_with_cache_headers(api):
    await api.patch("/api/user", {"display_name": "<script>alert(1)</script> x"})
    reply = await api.request("GET", "/api/user/avatar", expect=200)
    assert reply.headers["Content-Type"] == "image/svg+xml"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in reply.body
    assert "&lt;" in reply.body
    etag = reply.headers["Etag"]
    again = await api.request("GET", "/api/user/avatar", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_profile_update_persists(api, db_url):
    updated = await api.patch("/api/user", {"display_name": "  Grace Hopper  "})
    assert updated["display_name"] == "Grace Hopper"
    assert user_row(db_url)["display_name"] == "Grace Hopper"
    assert (await api.get("/api/user"))["display_name"] == "Grace Hopper"


async def test_owner_survives_a_restart(jp_serverapp, api, db_url, jp_server_config):
    """A second server on the same store finds the same owner rather than making a new one."""
    first = await api.get("/api/user")
    from analytics_ext.services.activity import ActivityLog
    from analytics_ext.services.users import UserService
    from analytics_ext.store import Database

    db = Database(db_url)
    try:
        owner = UserService(db, ActivityLog()).ensure_owner("someone-else", "Other")
    finally:
        db.dispose()
    assert owner.id == first["id"]
    assert count_users(db_url) == 1


async def test_user_carries_its_avatar_url(api, jp_base_url):
    user = await api.get("/api/user")
    assert user["avatar_url"] == f"{jp_base_url}api/user/avatar"


async def test_timezone_and_locale_default_and_change(api, db_url):
    user = await api.get("/api/user")
    assert (user["timezone"], user["locale"]) == ("UTC", "en-US")
    changed = await api.patch("/api/user", {"timezone": "Europe/Paris", "locale": "fr-FR"})
    assert (changed["timezone"], changed["locale"]) == ("Europe/Paris", "fr-FR")
    assert (user_row(db_url)["timezone"], user_row(db_url)["locale"]) == ("Europe/Paris", "fr-FR")

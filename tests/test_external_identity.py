"""JupyterHub mode: another IdentityProvider authenticates, its username maps to our account.

A real hub is not started here; ``HubLikeIdentityProvider`` stands in for JupyterHub's
single-user provider: it authenticates from a header and carries a ``hub_user`` model (name,
admin) as ``jupyterhub.singleuser`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from sqlalchemy import func, select
from traitlets.config import Config

from analytics_ext.store.models import User as UserRow
from tests.support.api import ApiClient


@dataclass
class HubUser(User):
    hub_user: dict[str, Any] = field(default_factory=dict)


class HubLikeIdentityProvider(IdentityProvider):
    def get_user(self, handler):
        name = handler.request.headers.get("X-Hub-User")
        if not name:
            return None
        handler._token_authenticated = True
        admin = handler.request.headers.get("X-Hub-Admin") == "1"
        return HubUser(username=name, name=name.title(), hub_user={"name": name, "admin": admin})


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.identity_provider_class = HubLikeIdentityProvider
    return jp_server_config


def hub_client(jp_fetch, name: str, admin: bool = False) -> ApiClient:
    headers = {"X-Hub-User": name, "Authorization": ""}
    if admin:
        headers["X-Hub-Admin"] = "1"
    return ApiClient(jp_fetch, headers=headers)


def accounts_named(services, name: str) -> int:
    with services.db.transaction() as tx:
        return tx.scalar(select(func.count()).where(UserRow.username == name))


async def test_hub_users_get_one_account_each(jp_fetch, server_services):
    alice = hub_client(jp_fetch, "alice")
    me = await alice.get("/api/user")
    assert (me["username"], me["display_name"], me["is_admin"]) == ("alice", "Alice", False)
    assert (await alice.get("/api/user"))["id"] == me["id"]
    assert accounts_named(server_services, "alice") == 1
    await alice.patch("/api/user", {"display_name": "Alice A."})
    assert (await alice.get("/api/user"))["display_name"] == "Alice A."
    bob = await hub_client(jp_fetch, "bob").get("/api/user")
    assert bob["id"] != me["id"]


async def test_hub_admin_flag_follows_the_hub(jp_fetch):
    assert (await hub_client(jp_fetch, "carol", admin=True).get("/api/user"))["is_admin"]
    await hub_client(jp_fetch, "carol", admin=True).get("/api/admin/users")
    assert not (await hub_client(jp_fetch, "carol").get("/api/user"))["is_admin"]


async def test_admin_routes_check_the_account_not_only_the_authorizer(jp_fetch):
    """Under JupyterHub the hub's Authorizer admits every user of the server to every route;
    the admin service itself refuses accounts that are not admins."""
    frank = hub_client(jp_fetch, "frank")
    me = await frank.get("/api/user")
    await frank.request("GET", "/api/admin/users", expect=403)
    await frank.request("GET", f"/api/admin/users/{me['id']}", expect=403)
    await frank.request("PATCH", f"/api/admin/users/{me['id']}", {"is_admin": True}, expect=403)


async def test_unauthenticated_and_disabled_hub_users_are_refused(jp_fetch, server_services):
    await ApiClient(jp_fetch, headers={"Authorization": ""}).request("GET", "/api/user", expect=401)
    dave = await hub_client(jp_fetch, "dave").get("/api/user")
    admin = hub_client(jp_fetch, "erin", admin=True)
    await admin.patch(f"/api/admin/users/{dave['id']}", {"disabled": True})
    reply = await hub_client(jp_fetch, "dave").request("GET", "/api/user", expect=403)
    assert "disabled" in reply.body["message"]

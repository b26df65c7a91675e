"""Every non-public verb asks the Authorizer: with one that refuses everything, all answer 403.

Public verbs never ask it: whatever they answer to an empty body (health 200, the account routes
404 in local mode and 422 on a team server), it is not the Authorizer's 403.
"""

from __future__ import annotations

import pytest
from jupyter_server.auth.authorizer import Authorizer
from traitlets.config import Config

from tests.support.routes import declared_verbs, our_routes
from tests.test_route_auth import public_verbs


class DenyAll(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


@pytest.fixture(params=[False, True], ids=["local", "team"])
def multi_user(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.authorizer_class = DenyAll
    jp_server_config.AnalyticsExtension.allow_signup = True  # else register's own 403 (signup off)
    return jp_server_config


async def test_every_route_asks_the_authorizer(jp_serverapp, jp_base_url, jp_fetch):
    problems = []
    for route in our_routes(jp_serverapp.web_app, jp_base_url):
        public = public_verbs(route, jp_base_url)
        for verb in declared_verbs(route.handler):
            body = b"{}" if verb in {"POST", "PUT", "PATCH"} else None
            response = await jp_fetch(
                route.sample_path()[len(jp_base_url):], method=verb, body=body, raise_error=False,
                headers={"Content-Type": "application/json"}, allow_nonstandard_methods=True,
            )  # fmt: skip
            if verb in public:
                if response.code in (401, 403) or response.code >= 500:
                    problems.append(f"public {verb} {route.pattern} -> {response.code}")
            elif response.code != 403:
                problems.append(f"{verb} {route.pattern} -> {response.code}, expected 403")
    assert problems == []

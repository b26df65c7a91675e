"""Every non-public verb asks the Authorizer: with one that refuses everything, all answer 403."""

from __future__ import annotations

import pytest
from jupyter_server.auth.authorizer import Authorizer
from traitlets.config import Config

from tests.support.routes import declared_verbs, our_routes
from tests.test_route_auth import public_verbs


class DenyAll(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.authorizer_class = DenyAll
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
            expected = 200 if verb in public else 403
            if response.code != expected:
                problems.append(f"{verb} {route.pattern} -> {response.code}, expected {expected}")
    assert problems == []

"""Every route the extension registers refuses callers without credentials or permission.

The list of routes comes from the running server's router, so a route added later without
authentication fails here without anyone remembering to add it to a test.
"""

from __future__ import annotations

import json

import pytest
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import JupyterServerAuthWarning, url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from analytics_ext.handlers import PUBLIC_ROUTES
from analytics_ext.handlers.base import AnalyticsHandler
from tests.support.routes import VERBS, Route, declared_verbs, decorator_chain, our_routes


def public_verbs(route: Route, base_url: str) -> frozenset[str]:
    for relative, verbs in PUBLIC_ROUTES.items():
        if route.pattern.rstrip("$") == url_path_join(base_url, relative):
            return verbs
    return frozenset()


async def anonymous_violations(app, base_url: str, port: int, secrets: list[str]) -> list[str]:
    """Anything but 401 to an anonymous caller; public verbs must not leak ``secrets``."""
    client = AsyncHTTPClient()
    problems = []
    for route in our_routes(app, base_url):
        url = f"http://127.0.0.1:{port}{route.sample_path()}"
        public = public_verbs(route, base_url)
        for verb in VERBS:
            body = b"{}" if verb in {"POST", "PUT", "PATCH"} else None
            try:
                response = await client.fetch(
                    url, method=verb, body=body, raise_error=False, request_timeout=10,
                    headers={"Content-Type": "application/json"}, allow_nonstandard_methods=True,
                )  # fmt: skip
            except HTTPClientError as error:  # a hang or a dropped connection is a violation too
                problems.append(f"{verb} {route.pattern} -> {error}")
                continue
            text = (response.body or b"").decode(errors="replace")
            if verb in public:
                if response.code >= 500 or any(secret in text for secret in secrets):
                    problems.append(f"public {verb} {route.pattern} -> {response.code} {text[:80]}")
            elif response.code != 401:
                problems.append(f"{verb} {route.pattern} -> {response.code}, expected 401")
    return problems


def static_violations(app, base_url: str) -> list[str]:
    """Each implemented verb is @web.authenticated + @authorized, or public and allow-listed."""
    problems = []
    for route in our_routes(app, base_url):
        for verb in declared_verbs(route.handler):
            chain = decorator_chain(getattr(route.handler, verb.lower()))
            is_public = getattr(
                getattr(route.handler, verb.lower()), "__allow_unauthenticated", False
            )
            authenticated = any(f.endswith("tornado/web.py") for f, _ in chain)
            authorized = any(
                f.endswith("jupyter_server/auth/decorator.py") and n == "inner" for f, n in chain
            )
            if is_public and verb not in public_verbs(route, base_url):
                problems.append(f"{verb} {route.pattern} is public but not in PUBLIC_ROUTES")
            elif not is_public and not (authenticated and authorized):
                problems.append(f"{verb} {route.pattern} lacks @web.authenticated/@authorized")
    return problems


async def test_every_route_refuses_anonymous_callers(jp_serverapp, jp_base_url, jp_http_port, api):
    owner = await api.get("/api/user")
    routes = our_routes(jp_serverapp.web_app, jp_base_url)
    assert len(routes) >= 5  # the walk found the extension's routes
    problems = await anonymous_violations(
        jp_serverapp.web_app,
        jp_base_url,
        jp_http_port,
        [owner["id"], jp_serverapp.identity_provider.token],
    )
    assert problems == []


def test_every_verb_is_decorated(jp_serverapp, jp_base_url):
    assert static_violations(jp_serverapp.web_app, jp_base_url) == []


class _Leaky(AnalyticsHandler):
    auth_resource = "analytics_ext:system"

    def get(self) -> None:  # no @web.authenticated, no @authorized
        self.write_json({"secret": "leaked"})


class _ForeignLeaky(JupyterHandler):
    def get(self) -> None:
        self.finish(json.dumps({"secret": "leaked"}))


async def test_the_checks_flag_a_handler_registered_without_auth(
    jp_serverapp, jp_base_url, jp_http_port, http_server_client
):
    """The checks are only worth something if they catch a handler that forgot its decorators."""
    leaky = [
        (url_path_join(jp_base_url, "api/analytics/leaky"), _Leaky),
        (url_path_join(jp_base_url, "api/health/foreign"), _ForeignLeaky),
    ]
    with pytest.warns(JupyterServerAuthWarning):  # jupyter_server's own check agrees
        jp_serverapp.web_app.add_handlers(".*$", leaky)
    static = static_violations(jp_serverapp.web_app, jp_base_url)
    assert any("api/analytics/leaky" in p for p in static), static
    anonymous = await anonymous_violations(
        jp_serverapp.web_app, jp_base_url, jp_http_port, ["leaked"]
    )
    flagged = {p.split(" -> ")[0] for p in anonymous if p.endswith("expected 401")}
    assert flagged == {f"{verb} {jp_base_url}api/health/foreign$" for verb in VERBS}, anonymous

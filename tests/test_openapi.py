"""The OpenAPI document is valid, served, and describes exactly the routes the server has."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from analytics_ext.handlers import PUBLIC_ROUTES
from analytics_ext.handlers.system import NotFoundHandler, openapi_document
from tests.support.routes import declared_verbs, our_routes


def documented_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head"}
    }


def _as_template(pattern: str, base_url: str) -> str:
    """``/base/api/query/(?P<query_id>[...]{22})$`` -> ``/api/query/{query_id}``."""
    relative = "/" + pattern[len(base_url) :].rstrip("$")
    relative = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", relative)
    return relative.replace("\\", "")


def test_document_is_valid_openapi():
    validate(openapi_document())


async def test_document_is_served_with_the_base_url(api, jp_base_url):
    served = await api.get("/api/analytics/openapi.json")
    assert served["paths"] == openapi_document()["paths"]
    assert served["servers"] == [{"url": jp_base_url.rstrip("/")}]


def test_every_route_is_documented_and_every_documented_route_exists(jp_serverapp, jp_base_url):
    served = {
        (verb, _as_template(route.pattern, jp_base_url))
        for route in our_routes(jp_serverapp.web_app, jp_base_url)
        if route.handler is not NotFoundHandler  # the JSON 404 for unknown paths
        for verb in declared_verbs(route.handler)
    }
    assert served == documented_operations()


def test_public_operations_match_the_allow_list():
    document = openapi_document()
    public = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == []
    }
    allowed = {(verb, path) for path, verbs in PUBLIC_ROUTES.items() for verb in verbs}
    assert public == allowed


def test_every_operation_documents_its_errors():
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            if operation.get("security") != []:
                assert {"401", "403"} <= statuses, f"{method} {path}"
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= statuses, f"{method} {path}"


def test_an_area_fragment_may_not_redefine_a_name():
    from analytics_ext.handlers.system import _merge

    paths = {"/api/user": {}}
    with pytest.raises(ValueError, match=r"auth\.yaml redefines /api/user"):
        _merge(paths, {"/api/user": {}, "/api/auth/login": {}}, "auth.yaml")

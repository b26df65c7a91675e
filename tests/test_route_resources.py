"""Every route is authorized as its own resource.

jupyter_server's ``@authorized`` remembers the first ``auth_resource`` it sees (a ``nonlocal`` in
the decorator), so a decorated verb inherited by handlers of two resources would authorize both as
whichever was asked first. This found the shared sharing handlers doing so; it keeps any handler
from doing it again.
"""

from __future__ import annotations

from analytics_ext.handlers import ROUTES

VERBS = ("get", "post", "put", "patch", "delete", "head")


def test_no_decorated_verb_serves_two_resources() -> None:
    owners: dict[int, set[str]] = {}
    for _, handler in ROUTES:
        resource = getattr(handler, "auth_resource", None)
        for verb in VERBS:
            method = getattr(handler, verb, None)
            if method is None or not hasattr(method, "__wrapped__"):
                continue
            owners.setdefault(id(method), set()).add(str(resource))
    shared = {key: resources for key, resources in owners.items() if len(resources) > 1}
    assert not shared, f"one decorated verb serves several resources: {list(shared.values())}"


async def test_each_area_share_route_answers_for_its_own_resource(api, jp_fetch) -> None:
    """Asked in turn, each area's share route names its own resource when it refuses."""
    from tests.support.api import ApiClient

    key = await api.post("/api/auth/api-keys", {"name": "r", "scopes": ["read"]}, expect=201)
    reader = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {key['token']}"})
    body = {"object_id": "A" * 22, "principal_type": "user", "principal_id": "B" * 22}
    for area, resource in (
        ("datasources", "analytics_ext:datasources"),
        ("query", "analytics_ext:query"),
        ("chart", "analytics_ext:chart"),
    ):
        reply = await reader.request("POST", f"/api/{area}/share", body, expect=403)
        assert resource in reply.body["message"], reply.body

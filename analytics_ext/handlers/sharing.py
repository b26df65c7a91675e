"""``/api/<area>/share``: the same three sharing routes in every area (DESIGN.md §9).

``POST`` creates a grant (to a user, or a share link), ``GET ?object_id=`` lists an object's
grants, ``DELETE /{grant_id}`` revokes one. An area that holds two kinds (queries and query
templates, charts and chart templates) takes ``object_type`` to choose; the sharing service does
the rest, with one policy for every kind.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth.identity import SHARE_TOKEN_ARGUMENT
from ..auth.resources import SHARE_LINK_RESOURCES
from ..errors import Invalid
from ..schemas.sharing import GrantCreate, GrantOut, GrantsQuery
from ..store.types import ID_LENGTH
from .base import AnalyticsHandler, error_response

GRANT_ID = rf"[A-Za-z0-9_-]{{{ID_LENGTH}}}"

OBJECT_PATHS: dict[str, str] = {
    "query": "api/query/{id}",
    "query_template": "api/query/templates/{id}",
    "chart": "api/chart/{id}",
    "chart_template": "api/chart/templates/{id}",
    "dashboard": "analytics/dashboards/{id}",
}
"""Where a share link of each kind points: the object's own REST resource, except a
dashboard's, which opens its viewer page (``dashboards.urls.VIEWER_PREFIX``)."""


def share_link_url(public_url: str, grant: GrantOut) -> str | None:
    """The address a new share link hands out (from ``public_url``, never the Host header)."""
    path = OBJECT_PATHS.get(grant.object_type)
    if path is None or grant.token is None:
        return None
    url = url_path_join(public_url, path.format(id=quote(grant.object_id)))
    return f"{url}?{SHARE_TOKEN_ARGUMENT}={grant.token}"


class _ShareHandlerBase(AnalyticsHandler):
    """The work of the sharing verbs; ``share_routes`` adds the verbs themselves per area."""

    kinds: ClassVar[tuple[str, ...]]
    """The kinds this area shares; the first is the default ``object_type``."""

    def kind_of(self, object_type: str | None) -> str:
        if object_type is None:
            return self.kinds[0]
        if object_type not in self.kinds:
            raise error_response(
                422, str(Invalid("object_type", f"must be one of: {', '.join(self.kinds)}"))
            )
        return object_type

    async def list_grants(self) -> None:
        query = self.parse_query(GrantsQuery)
        grants = await self.run(
            self.services.sharing.list_grants,
            self.user_id,
            self.kind_of(query.object_type),
            query.object_id,
        )
        self.write_json({"items": [grant.model_dump(mode="json") for grant in grants]})

    async def create_grant(self) -> None:
        body = self.parse(GrantCreate)
        grant, created = await self.run(
            self.services.sharing.grant,
            self.user_id,
            self.kind_of(body.object_type),
            body,
            self.origin,
        )
        if grant.token is not None:
            url = share_link_url(self.services.recovery.public_url, grant)
            grant = grant.model_copy(update={"url": url})
        self.write_json(grant, status=201 if created else 200)

    async def revoke_grant(self, grant_id: str) -> None:
        await self.run(
            self.services.sharing.revoke, self.user_id, self.kinds, grant_id, self.origin
        )
        self.set_status(204)
        self.finish()


def share_routes(
    area: str, resource: str, kinds: tuple[str, ...]
) -> list[tuple[str, type[AnalyticsHandler]]]:
    """The sharing routes of ``/api/<area>``, authorized as ``resource``.

    The verbs are decorated here, once per area, never inherited: jupyter_server's
    ``@authorized`` remembers the first ``auth_resource`` it sees (a ``nonlocal``), so one
    decorated method shared by two areas' subclasses would authorize both as whichever area
    was asked first.
    """
    # In areas whose objects can be shared by link, a link presented to these routes is a
    # credential, so it answers 404 (it cannot manage what it views) rather than 401.
    links = resource in SHARE_LINK_RESOURCES

    class SharesHandler(_ShareHandlerBase):
        """``GET/POST /api/<area>/share``."""

        auth_resource = resource
        accepts_share_links = links

        @web.authenticated
        @authorized
        async def get(self) -> None:
            await self.list_grants()

        @web.authenticated
        @authorized
        async def post(self) -> None:
            await self.create_grant()

    class ShareHandler(_ShareHandlerBase):
        """``DELETE /api/<area>/share/{grant_id}``."""

        auth_resource = resource
        accepts_share_links = links

        @web.authenticated
        @authorized
        async def delete(self, grant_id: str) -> None:
            await self.revoke_grant(grant_id)

    name = area.title().replace("_", "")
    for handler, suffix in ((SharesHandler, "SharesHandler"), (ShareHandler, "ShareHandler")):
        handler.__name__ = handler.__qualname__ = f"{name}{suffix}"
        handler.kinds = kinds
    return [
        (rf"/api/{area}/share", SharesHandler),
        (rf"/api/{area}/share/(?P<grant_id>{GRANT_ID})", ShareHandler),
    ]

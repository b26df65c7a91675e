"""Identity: map whoever Jupyter authenticated to an analytics user.

Local mode (the default): Jupyter's own token or password logs the person in, and every such
login is the owner of the server, one persistent analytics user. Scripts outside Jupyter send an
API key instead (``Authorization: Bearer aek_...``), which speaks for its account within its
scopes. jupyter_server would otherwise
invent a random "Anonymous ..." user per browser; here the identity stays stable, and JupyterLab
(and jupyter-collaboration's user menu) shows the owner's display name and avatar.
"""

from __future__ import annotations

import getpass
import inspect
from dataclasses import dataclass, fields
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Unicode, default

from ..errors import NotFound, Unauthenticated
from ..schemas.auth import Principal
from ..schemas.users import UserOut
from ..services import SETTINGS_KEY, Services
from ..services.api_keys import ApiKeyPrincipal
from ..services.avatars import color_of, initials_of
from ..services.sharing import LinkPrincipal, link_actor
from .secret_tokens import SecretKind, looks_like_secret

_IDENTITY_FIELDS = tuple(f.name for f in fields(User))


@dataclass
class AnalyticsUser(User):
    """A Jupyter user that also carries the analytics user's id and admin flag, and the API key
    the request came with (whose scopes then bound what it may do)."""

    user_id: str = ""
    is_admin: bool = False
    api_key: ApiKeyPrincipal | None = None
    session_id: str | None = None
    """The login session a team-server request belongs to (None: owner token, API key)."""
    notebook_role: bool = False
    email_unverified: bool = False
    share_link: LinkPrincipal | None = None
    """Set for a request that came with a share link: ``user_id`` is then the link's actor id
    (``link:<grant id>``), which the sharing service lets view that one object only."""


DEAD_LINK = LinkPrincipal(
    actor_id=link_actor(""), grant_id="", object_type="", object_id="", expires_at=None
)
"""The guest of a share link that does not (or no longer) work."""

SHARE_TOKEN_ARGUMENT = "share_token"  # noqa: S105 -- a parameter name, not a secret
"""The query argument a share link's URL carries its token in (scrubbed from Jupyter's logs,
which hide every argument whose name contains ``token``)."""


def accepts_share_links(handler: web.RequestHandler) -> bool:
    """Whether ``handler`` is one of the few analytics routes a share link may be presented to
    (an object's own read routes); every other route ignores link tokens entirely."""
    return bool(getattr(handler, "accepts_share_links", False))


def share_link_token(handler: web.RequestHandler) -> str | None:
    """The share link a request presents: ``Authorization: Bearer ael_...``, or (with no
    Authorization header) ``?share_token=ael_...``; None for any other request."""
    header = handler.request.headers.get("Authorization", "").strip()
    scheme, _, credential = header.partition(" ")
    if header:
        credential = credential.strip()
        is_link = scheme.lower() == "bearer" and credential.startswith(
            f"{SecretKind.SHARE_LINK.value}_"
        )
        return credential if is_link else None
    token = handler.get_query_argument(SHARE_TOKEN_ARGUMENT, None)
    return token.strip() if token else None


async def share_link_user(handler: web.RequestHandler, services: Services) -> AnalyticsUser | None:
    """The guest a valid share link makes of its bearer, on routes that accept links."""
    token = share_link_token(handler)
    if token is None or not accepts_share_links(handler):
        return None
    try:
        link = await services.run(services.sharing.authenticate_link, token)
    except Unauthenticated:
        # A revoked, expired or made-up link opens nothing: its bearer is a guest whose actor
        # names no grant, so every object answers 404 — as for an object that never existed,
        # which is what a link that no longer works should look like to whoever holds it.
        link = DEAD_LINK
    handler._token_authenticated = True  # type: ignore[attr-defined]
    return AnalyticsUser(
        username=f"share-link-{link.grant_id[:8] or 'expired'}",
        name="Share link",
        display_name="Share link",
        initials="SL",
        color=color_of(link.grant_id or "expired"),
        user_id=link.actor_id,
        share_link=link,
    )


def avatar_url(base_url: str) -> str:
    return url_path_join(base_url, "api/user/avatar")


def analytics_user(
    user: UserOut | Principal, handler: web.RequestHandler, **extra: Any
) -> AnalyticsUser:
    """The Jupyter user for an analytics account (``extra``: api_key, session_id, roles)."""
    user_id = user.id if isinstance(user, UserOut) else user.user_id
    return AnalyticsUser(
        username=user.username,
        name=user.display_name,
        display_name=user.display_name,
        initials=initials_of(user.display_name),
        avatar_url=avatar_url(handler.settings.get("base_url", "/")),
        color=color_of(user_id),
        user_id=user_id,
        is_admin=user.is_admin,
        **extra,
    )


def principal_user(principal: Principal, handler: web.RequestHandler) -> AnalyticsUser:
    return analytics_user(
        principal,
        handler,
        session_id=principal.session_id,
        notebook_role=principal.notebook_role,
        email_unverified=principal.email_unverified,
    )


class LocalIdentityProvider(PasswordIdentityProvider):
    """Jupyter's token/password login, with the owner's persistent identity."""

    owner_username = Unicode(
        help="Username of the local owner account (default: the operating-system user).",
        config=True,
    )

    @default("owner_username")
    def _owner_username_default(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "owner"

    @default("updatable_fields")
    def _no_updatable_fields(self) -> list[str]:
        # The identity comes from the analytics store on every request, so a PATCH /api/me
        # would be silently lost: profile changes go through PATCH /api/user instead.
        return []

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        authenticated = super().get_user(handler)
        if inspect.isawaitable(authenticated):
            authenticated = await authenticated
        services: Services | None = handler.settings.get(SETTINGS_KEY)
        if services is None:
            return authenticated
        if share_link_token(handler) is not None:
            return await share_link_user(handler, services)
        if authenticated is None:
            return await self._api_key_user(handler, services)
        return await self.owner(handler, services)

    async def owner(self, handler: web.RequestHandler, services: Services) -> AnalyticsUser:
        """The owner: whoever holds Jupyter's token or password, in every mode."""
        owner = services.users.cached_owner() or await services.run(
            services.users.ensure_owner, self.owner_username, self.owner_username
        )
        return analytics_user(owner, handler)

    async def _api_key_user(
        self, handler: web.RequestHandler, services: Services
    ) -> AnalyticsUser | None:
        """The account behind ``Authorization: Bearer aek_...`` (an API key) or ``aet_...`` (a
        kernel's token), bounded by its scopes."""
        header = handler.request.headers.get("Authorization", "")
        if not looks_like_secret(header):
            return None
        token = header.split(None, 1)[-1].strip()
        # A notebook kernel's token has the shape and scopes of an API key's principal.
        is_kernel = token.startswith(f"{SecretKind.KERNEL.value}_")
        authenticate = (
            services.kernel_tokens.authenticate if is_kernel else services.api_keys.authenticate
        )
        try:
            key = await services.run(authenticate, token)
            user = await services.run(services.users.get, key.user_id)
        except (Unauthenticated, NotFound):
            return None
        flags = services.revocations.account(user.id)
        if flags is None:  # disabled since the key was made: its keys stop with it
            return None
        # A header credential, like Jupyter's token: no XSRF check (a browser never sends it).
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return analytics_user(
            user,
            handler,
            api_key=key,
            notebook_role=flags.notebook_role,
            email_unverified=flags.email_unverified,
        )

    def identity_model(self, user: User) -> dict[str, Any]:
        """Jupyter's identity fields only: internal ids and flags stay out of ``/api/me``."""
        return {name: getattr(user, name) for name in _IDENTITY_FIELDS}

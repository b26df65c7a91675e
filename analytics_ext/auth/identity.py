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
from datetime import datetime
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
from ..services.sharing import DEFAULT_LINK_LIFETIME, MAX_LINK_LIFETIME, LinkPrincipal, link_actor
from ..store.types import utcnow
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


async def share_link_user(
    handler: web.RequestHandler,
    services: Services,
    token: str | None = None,
    *,
    from_cookie: bool = False,
) -> AnalyticsUser | None:
    """The guest a valid share link makes of its bearer, on routes that accept links: the link
    the request presents, or ``token`` (a link session's, ``from_cookie``)."""
    token = token if token is not None else share_link_token(handler)
    if token is None:
        return None
    if not accepts_share_links(handler):
        if from_cookie:
            return None
        # A link (or a dashboard kernel's token) presented anywhere else opens nothing, and
        # says so the way a missing object does: JupyterLab, contents, kernels, other areas.
        raise web.HTTPError(404, LINK_ELSEWHERE)
    try:
        link = await services.run(services.sharing.authenticate_link, token)
    except Unauthenticated:
        # A revoked, expired or made-up link opens nothing: its bearer is a guest whose actor
        # names no grant, so every object answers 404 — as for an object that never existed,
        # which is what a link that no longer works should look like to whoever holds it.
        link = DEAD_LINK
    if from_cookie and link.object_type != LINK_SESSION_KIND:
        link = DEAD_LINK  # only a dashboard's viewer page starts a link session
    if not from_cookie:
        # A header or URL credential, which a browser never sends by itself: no XSRF check.
        # A link session is a cookie, which it does send: that keeps the check.
        handler._token_authenticated = True  # type: ignore[attr-defined]
    return link_guest(link)


def link_guest(link: LinkPrincipal) -> AnalyticsUser:
    """The user a share link's bearer is: its actor id, which views that one object only."""
    return AnalyticsUser(
        username=f"share-link-{link.grant_id[:8] or 'expired'}",
        name="Share link",
        display_name="Share link",
        initials="SL",
        color=color_of(link.grant_id or "expired"),
        user_id=link.actor_id,
        share_link=link,
    )


LINK_ELSEWHERE = "not found: a share link opens only the object it was made for"

# -- share-link sessions -------------------------------------------------------------------------

LINK_SESSION_KIND = "dashboard"
"""What a link session opens: a dashboard's viewer page (``handlers.dashboard_view``) and the
Voila paths it needs, which are pages a browser loads by itself, without a header to carry a
link in. Every other kind of link stays a header or URL credential."""

LINK_SESSION_REFUSED = (
    "this browser holds a share-link session for one dashboard; log in to use the rest of the "
    "server"
)
_LINK_SESSION_MAX_DAYS = MAX_LINK_LIFETIME.days + 1


def link_session_cookie_name(handler: web.RequestHandler) -> str:
    """The cookie of a browser's share-link session: next to the login cookie's name (which
    names the host and port, so two servers on one host keep theirs apart)."""
    provider = getattr(handler, "identity_provider", None)
    cookie_name = getattr(provider, "get_cookie_name", None)
    base = cookie_name(handler) if callable(cookie_name) else "analytics-ext"
    return f"{base}-share-link"


def set_link_session(handler: web.RequestHandler, token: str, expires_at: datetime | None) -> None:
    """Remember a dashboard's share link in this browser until the link expires.

    The cookie holds the link's token, signed with the server's cookie secret (tornado secure
    cookie), HttpOnly and SameSite=Lax, Secure over https, for the server's base_url. It is no
    new credential: every request re-checks the link itself (``link_session_user``), so
    revoking or expiring the link ends the session at once.
    """
    lifetime = (expires_at - utcnow()) if expires_at is not None else DEFAULT_LINK_LIFETIME
    provider = getattr(handler, "identity_provider", None)
    secure = getattr(provider, "secure_cookie", None)
    if secure is None:
        secure = handler.request.protocol == "https"
    handler.set_signed_cookie(
        link_session_cookie_name(handler),
        token,
        expires_days=None,
        max_age=max(1, int(lifetime.total_seconds())),
        httponly=True,
        samesite="Lax",
        secure=bool(secure),
        path=handler.settings.get("base_url", "/"),
    )


def link_session_token(handler: web.RequestHandler) -> str | None:
    """The share link this browser's link-session cookie holds, if it carries a valid one."""
    raw = handler.get_signed_cookie(
        link_session_cookie_name(handler), max_age_days=_LINK_SESSION_MAX_DAYS
    )
    if not raw:
        return None
    token = raw.decode("utf-8", errors="replace")
    return token if token.startswith(f"{SecretKind.SHARE_LINK.value}_") else None


def _public_method(handler: web.RequestHandler) -> bool:
    method = getattr(handler, (handler.request.method or "").lower(), None)
    return bool(getattr(method, "__allow_unauthenticated", False))


async def link_session_user(
    handler: web.RequestHandler, services: Services
) -> AnalyticsUser | None:
    """The guest of this browser's share-link session, for a request with no other credential
    (providers ask last, so a logged-in user with a stray link cookie stays themselves).

    On the routes that accept links it is the link's guest; on any other route it is refused
    with 403, so a dashboard's link never becomes a way into JupyterLab, the REST API or
    kernels. Public pages (login) stay open, so the browser can still log in.
    """
    if handler.request.headers.get("Authorization", "").strip():
        return None  # a header credential was presented (and failed): never a weaker one
    token = link_session_token(handler)
    if token is None:
        return None
    if not accepts_share_links(handler):
        if _public_method(handler):
            return None
        # Refused before any handler method runs. The handler's user is set to a guest of no
        # link (who may view nothing) rather than left unset: our REST base turns a 403 for a
        # caller without a user into 401 "log in", and this browser should learn why instead.
        handler.current_user = handler._jupyter_current_user = link_guest(DEAD_LINK)  # type: ignore[attr-defined]
        error = web.HTTPError(403, LINK_SESSION_REFUSED)
        error.message = LINK_SESSION_REFUSED  # type: ignore[attr-defined]
        raise error
    return await share_link_user(handler, services, token, from_cookie=True)


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
            key_user = await self._api_key_user(handler, services)
            return key_user or await link_session_user(handler, services)
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

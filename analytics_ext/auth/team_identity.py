"""Team-server identity (``AnalyticsExtension.multi_user = True``): one code path for every handler.

Each request is authenticated by the first credential it carries, in this order, and a credential
that is present but wrong is never passed over for a weaker one:

0. A share link (``Authorization: Bearer ael_...`` or ``?share_token=``), on the few routes
   that accept one: it views one object and nothing else (``services.sharing``).
1. ``Authorization: Bearer aek_...``: an API key, bounded by its scopes.
2. ``Authorization: Bearer <JWT>``: an access token from ``/api/auth/login`` or ``/refresh``.
3. Jupyter's own token (``?token=`` or ``Authorization: token ...``): the owner, first admin.
4. The login cookie set by our ``/login`` page (or a page opened with ``?token=``): it names a
   login session, so logging out or revoking the session ends it, the owner's included.
5. A share-link session cookie (a dashboard's viewer page opened with its link): that link's
   guest on the viewer routes, and 403 everywhere else (``identity.link_session_user``).

1-3 are header (or URL) credentials a browser never attaches by itself, so they mark the request
token-authenticated: no XSRF check, as for Jupyter's token. The cookie keeps XSRF.

Every check is answered from memory (the JWT signature, then ``RevocationView``): revoking a
session, changing a password or disabling an account ends access at once without a store query
per request.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.identity import User
from jupyter_server.base.handlers import APIHandler
from tornado import web
from traitlets import default

from ..errors import Unauthenticated
from ..services import SETTINGS_KEY, Services
from ..services.activity import RequestOrigin
from .identity import (
    AnalyticsUser,
    LocalIdentityProvider,
    link_session_user,
    principal_user,
    share_link_token,
    share_link_user,
)
from .secret_tokens import looks_like_secret


class TeamIdentityProvider(LocalIdentityProvider):
    """Logins against the analytics user table, plus the owner's Jupyter token and password."""

    @default("login_handler_class")
    def _login_handler_default(self) -> type[web.RequestHandler]:
        from .login_page import TeamLoginHandler

        return TeamLoginHandler

    @default("logout_handler_class")
    def _logout_handler_default(self) -> type[web.RequestHandler]:
        from .login_page import TeamLogoutHandler

        return TeamLogoutHandler

    @property
    def login_available(self) -> bool:
        return True  # accounts log in with a password even when the owner uses only a token

    @property
    def logout_available(self) -> bool:
        return True

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        """Jupyter's checks, then: never hand the owner's token to a browser page.

        JupyterLab writes the server token into every ``/lab`` page's config, and its frontend
        then sends it with every request. On a team server that would give each logged-in
        account the owner's credential (admin, code execution), and make every page act as the
        owner. Browsers authenticate with the login cookie (and XSRF) instead, as under
        JupyterHub. Called once the web application exists, before extensions add their pages.
        """
        super().validate_security(app, ssl_options)
        settings = app.web_app.settings
        settings["page_config_hook"] = _without_server_token(settings.get("page_config_hook"))

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        services: Services | None = handler.settings.get(SETTINGS_KEY)
        if services is None:
            return None  # the extension failed to load: nobody can be mapped to an account
        if share_link_token(handler) is not None:
            return await share_link_user(handler, services)
        header = handler.request.headers.get("Authorization", "").strip()
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if self.is_owner_token(self.get_token(handler) or ""):
            handler._token_authenticated = True  # type: ignore[attr-defined]
            if not header and handler.request.method == "GET" and not _is_api(handler):
                # A browser opening /lab?token=...: log it in with a revocable session cookie.
                user = await self.owner_session(handler, services)
                self.set_login_cookie(handler, user)
                return user
            return await self.owner(handler, services)
        if scheme.lower() == "bearer" and credential:
            if looks_like_secret(credential):
                return await self._api_key_user(handler, services)
            return self._access_token_user(handler, services, credential)
        if header:
            return None  # an Authorization header we do not accept: no fallback to the cookie
        user = await self._cookie_user(handler, services)
        return user or await link_session_user(handler, services)

    async def owner_session(self, handler: web.RequestHandler, services: Services) -> AnalyticsUser:
        """The owner with a new login session (browser logins with the server token), so the
        cookie it gets is listed in the sessions, ends at logout and can be revoked."""
        owner = await self.owner(handler, services)
        origin = RequestOrigin(handler.request.remote_ip, handler.request.headers.get("User-Agent"))
        session_id = await services.run(
            services.auth.open_browser_session, owner.user_id, origin, "server_token"
        )
        return dataclasses.replace(owner, session_id=session_id)

    def is_owner_token(self, candidate: str) -> bool:
        """Whether ``candidate`` is Jupyter's server token (compared in constant time)."""
        token = self.token or ""
        return bool(token and candidate) and hmac.compare_digest(candidate.encode(), token.encode())

    def is_owner_password(self, candidate: str) -> bool:
        """Whether ``candidate`` is Jupyter's token or its configured password
        (``PasswordIdentityProvider.hashed_password``)."""
        if self.is_owner_token(candidate):
            return True
        if not self.hashed_password or not candidate:
            return False
        from jupyter_server.auth.security import passwd_check

        return bool(passwd_check(self.hashed_password, candidate))

    @staticmethod
    def _access_token_user(
        handler: web.RequestHandler, services: Services, token: str
    ) -> AnalyticsUser | None:
        try:
            principal = services.auth.authenticate(token)
        except Unauthenticated:
            return None
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return principal_user(principal, handler)

    # --- the login cookie --------------------------------------------------------------------

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        """Remember a browser login: the account, its session and when the cookie ends.

        Signed with the server's cookie secret (tornado secure cookie), so it cannot be forged;
        it holds no secret itself, and a revoked session makes it worthless at once.
        """
        if not isinstance(user, AnalyticsUser) or not user.session_id:
            # Every cookie names a revocable session; anything else would outlive a logout.
            raise ValueError("a login cookie needs an analytics user with a session")
        services: Services = handler.settings[SETTINGS_KEY]
        lifetime = services.auth.session_lifetime.total_seconds()
        value = {"u": user.user_id, "s": user.session_id, "e": int(time.time() + lifetime)}
        options: dict[str, Any] = {**self.cookie_options}
        options.setdefault("httponly", True)
        options.setdefault("samesite", "Lax")
        secure = self.secure_cookie
        if secure is None:
            secure = handler.request.protocol == "https"
        if secure:
            options.setdefault("secure", True)
        options.setdefault("path", handler.base_url)  # type: ignore[attr-defined]
        options.setdefault("expires_days", lifetime / 86400)
        handler.set_secure_cookie(self.get_cookie_name(handler), json.dumps(value), **options)

    async def _cookie_user(
        self, handler: web.RequestHandler, services: Services
    ) -> AnalyticsUser | None:
        max_age_days = math.ceil(services.auth.session_lifetime.total_seconds() / 86400) + 1
        raw = handler.get_secure_cookie(self.get_cookie_name(handler), max_age_days=max_age_days)
        value = _parse_cookie(raw)
        if value is None or value["e"] < time.time():
            return None
        principal = services.revocations.principal(value["u"], value["s"])
        if principal is None:
            return None
        return principal_user(principal, handler)


PageConfigHook = Callable[[web.RequestHandler, dict[str, Any]], dict[str, Any]]


def _without_server_token(previous: PageConfigHook | None) -> PageConfigHook:
    """A JupyterLab ``page_config_hook`` that blanks the server token (after ``previous``,
    an admin's own hook, if any)."""

    def hook(handler: web.RequestHandler, page_config: dict[str, Any]) -> dict[str, Any]:
        if previous is not None:
            page_config = previous(handler, page_config)
        return {**page_config, "token": ""}

    return hook


def _is_api(handler: web.RequestHandler) -> bool:
    """REST calls with ``?token=`` (scripts) get no session and no cookie: only page loads do."""
    return isinstance(handler, APIHandler)


def _parse_cookie(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("u"), str)
        or not isinstance(value.get("s"), str)
        or not isinstance(value.get("e"), int)
        or not value["u"]
        or not value["s"]
    ):
        return None
    return value

"""The team server's login and logout pages (``/login``, ``/logout``).

Jupyter's stock login form has one password field; a team server's users log in with a username
and password against the analytics user table. Leaving the username empty and entering Jupyter's
server token (or its password) logs in the owner, as the stock form would.

A browser login opens a session like ``POST /api/auth/login`` does, but keeps only its id in a
signed, HttpOnly cookie (``TeamIdentityProvider.set_login_cookie``): the refresh token is never
sent to the browser, and revoking the session ends the cookie's access at once.

The same page finishes the flows that account mail starts: ``login#reset=<token>`` and
``login#verify=<token>`` (the token rides in the fragment, which no server or log ever sees), and
"Forgot password?". A small inline script reads the fragment, drops it from the address bar and
history, and POSTs JSON to the public ``/api/auth/*`` routes. The page sends its own
Content-Security-Policy: only this response's nonce may run script or style, nothing else loads,
and fetches go to this origin only, so even an injection into the page could not run or leak.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.base.handlers import JupyterHandler

from ..auth.rate_limits import LimitName, RateLimited, address_key, default_limits
from ..errors import AnalyticsError, Unauthenticated
from ..services import SETTINGS_KEY, Services
from ..services.activity import RequestOrigin
from .identity import AnalyticsUser, principal_user

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
)

INVALID_CREDENTIALS = "Invalid username or password."

_OWNER_LOGIN_LIMIT = default_limits()[LimitName.LOGIN_ADDRESS]
"""Owner logins (empty username) count against the same per-address limit as account logins:
a Jupyter password may be weak, and guessing it must not be cheaper than guessing an account's."""


def wait_message(retry_after: int) -> str:
    """'Too many attempts' with the wait in words a person reads at a glance."""
    if retry_after < 60:
        wait = f"{retry_after} second{'s' if retry_after != 1 else ''}"
    else:
        minutes = -(-retry_after // 60)  # rounded up: trying earlier is refused again
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many attempts. Try again in {wait}."


class TeamLoginHandler(LoginFormHandler):
    """Username and password login for team-server accounts; Jupyter's token for the owner."""

    @property
    def services(self) -> Services:
        return self.settings[SETTINGS_KEY]

    @property
    def csp_nonce(self) -> str:
        """This response's script and style nonce (one per request, never reused)."""
        nonce = getattr(self, "_csp_nonce", None)
        if nonce is None:
            nonce = self._csp_nonce = secrets.token_urlsafe(18)
        return nonce

    @property
    def content_security_policy(self) -> str:
        """Jupyter's policy (or the admin's, which comes first and so wins any directive it
        sets), then a strict one for this page: nothing but its own nonce'd script and style."""
        nonce = self.csp_nonce
        return "; ".join(
            [
                super().content_security_policy,
                "default-src 'none'",
                f"script-src 'nonce-{nonce}'",
                f"style-src 'nonce-{nonce}'",
                "connect-src 'self'",
                "img-src 'self' data:",
                "base-uri 'none'",
            ]
        )

    def _render(self, message: dict[str, str] | None = None, username: str = "") -> None:
        template = _templates.get_template("login.html")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        # The page holds an XSRF token and maybe an error about a username: keep it out of caches.
        self.set_header("Cache-Control", "no-store")
        self.write(
            template.render(
                base_url=self.base_url,
                next=self.get_argument("next", default=self.base_url),
                xsrf_form_html=self.xsrf_form_html(),
                message=message,
                username=username,
                nonce=self.csp_nonce,
            )
        )

    @allow_unauthenticated
    async def post(self) -> None:  # type: ignore[override]
        username = self.get_body_argument("username", default="").strip()
        password = self.get_body_argument("password", default="")
        try:
            user = await self._authenticate(username, password)
        except RateLimited as error:
            self.set_status(429)
            self.set_header("Retry-After", str(error.retry_after))
            self._render({"error": wait_message(error.retry_after)}, username)
            return
        except Unauthenticated:
            self.set_status(401)
            self._render({"error": INVALID_CREDENTIALS}, username)
            return
        except AnalyticsError as error:  # 403: e.g. login refused until the email is verified
            self.set_status(error.status)
            self._render({"error": _sentence(error.message)}, username)
            return
        self.current_user = user
        self.log.info("analytics_ext: %s logged in at /login", user.username)
        self.identity_provider.set_login_cookie(self, user)
        self._redirect_safe(self.get_argument("next", default=self.base_url))

    async def _authenticate(self, username: str, password: str) -> AnalyticsUser:
        provider: Any = self.identity_provider
        if not username:
            address = address_key(self.request.remote_ip or "unknown")
            await self.services.run(self.services.limiter.hit, _OWNER_LOGIN_LIMIT, address)
            if not provider.is_owner_password(password):
                raise Unauthenticated()
            return await provider.owner_session(self, self.services)
        origin = RequestOrigin(self.request.remote_ip, self.request.headers.get("User-Agent"))
        pair = await self.services.auth.login(username, password, origin)
        principal = self.services.auth.authenticate(pair.access_token)
        return principal_user(principal, self)


def _sentence(message: str) -> str:
    """A service message ("verify your email ...") as a sentence on the page."""
    message = message.strip()
    if not message:
        return message
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


class TeamLogoutHandler(JupyterHandler):
    """End the browser's session (not only its cookie), then show the login page."""

    @allow_unauthenticated
    async def get(self) -> None:
        user = self.current_user
        if isinstance(user, AnalyticsUser) and user.session_id:
            services: Services = self.settings[SETTINGS_KEY]
            await services.run(services.auth.logout, user.session_id)
        self.identity_provider.clear_login_cookie(self)
        self.redirect(self.base_url + "login")

"""The team server's login and logout pages (``/login``, ``/logout``).

Jupyter's stock login form has one password field; a team server's users log in with a username
and password against the analytics user table. Leaving the username empty and entering Jupyter's
server token (or its password) logs in the owner, as the stock form would.

A browser login opens a session like ``POST /api/auth/login`` does, but keeps only its id in a
signed, HttpOnly cookie (``TeamIdentityProvider.set_login_cookie``): the refresh token is never
sent to the browser, and revoking the session ends the cookie's access at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.base.handlers import JupyterHandler

from ..auth.rate_limits import RateLimited
from ..errors import AnalyticsError, Unauthenticated
from ..services import SETTINGS_KEY, Services
from ..services.activity import RequestOrigin
from .identity import AnalyticsUser, principal_user

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
)

INVALID_CREDENTIALS = "Invalid username or password."


class TeamLoginHandler(LoginFormHandler):
    """Username and password login for team-server accounts; Jupyter's token for the owner."""

    @property
    def services(self) -> Services:
        return self.settings[SETTINGS_KEY]

    def _render(self, message: dict[str, str] | None = None, username: str = "") -> None:
        template = _templates.get_template("login.html")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.write(
            template.render(
                base_url=self.base_url,
                next=self.get_argument("next", default=self.base_url),
                xsrf_form_html=self.xsrf_form_html(),
                message=message,
                username=username,
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
            minutes = max(1, round(error.retry_after / 60))
            self._render(
                {"error": f"Too many attempts. Try again in about {minutes} minute(s)."}, username
            )
            return
        except Unauthenticated:
            self.set_status(401)
            self._render({"error": INVALID_CREDENTIALS}, username)
            return
        except AnalyticsError as error:
            self.set_status(error.status)
            self._render({"error": error.message}, username)
            return
        self.current_user = user
        self.log.info("analytics_ext: %s logged in at /login", user.username)
        self.identity_provider.set_login_cookie(self, user)
        self._redirect_safe(self.get_argument("next", default=self.base_url))

    async def _authenticate(self, username: str, password: str) -> AnalyticsUser:
        provider: Any = self.identity_provider
        if not username:
            if not provider.is_owner_password(password):
                raise Unauthenticated()
            return await provider.owner(self, self.services)
        origin = RequestOrigin(self.request.remote_ip, self.request.headers.get("User-Agent"))
        pair = await self.services.auth.login(username, password, origin)
        principal = self.services.auth.authenticate(pair.access_token)
        return principal_user(principal, self)


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

"""Team-server accounts over HTTP: login, refresh, sign-up, recovery, sessions, password change.

Thin shells over ``AuthService``, ``AccountRecovery`` and ``AccountService``. Two kinds of route:

- **Public** (``@allow_unauthenticated``, listed in ``PUBLIC_ROUTES``): login, refresh, register,
  forgot/reset password, verify email. They take JSON only and read no
  cookie, so the base handler exempts them from the XSRF check for ``application/json`` bodies
  alone; a cross-site form post is refused with 403 before anything runs. They exist only on a
  team server: in local mode they answer 404 saying how to turn accounts on.
- **Authenticated** (``@web.authenticated`` + ``@authorized`` on ``analytics_ext:users``): logout,
  the caller's sessions, changing one's password, resending one's verification link.

The services' login, refresh, forgot/reset, change-password and account creation are coroutines
(they wait on the password-hashing worker); ``run`` awaits those and moves blocking calls off the
loop, mapping domain errors to statuses either way.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from tornado import web

from ..auth import resources as res
from ..auth.identity import avatar_url
from ..schemas.auth import (
    Accepted,
    ForgotPasswordRequest,
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    Registered,
    RegisterRequest,
    ResetPasswordRequest,
    RevokedSessions,
    SessionList,
    VerifyEmailRequest,
)
from ..schemas.users import UserView
from ..store.types import ID_LENGTH
from .base import ALLOW_SIGNUP_SETTING, MULTI_USER_SETTING, AnalyticsHandler, error_response

LOCAL_MODE_MESSAGE = (
    "account login is for team servers: set c.AnalyticsExtension.multi_user = True "
    "(this server is in local mode: Jupyter's token or password logs its owner in)"
)
SIGNUP_DISABLED_MESSAGE = "sign-up is disabled; an admin creates accounts"
FORGOT_ACCEPTED = Accepted(
    message="If an account matches, an email with a link to reset its password is on its way."
)
RESEND_ACCEPTED = Accepted(
    message="If your email address is not verified yet, a new verification link is on its way."
)


class AccountHandler(AnalyticsHandler):
    """Base of this module's handlers."""

    auth_resource = res.USERS

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()


class PublicAccountHandler(AccountHandler):
    """A public JSON route of a team server; 404 in local mode, where there are no accounts."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()  # XSRF for non-JSON bodies, credentials, body size
        # Only the route's own verbs: any other still gets tornado's 405 with ``Allow``.
        if self._public_method() and not self.settings.get(MULTI_USER_SETTING, False):
            raise error_response(404, LOCAL_MODE_MESSAGE)


# --- public routes -------------------------------------------------------------------------------


class LoginHandler(PublicAccountHandler):
    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(LoginRequest)
        pair = await self.run(self.services.auth.login, body.username, body.password, self.origin)
        self.write_json(pair.as_json())


class RefreshHandler(PublicAccountHandler):
    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(RefreshRequest)
        pair = await self.run(self.services.auth.refresh, body.refresh_token, self.origin)
        self.write_json(pair.as_json())


class RegisterHandler(PublicAccountHandler):
    """Self-service sign-up (``allow_signup``): an unverified account, a verification mail, and
    a first session when unverified accounts may log in at all."""

    @allow_unauthenticated
    async def post(self) -> None:
        if not self.settings.get(ALLOW_SIGNUP_SETTING, False):
            raise error_response(403, SIGNUP_DISABLED_MESSAGE)
        body = self.parse(RegisterRequest)
        done = await self.run(
            self.services.signup.register,
            body.username, body.password, body.email, body.display_name, self.origin,
        )  # fmt: skip
        registered = Registered(
            user=UserView(**done.user.model_dump(), avatar_url=avatar_url(self.base_url)),
            tokens=done.tokens.as_json() if done.tokens is not None else None,
            verification_sent=done.verification_sent,
        )
        self.write_json(registered, status=201)


class ForgotPasswordHandler(PublicAccountHandler):
    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(ForgotPasswordRequest)
        # Same answer, in about the same time, whether or not the account exists (the service).
        await self.run(self.services.recovery.forgot_password, body.email_or_username, self.origin)
        self.write_json(FORGOT_ACCEPTED, status=202)


class ResetPasswordHandler(PublicAccountHandler):
    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(ResetPasswordRequest)
        await self.run(
            self.services.recovery.reset_password, body.token, body.password, self.origin
        )
        self.no_content()


class RequestVerificationHandler(PublicAccountHandler):
    """A new verification link for someone who cannot log in to ask for one (unverified
    accounts blocked); answers alike whether or not the account exists (the service)."""

    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(ForgotPasswordRequest)
        await self.run(
            self.services.recovery.request_verification, body.email_or_username, self.origin
        )
        self.write_json(RESEND_ACCEPTED, status=202)


class VerifyEmailHandler(PublicAccountHandler):
    @allow_unauthenticated
    async def post(self) -> None:
        body = self.parse(VerifyEmailRequest)
        await self.run(self.services.recovery.verify_email, body.token, self.origin)
        self.no_content()


# --- authenticated routes ------------------------------------------------------------------------


class LogoutHandler(AccountHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """End the caller's login session. A caller without one (Jupyter's token, an API key)
        has nothing to end: 204 all the same, so a client can always log out blindly."""
        session_id = self.analytics_user.session_id
        if session_id:
            await self.run(self.services.auth.logout, session_id)
        self.no_content()


class ResendVerificationHandler(AccountHandler):
    """A new verification link for the caller's own address (older links stop working).

    Allowed to accounts whose address is unverified (the Authorizer keeps the caller's own
    account writable for them). Answers 202 also when there is nothing to verify.
    """

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.run(self.services.recovery.resend_verification, self.user_id, self.origin)
        self.write_json(RESEND_ACCEPTED, status=202)


class SessionsHandler(AccountHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        caller = self.analytics_user
        sessions = await self.run(
            self.services.auth.list_sessions, caller.user_id, caller.session_id
        )
        self.write_json(SessionList(items=sessions))


class SessionHandler(AccountHandler):
    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        await self.run(self.services.auth.revoke_session, self.user_id, session_id)
        self.no_content()


class RevokeOtherSessionsHandler(AccountHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Log out everywhere else. For a caller without a session (Jupyter's token, an API
        key) every login session of the account is "elsewhere"."""
        caller = self.analytics_user
        revoked = await self.run(
            self.services.auth.revoke_other_sessions, caller.user_id, caller.session_id
        )
        self.write_json(RevokedSessions(revoked=revoked))


class PasswordHandler(AccountHandler):
    """Change one's own password.

    A wrong current password is 422 naming ``current_password``: the caller *is* authenticated,
    and 401 would tell a client to log in again. The service counts it as a failed login.
    """

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(PasswordChange)
        caller = self.analytics_user
        await self.run(
            self.services.auth.change_password,
            caller.user_id, body.current_password, body.new_password, caller.session_id,
        )  # fmt: skip
        self.no_content()


_SESSION_ID = rf"(?P<session_id>[A-Za-z0-9_-]{{{ID_LENGTH}}})"

ROUTES = [
    (r"/api/auth/login", LoginHandler),
    (r"/api/auth/refresh", RefreshHandler),
    (r"/api/auth/register", RegisterHandler),
    (r"/api/auth/forgot-password", ForgotPasswordHandler),
    (r"/api/auth/reset-password", ResetPasswordHandler),
    (r"/api/auth/verify-email", VerifyEmailHandler),
    (r"/api/auth/resend-verification", ResendVerificationHandler),
    (r"/api/auth/request-verification", RequestVerificationHandler),
    (r"/api/auth/logout", LogoutHandler),
    (r"/api/auth/sessions", SessionsHandler),
    (r"/api/auth/sessions/revoke-others", RevokeOtherSessionsHandler),
    (rf"/api/auth/sessions/{_SESSION_ID}", SessionHandler),
    (r"/api/user/password", PasswordHandler),
]

PUBLIC = {
    r"/api/auth/login": frozenset({"POST"}),
    r"/api/auth/refresh": frozenset({"POST"}),
    r"/api/auth/register": frozenset({"POST"}),
    r"/api/auth/forgot-password": frozenset({"POST"}),
    r"/api/auth/reset-password": frozenset({"POST"}),
    r"/api/auth/verify-email": frozenset({"POST"}),
    r"/api/auth/request-verification": frozenset({"POST"}),
}
"""This module's public route verbs, for ``handlers.PUBLIC_ROUTES``."""

"""The base of every REST handler: one error mapper, JSON in and out, blocking work off the loop.

Concrete handlers stay a few lines per verb: parse the input, call one service through
``self.run``, write the result. Credentials, body limits, validation messages and the mapping of
domain errors to statuses (DESIGN.md §9) live here and nowhere else.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from http.client import responses
from typing import Any, ClassVar, ParamSpec, TypeVar

from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from ..auth.identity import AnalyticsUser, analytics_user
from ..auth.rate_limits import RateLimited
from ..errors import AnalyticsError
from ..schemas.base import QueryModel
from ..services import SETTINGS_KEY, Services
from ..services.activity import RequestOrigin

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Q = TypeVar("Q", bound=QueryModel)

MAX_BODY_SETTING = "analytics_ext_max_request_bytes"
ALLOW_SIGNUP_SETTING = "analytics_ext_allow_signup"
MULTI_USER_SETTING = "analytics_ext_multi_user"


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.HTTPError:
    error = web.HTTPError(status, message, reason=responses.get(status))
    # tornado clears headers before writing an error, so headers the error needs travel with it.
    error.headers = headers or {}  # type: ignore[attr-defined]
    # tornado keeps log_message as a %-format (doubling a bare "%"): the caller reads this.
    error.message = message  # type: ignore[attr-defined]
    return error


def describe_validation_error(error: ValidationError) -> str:
    """``field.path: problem`` for each problem, so the caller knows which input to fix."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


class AnalyticsHandler(APIHandler):
    """Base for analytics_ext REST handlers.

    Subclasses set ``auth_resource`` to one of ``auth.resources`` and decorate every verb with
    ``@web.authenticated`` then ``@authorized``, or mark a public verb ``@allow_unauthenticated``
    and list it in ``handlers.PUBLIC_ROUTES``.
    """

    auth_resource: ClassVar[str]
    accepts_share_links: ClassVar[bool] = False
    """Whether a share link (``auth.identity.share_link_token``) is a credential here: only on
    the routes of shareable objects, where the sharing service limits it to its one object."""
    max_body_bytes: ClassVar[int | None] = None
    """This route's own body limit in bytes (an upload route needs more than JSON does);
    ``None``: the server-wide ``AnalyticsExtension.max_request_bytes``."""

    @property
    def services(self) -> Services:
        return self.settings[SETTINGS_KEY]

    @property
    def analytics_user(self) -> AnalyticsUser:
        user = self.current_user
        if isinstance(user, AnalyticsUser) and user.user_id:
            return user
        mapped = getattr(self, "_external_user", None)
        if mapped is not None:
            return mapped
        # Jupyter's stock token/password provider names every browser "Anonymous <moon>":
        # there is no person to map to an account, so refuse rather than guess.
        raise error_response(
            403, "this server's identity provider does not map users to analytics accounts"
        )

    async def _map_external_user(self) -> None:
        """A user authenticated by another IdentityProvider (JupyterHub's, an OAuth proxy's)
        becomes the analytics account of the same username, created on first sight.

        ``current_user`` itself is left as that provider made it: its Authorizer (JupyterHub's
        scopes) may read attributes of its own. A hub admin (``hub_user["admin"]``) is an admin
        here too.
        """
        user = self.current_user
        if (
            user is None
            or isinstance(user, AnalyticsUser)
            or isinstance(self.identity_provider, PasswordIdentityProvider)
        ):
            return
        hub_user = getattr(user, "hub_user", None)
        is_admin = bool(hub_user.get("admin")) if isinstance(hub_user, dict) else False
        account = await self.services.run(
            self.services.users.ensure_external,
            user.username,
            user.display_name or user.name or user.username,
            is_admin,
        )
        if self.services.revocations.account(account.id) is None:
            raise error_response(403, "this analytics account is disabled; ask an administrator")
        self._external_user = analytics_user(account, self)

    @property
    def user_id(self) -> str:
        return self.analytics_user.user_id

    @property
    def origin(self) -> RequestOrigin:
        """Where the request came from, for security events in the activity log."""
        return RequestOrigin(self.request.remote_ip, self.request.headers.get("User-Agent"))

    def _public_method(self) -> bool:
        method = getattr(self, (self.request.method or "").lower(), None)
        return bool(getattr(method, "__allow_unauthenticated", False))

    def _json_content_type(self) -> bool:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return content_type == "application/json"

    def check_xsrf_cookie(self) -> None:
        """Public JSON routes (login, refresh, forgot/reset, verify) skip the XSRF check.

        They read no cookie, so there is no ambient credential to forge a request with, and a
        cross-site page cannot send ``application/json`` without a CORS preflight that this
        server refuses. A form post (what a cross-site page *can* send) is still checked, and
        refused for want of the XSRF token.
        """
        if self._public_method() and self._json_content_type():
            return
        super().check_xsrf_cookie()

    async def prepare(self) -> None:  # type: ignore[override]
        """Answer 401 to a caller without valid credentials, before XSRF or origin checks.

        jupyter_server answers 403 there (and checks XSRF first, which hides the real problem
        from API clients); a client needs to know it must log in, not that it is forbidden.
        """
        try:
            await super().prepare()
        except web.HTTPError as error:
            if error.status_code == 403 and self.current_user is None and not self._public_method():
                raise self._unauthenticated() from None
            raise
        if self.current_user is None and not self._public_method():
            raise self._unauthenticated()
        self._check_body_size()
        await self._map_external_user()

    @staticmethod
    def _unauthenticated() -> web.HTTPError:
        return error_response(401, "authentication required: send 'Authorization: token <token>'")

    def get_login_url(self) -> str:
        raise self._unauthenticated()

    def _check_body_size(self) -> None:
        limit = self.max_body_bytes
        if limit is None:
            limit = self.settings.get(MAX_BODY_SETTING, 1 << 20)
        if len(self.request.body or b"") > limit:
            raise error_response(413, f"request body is larger than the {limit} byte limit")

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    # -- input -------------------------------------------------------------------------------

    def parse(self, model: type[M]) -> M:
        """The JSON body validated as ``model``: 400 if it is not JSON, 422 naming the field."""
        if not self._json_content_type():
            content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
            raise error_response(
                400, f"Content-Type must be application/json, not {content_type or 'missing'!r}"
            )
        raw = self.request.body or b""
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as error:
            raise error_response(400, f"request body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise error_response(422, f"body: must be a JSON object, not {type(data).__name__}")
        try:
            return model.model_validate_json(raw)
        except ValidationError as error:
            raise error_response(422, describe_validation_error(error)) from None

    def parse_query(self, model: type[Q]) -> Q:
        """The query string validated as ``model``: 422 naming the parameter."""
        values: dict[str, Any] = {}
        for name, raw in self.request.query_arguments.items():
            decoded = [self.decode_argument(value, name) for value in raw]
            values[name] = decoded if name in model.repeatable else decoded[-1]
        try:
            return model.model_validate(values)
        except ValidationError as error:
            raise error_response(422, describe_validation_error(error)) from None

    # -- work and output -----------------------------------------------------------------------

    async def run(
        self, fn: Callable[P, T] | Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Call a service method; domain errors become statuses.

        A blocking method runs off the event loop, in the services' bounded pool; a coroutine
        method (one that waits on password hashing or mail) is awaited on the loop, since it
        already moves its own blocking work off it.
        """
        try:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args, **kwargs)
            return await self.services.run(fn, *args, **kwargs)  # type: ignore[arg-type]
        except RateLimited as error:
            retry = {"Retry-After": str(error.retry_after)}
            raise error_response(error.status, error.message, retry) from None
        except AnalyticsError as error:
            raise error_response(error.status, error.message) from None

    def write_json(self, payload: Any, status: int = 200) -> None:
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{"message", "reason"}`` as jupyter_server writes it, minus tracebacks and internals."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        reason = responses.get(status_code, "Unknown")
        if isinstance(error, web.HTTPError):
            message = getattr(error, "message", None) or error.log_message or reason
            for name, value in getattr(error, "headers", {}).items():
                self.set_header(name, value)
        else:
            message = "internal server error: the server log has the details"
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"message": message, "reason": reason}))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The verbs this handler implements (tornado's defaults answer 405)."""
        return [
            verb
            for verb in cls.SUPPORTED_METHODS
            if getattr(cls, verb.lower()) is not getattr(web.RequestHandler, verb.lower())
        ]

"""What can go wrong talking to the server, as exceptions a notebook user can read.

Each carries the server's own message (it names the field or the problem) and the HTTP status;
a lost connection is its own class, so widgets can say "the server is unreachable" instead of
printing a traceback.
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Any failure of a call to the analytics server."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message if self.status is None else f"{self.message} (HTTP {self.status})"


class ServerUnreachable(AnalyticsError):
    """The server did not answer (stopped, wrong URL, network down, timed out)."""


class AuthenticationFailed(AnalyticsError):
    """401: no credentials, or the token/key was revoked or has expired."""


class PermissionDenied(AnalyticsError):
    """403: the account may see the object but not do this to it."""


class NotFound(AnalyticsError):
    """404: no such object, or the account may not see it."""


class InvalidRequest(AnalyticsError):
    """400/422: the server refused the input; the message names the field."""


class Conflict(AnalyticsError):
    """409: the object changed meanwhile, or the run has no result (yet)."""


class RateLimited(AnalyticsError):
    """429: too many requests; ``retry_after`` seconds to wait."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class QueryFailed(AnalyticsError):
    """The query ran and failed in the database (or timed out there)."""


class QueryCancelled(AnalyticsError):
    """The query was cancelled before it finished."""


_BY_STATUS: dict[int, type[AnalyticsError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
}


def error_for(status: int, message: str, retry_after: str | None = None) -> AnalyticsError:
    """The exception for an error answer of the server."""
    if status == 429:
        return RateLimited(message, status, float(retry_after) if retry_after else None)
    if status in (502, 503, 504):
        return ServerUnreachable(message, status)
    return _BY_STATUS.get(status, AnalyticsError)(message, status)

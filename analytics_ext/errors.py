"""Domain errors raised by services.

Services know nothing of HTTP; each error carries the status the handler layer maps it to, so
the mapping lives in exactly one place (``handlers.base``) and services stay testable alone.
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base class: ``str(error)`` is a message safe to show to the caller."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(AnalyticsError):
    """Credentials missing, forged, expired or revoked.

    Always raised with one generic message: telling the caller which check failed would help
    someone forging tokens, not someone holding a real one.
    """

    status = 401

    def __init__(self, message: str = "invalid or expired credentials") -> None:
        super().__init__(message)


class NotFound(AnalyticsError):
    """The object does not exist, or the caller may not know that it does."""

    status = 404


class Forbidden(AnalyticsError):
    """The caller can see the object but may not do this to it."""

    status = 403


class Conflict(AnalyticsError):
    """The change clashes with the current state (a duplicate name, a stale version)."""

    status = 409


class Invalid(AnalyticsError):
    """Well-formed input whose values break a rule; ``field`` names the offending input."""

    status = 422

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class Unavailable(AnalyticsError):
    """A dependency (store, datasource, mail server) is down; retrying later may work."""

    status = 503

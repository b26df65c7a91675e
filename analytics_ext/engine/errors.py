"""Errors the engine raises: domain errors (``analytics_ext.errors``) so handlers map them once.

A query's own failure (a syntax error, a missing table) is the caller's to fix, so its message is
the database's first line; a failure to reach the database says only that, never the URL.
"""

from __future__ import annotations

from analytics_ext.errors import AnalyticsError, Invalid, NotFound, Unavailable


class StatementRefused(Invalid):
    """The statement may not run on this datasource (it writes, or is several statements)."""

    def __init__(self, problem: str) -> None:
        super().__init__("sql", problem)


class ParameterError(Invalid):
    """A named parameter is missing, unused, or of a type no driver can bind."""

    def __init__(self, problem: str) -> None:
        super().__init__("parameters", problem)


class TooManyRuns(AnalyticsError):
    """The caller already has as many queries running as the server allows per user."""

    status = 429


class RunNotFound(NotFound):
    """No run with that id is known to this server (or it has expired)."""


class QueryFailed(AnalyticsError):
    """The database refused or aborted the query; the message is the database's first line."""

    status = 400


class SourceUnavailable(Unavailable):
    """The datasource could not be reached; the message never carries the URL or password."""

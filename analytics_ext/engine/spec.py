"""What the engine needs to know about a datasource, and nothing more."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import URL


@dataclass(frozen=True)
class SourceSpec:
    """A datasource as the engine sees it, built by ``DatasourceService.source_for``.

    ``url`` carries the decrypted password: the dataclass keeps it out of ``repr`` (and so out of
    logs and tracebacks), and nothing may render it with the password shown.
    """

    id: str
    """The datasource id: cache keys, connection pools and cancellation are per datasource."""
    url: URL = field(repr=False)
    revision: int = 0
    """Bumped on every change to the datasource: cached results and pools of older revisions die."""
    read_only: bool = True
    """Refuse statements that write (sqlglot), and run in a read-only transaction where possible."""
    row_limit: int | None = None
    """Most rows a query may return (None: the engine's own cap)."""
    timeout_seconds: float = 300.0
    """Statement timeout, enforced in the database where it supports one, else by cancelling."""
    cache_ttl_seconds: float = 0.0
    """How long an identical query's result may be served from cache (0: never cached)."""
    connect_timeout_seconds: float = 10.0
    check_host: Callable[[str | None, int | None], Sequence[Any]] | None = field(
        default=None, repr=False, compare=False
    )
    """The server's host policy (``UrlPolicy.check_host``): resolves the host and refuses a
    denied address. The engine connects to the address it returns, so a DNS answer that changed
    since the datasource was saved (rebinding) cannot lead it anywhere unchecked."""

    def pinned_address(self) -> str | None:
        """The checked address to connect to, resolved now; None for file databases."""
        if self.check_host is None or not self.url.host:
            return None
        return str(self.check_host(self.url.host, self.url.port)[0])

    @property
    def dialect(self) -> str:
        """The SQLAlchemy backend: postgresql, mysql, mariadb, sqlite or duckdb."""
        return self.url.get_backend_name()

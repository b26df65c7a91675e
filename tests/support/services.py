"""Local services (PostgreSQL, MariaDB, Redis): use them when they answer.

On a laptop without one, its tests skip with the reason; with ``CI=true`` an unreachable service
is a failure, so CI can never go green by skipping the store tests.
"""

from __future__ import annotations

import os
import socket

import pytest

SERVICES = {
    "postgresql": ("127.0.0.1", 5432),
    "mariadb": ("127.0.0.1", 3306),
    "redis": ("127.0.0.1", 6379),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, address: tuple[str, int] | None = None) -> None:
    """Skip (laptop) or fail (CI=true) unless the named service accepts connections."""
    host, port = address or SERVICES[name]
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if in_ci():
        pytest.fail(f"{message}, and CI=true requires it (see .ci/run)", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")

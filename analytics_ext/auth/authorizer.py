"""What an authenticated caller may do.

A login (Jupyter's token or password, a browser session) may do everything its account may. An
API key is narrower: its scopes bound it, so a leaked ``read`` key cannot change anything, and
only an ``admin`` key reaches code execution (kernels, terminals, contents) or key management —
otherwise a ``write`` key could mint itself an ``admin`` key.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User

from ..schemas.api_keys import ApiKeyScope
from .identity import AnalyticsUser
from .resources import ALL_RESOURCES, API_KEYS

_ACTION_SCOPE = {"read": ApiKeyScope.READ, "write": ApiKeyScope.WRITE}


def scope_needed(action: str, resource: str) -> ApiKeyScope:
    """The least scope a key needs for ``action`` on ``resource``."""
    if resource not in ALL_RESOURCES or resource == API_KEYS:
        return ApiKeyScope.ADMIN  # Jupyter's own resources, and minting keys
    return _ACTION_SCOPE.get(action, ApiKeyScope.ADMIN)  # "execute" and anything new


class AnalyticsAuthorizer(Authorizer):
    """Jupyter's Authorizer with API-key scopes enforced."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if isinstance(user, AnalyticsUser) and user.api_key is not None:
            return user.api_key.allows(scope_needed(action, resource))
        return True

"""What an authenticated caller may do.

Two limits apply, and both must allow an action:

- **The account's role.** Admins may do everything. On a team server an ordinary user reaches
  the analytics resources (objects inside are checked by the services, owner or grant) and may
  read the few Jupyter resources JupyterLab needs to load; kernels, contents and terminals — code
  execution and the server's files — need the ``notebook`` role. A self-registered account whose
  email address is not verified may only read, when the server says so.
- **The API key's scopes**, when the request came with a key: a leaked ``read`` key cannot
  change anything, and only an ``admin`` key reaches code execution or key management (otherwise
  a ``write`` key could mint itself an ``admin`` key).

In local mode the only account is the owner, an admin, so only key scopes ever refuse.
``/api/me?permissions=...`` asks this same class, so the frontend sees the same answers.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User

from ..options import UnverifiedAccess
from ..schemas.api_keys import ApiKeyScope
from .identity import AnalyticsUser
from .resources import (
    ADMIN_ONLY_RESOURCES,
    ALL_RESOURCES,
    API_KEYS,
    READABLE_JUPYTER_RESOURCES,
    SHARE_LINK_RESOURCES,
    USERS,
)

UNVERIFIED_ACCESS_SETTING = "analytics_ext_unverified_email_access"
"""Where the extension leaves ``unverified_email_access`` in the tornado settings."""

_ACTION_SCOPE = {"read": ApiKeyScope.READ, "write": ApiKeyScope.WRITE}


def scope_needed(action: str, resource: str) -> ApiKeyScope:
    """The least scope a key needs for ``action`` on ``resource``."""
    if resource not in ALL_RESOURCES or resource in (API_KEYS, *ADMIN_ONLY_RESOURCES):
        return ApiKeyScope.ADMIN  # Jupyter's own resources, minting keys, administration
    return _ACTION_SCOPE.get(action, ApiKeyScope.ADMIN)  # "execute" and anything new


def role_allows(user: AnalyticsUser, action: str, resource: str, unverified_access: str) -> bool:
    """Whether the account (whatever credential it came with) may ``action`` on ``resource``."""
    if user.share_link is not None:
        return resource in SHARE_LINK_RESOURCES  # the sharing service limits it to one object
    if user.is_admin:
        return True
    if resource in ADMIN_ONLY_RESOURCES:
        return False
    if resource in ALL_RESOURCES:
        # Their own account stays writable, so a mistyped new address can still be corrected.
        if (
            user.email_unverified
            and unverified_access != UnverifiedAccess.FULL
            and resource != USERS
        ):
            return action == "read"
        return True
    if resource in READABLE_JUPYTER_RESOURCES and action == "read":
        return True
    # Kernels, contents, terminals, and any resource of another extension we do not know.
    return user.notebook_role


class AnalyticsAuthorizer(Authorizer):
    """Jupyter's Authorizer with account roles and API-key scopes enforced."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if not isinstance(user, AnalyticsUser):
            return True  # another IdentityProvider's user: handlers refuse to map it themselves
        unverified_access = handler.settings.get(UNVERIFIED_ACCESS_SETTING, UnverifiedAccess.FULL)
        if not role_allows(user, action, resource, unverified_access):
            return False
        if user.api_key is not None:
            return user.api_key.allows(scope_needed(action, resource))
        return True

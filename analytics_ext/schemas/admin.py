"""Admin user-management bodies (``/api/admin/users``): what an administrator sees and sends."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from .base import QueryModel, RequestModel, ResponseModel
from .users import DisplayName, EmailAddress, RawPassword


class AdminUserQuery(QueryModel):
    """``GET /api/admin/users``: newest accounts first, in keyset pages, optionally filtered."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512)
    q: str | None = Field(None, min_length=1, max_length=254)
    """A substring of the username, email address or display name (case-insensitive)."""
    disabled: bool | None = None
    is_admin: bool | None = None


class AdminUserOut(ResponseModel):
    """An account as the admin list shows it: roles, state and recent use, never a secret."""

    id: str
    username: str
    display_name: str
    email: str | None
    email_verified: bool
    is_admin: bool
    is_owner: bool
    notebook_role: bool
    disabled: bool
    disabled_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    """When the account's latest login session began (null: never logged in)."""


class AdminUserPage(ResponseModel):
    items: list[AdminUserOut]
    next: str | None
    """Cursor of the next page; null on the last one."""
    total: int
    """Accounts matching the filters, across all pages."""


class AdminUserCreate(RequestModel):
    """``POST /api/admin/users``. The service canonicalises and checks username and email and
    applies the password policy, naming the field it refuses."""

    username: str = Field(min_length=1, max_length=128)
    password: RawPassword = Field(repr=False)
    email: EmailAddress | None = None
    display_name: DisplayName | None = None
    is_admin: bool = False
    notebook_role: bool = False


class AdminUserUpdate(RequestModel):
    """``PATCH /api/admin/users/{id}``: omitted fields stay as they are; null is refused."""

    is_admin: bool | None = None
    notebook_role: bool | None = None
    disabled: bool | None = None
    display_name: DisplayName | None = None

    @field_validator("is_admin", "notebook_role", "disabled", "display_name", mode="before")
    @classmethod
    def _present_means_set(cls, value: object) -> object:
        # Omitting a field leaves it unchanged; null would silently do the same, so refuse it.
        if value is None:
            raise ValueError("must not be null (omit the field to leave it unchanged)")
        return value


class AdminPasswordSet(RequestModel):
    """``POST /api/admin/users/{id}/password``: a new password, checked against the policy."""

    password: RawPassword = Field(repr=False)

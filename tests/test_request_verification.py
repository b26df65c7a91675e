"""Blocked until verified (``unverified_email_access = "blocked"``): asking for a new link without
logging in, and logging in once the address is proved."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from tests.conftest import TEST_PASSWORD
from tests.test_email_change import inbox, link_token


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.AnalyticsExtension.unverified_email_access = "blocked"
    return jp_server_config


async def test_blocked_account_asks_for_a_link_then_logs_in(
    create_account, anonymous, server_services, tmp_path
):
    await create_account("ada", verified=False)
    login = {"username": "ada", "password": TEST_PASSWORD}
    refused = await anonymous.request("POST", "/api/auth/login", login, expect=403)
    assert "verify your email address" in refused.body["message"]

    for name in ("ada", "nobody", "ADA@example.org"):
        reply = await anonymous.request(
            "POST", "/api/auth/request-verification", {"email_or_username": name}, expect=202
        )
        assert reply.body == {
            "message": "If your email address is not verified yet, a new verification link "
            "is on its way."
        }
    await server_services.recovery.wait_for_deliveries()
    mails = inbox(tmp_path, "ada@example.org")
    assert len(mails) == 2  # by username and by email; "nobody" sent nothing
    token = link_token(mails[-1], "verify")
    stale = link_token(mails[0], "verify")
    await anonymous.request("POST", "/api/auth/verify-email", {"token": stale}, expect=401)
    await anonymous.request("POST", "/api/auth/verify-email", {"token": token}, expect=204)
    await anonymous.request("POST", "/api/auth/login", login, expect=200)


async def test_a_verified_account_gets_no_mail(
    create_account, anonymous, server_services, tmp_path
):
    await create_account("bob")
    await anonymous.request(
        "POST", "/api/auth/request-verification", {"email_or_username": "bob"}, expect=202
    )
    await server_services.recovery.wait_for_deliveries()
    assert inbox(tmp_path, "bob@example.org") == []

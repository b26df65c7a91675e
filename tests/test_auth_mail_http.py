"""Sign-up verification and password reset end to end: HTTP in, mail through a real SMTP server
(aiosmtpd), the link's token back over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_PASSWORD
from tests.support.api import ApiClient
from tests.support.smtp import SmtpTestServer, run_smtp_server

PUBLIC_URL = "https://analytics.example.com/team/"
NEW_PASSWORD = "an entirely different passphrase"


@pytest.fixture
def multi_user() -> bool:
    return True


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with run_smtp_server("plain") as server:
        yield server


@pytest.fixture
def jp_server_config(jp_server_config, smtp: SmtpTestServer):
    options = jp_server_config.AnalyticsExtension
    options.smtp_host = smtp.host
    options.smtp_port = smtp.port
    options.smtp_security = "none"
    options.public_url = PUBLIC_URL
    options.allow_signup = True
    # Let a forged Host header reach the extension instead of being refused by Jupyter first.
    jp_server_config.ServerApp.allow_remote_access = True
    return jp_server_config


def link_token(smtp: SmtpTestServer, to: str, kind: str) -> str:
    """The token of the newest ``kind`` (reset/verify) link mailed to ``to``."""
    mails = [m for m in smtp.received if to in m.rcpt_tos]
    assert mails, f"no mail to {to}"
    text = mails[-1].message.get_body(preferencelist=("plain",)).get_content()
    found = re.findall(rf"(\S+)login#{kind}=(\S+)", text)
    assert found, text
    base, token = found[-1]
    assert base == PUBLIC_URL
    return token


async def test_signup_mail_verifies_the_address(anonymous, api, jp_fetch, smtp, server_services):
    body = {"username": "eve", "password": TEST_PASSWORD, "email": "eve@example.org"}
    registered = await anonymous.request("POST", "/api/auth/register", body, expect=201)
    await server_services.recovery.wait_for_deliveries()
    token = link_token(smtp, "eve@example.org", "verify")
    assert token not in str(
        await api.get("/api/user/activity?user_id=" + registered.body["user"]["id"])
    )

    eve = ApiClient(
        jp_fetch, headers={"Authorization": f"Bearer {registered.body['tokens']['access_token']}"}
    )
    key = {"name": "k", "scopes": ["read"]}
    await eve.request("POST", "/api/auth/api-keys", key, expect=403)  # unverified: read only

    await anonymous.request("POST", "/api/auth/verify-email", {"token": token}, expect=204)
    again = await anonymous.request("POST", "/api/auth/verify-email", {"token": token})
    assert again.status == 401  # single use
    user_id = registered.body["user"]["id"]
    kinds = [e["type"] for e in (await api.get(f"/api/user/activity?user_id={user_id}"))["items"]]
    assert "user.email_verified" in kinds
    # Verified: the same session may now do what unverified accounts may not.
    await eve.request("POST", "/api/auth/api-keys", key, expect=201)


async def test_resend_sends_a_new_link_and_kills_the_old(
    anonymous, jp_fetch, smtp, server_services
):
    body = {"username": "eve", "password": TEST_PASSWORD, "email": "eve@example.org"}
    registered = await anonymous.request("POST", "/api/auth/register", body, expect=201)
    first = link_token(smtp, "eve@example.org", "verify")
    eve = ApiClient(
        jp_fetch, headers={"Authorization": f"Bearer {registered.body['tokens']['access_token']}"}
    )
    await eve.request("POST", "/api/auth/resend-verification", expect=202)
    second = link_token(smtp, "eve@example.org", "verify")
    assert second != first
    await anonymous.request("POST", "/api/auth/verify-email", {"token": first}, expect=401)
    await anonymous.request("POST", "/api/auth/verify-email", {"token": second}, expect=204)


async def test_reset_by_mail_ends_every_session(
    create_account, anonymous, api, jp_fetch, smtp, server_services
):
    ada = await create_account("ada")
    login = {"username": "ada", "password": TEST_PASSWORD}
    old = (await anonymous.request("POST", "/api/auth/login", login, expect=200)).body
    old_client = ApiClient(jp_fetch, headers={"Authorization": f"Bearer {old['access_token']}"})
    await old_client.get("/api/user")

    # A forged Host (and forwarded host) must not reach the link: it is built from public_url.
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    reply = await anonymous.request(
        "POST", "/api/auth/forgot-password", {"email_or_username": "ada"}, headers=forged
    )
    assert reply.status == 202
    await server_services.recovery.wait_for_deliveries()
    mail = [m for m in smtp.received if "ada@example.org" in m.rcpt_tos][-1]
    assert b"evil.example" not in mail.raw
    token = link_token(smtp, "ada@example.org", "reset")

    weak = await anonymous.request(
        "POST", "/api/auth/reset-password", {"token": token, "password": "short"}
    )
    assert weak.status == 422
    assert weak.body["message"].startswith("password:")
    await anonymous.request(
        "POST", "/api/auth/reset-password", {"token": token, "password": NEW_PASSWORD}, expect=204
    )
    await old_client.request("GET", "/api/user", expect=401)
    refresh = {"refresh_token": old["refresh_token"]}
    await anonymous.request("POST", "/api/auth/refresh", refresh, expect=401)
    await anonymous.request("POST", "/api/auth/login", login, expect=401)
    await anonymous.request(
        "POST", "/api/auth/login", {"username": "ada", "password": NEW_PASSWORD}, expect=200
    )
    reused = await anonymous.request(
        "POST", "/api/auth/reset-password", {"token": token, "password": "yet another passphrase"}
    )
    assert reused.status == 401  # single use
    kinds = [e["type"] for e in (await api.get(f"/api/user/activity?user_id={ada.id}"))["items"]]
    assert {"auth.password_reset_requested", "auth.password_reset"} <= set(kinds)

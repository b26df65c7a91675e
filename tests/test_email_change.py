"""Changing one's email address (PATCH /api/user): the password is asked, the address re-verified.

Mail goes to the test server's outbox folder (no SMTP relay configured), read here as a person
reads their inbox.
"""

from __future__ import annotations

import email
import json
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from analytics_ext.services.activity import RequestOrigin
from tests.conftest import TEST_PASSWORD

WRITE_KEYS = json.dumps({"analytics_ext:api_keys": ["write"]})


@pytest.fixture
def multi_user() -> bool:
    return True


def inbox(tmp_path: Path, address: str) -> list[EmailMessage]:
    messages = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec == address:
            messages.append(message)
    return messages


def link_token(message: EmailMessage, kind: str) -> str:
    found = re.search(rf"login#{kind}=(\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


async def can_write_keys(client) -> bool:
    me = await client.get(f"/api/me?permissions={WRITE_KEYS}")
    return me["permissions"]["analytics_ext:api_keys"] == ["write"]


async def test_email_change_needs_the_password_and_reverification(
    create_account, login, server_services, tmp_path
):
    await create_account("ada")
    ada = await login("ada")
    assert await can_write_keys(ada)
    changed = await ada.patch(
        "/api/user", {"email": "Ada.New@Example.ORG", "current_password": TEST_PASSWORD}
    )
    assert changed["email"] == "ada.new@example.org"  # canonical
    [verification] = inbox(tmp_path, "ada.new@example.org")
    [notice] = inbox(tmp_path, "ada@example.org")
    assert "was changed" in notice.get_content()
    assert "ada.new" not in notice.get_content()  # the old inbox does not learn the new address

    # Unverified (read_only by default): its own account stays editable, nothing else writable.
    assert not await can_write_keys(ada)
    await ada.patch("/api/user", {"display_name": "Ada L."})

    token = link_token(verification, "verify")
    await server_services.run(
        server_services.recovery.verify_email, token, RequestOrigin("127.0.0.1")
    )
    assert await can_write_keys(ada)  # at once: the verification told the revocation view


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"email": "new@example.org"}, 422, "current_password: required"),
        ({"email": "new@example.org", "current_password": "wrong password"}, 422, "incorrect"),
        ({"email": "not an address", "current_password": TEST_PASSWORD}, 422, "email"),
        ({"email": "BOB@example.org", "current_password": TEST_PASSWORD}, 409, "email"),
        ({"current_password": TEST_PASSWORD}, 422, "only needed when changing email"),
        ({"email": None}, 422, "email"),
    ],
)
async def test_bad_email_changes_are_refused_and_change_nothing(
    create_account, login, tmp_path, body, status, message
):
    await create_account("ada")
    await create_account("bob")
    ada = await login("ada")
    reply = await ada.request("PATCH", "/api/user", body, expect=status)
    assert message in reply.body["message"]
    assert (await ada.get("/api/user"))["email"] == "ada@example.org"
    assert inbox(tmp_path, "new@example.org") == []


async def test_password_is_never_stripped(create_account, login):
    await create_account("ada", password=" spaced out password ")
    ada = await login("ada", " spaced out password ")
    reply = await ada.request(
        "PATCH", "/api/user", {"email": "a2@example.org", "current_password": "spaced out password"}
    )
    assert reply.status == 422


async def test_wrong_passwords_here_count_towards_the_account_lock(create_account, login):
    await create_account("ada")
    ada = await login("ada")
    statuses = []
    for _ in range(6):
        reply = await ada.request(
            "PATCH", "/api/user", {"email": "x@example.org", "current_password": "guess guess"}
        )
        statuses.append(reply.status)
    assert statuses[:5] == [422] * 5
    assert statuses[5] == 429


async def test_owner_without_password_changes_email_with_its_token(api, tmp_path):
    changed = await api.patch("/api/user", {"email": "owner@example.org"})
    assert changed["email"] == "owner@example.org"
    [verification] = inbox(tmp_path, "owner@example.org")
    assert "login#verify=" in verification.get_content()

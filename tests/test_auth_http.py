"""Team-server accounts over HTTP: login, refresh rotation, sessions, passwords, sign-up, limits,
and every kind of forged or misused credential, against the real server.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, func, select

from analytics_ext.handlers.auth import LOCAL_MODE_MESSAGE, PUBLIC, SIGNUP_DISABLED_MESSAGE
from analytics_ext.store.models import Base
from tests.conftest import TEST_PASSWORD
from tests.support.api import ApiClient, Reply

NEW_PASSWORD = "a new and much longer passphrase"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def multi_user() -> bool:
    return True


def row_counts(db_url: str) -> dict[str, int]:
    """Rows in every table of the store: "nothing was written" is these staying equal."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


async def post(client: ApiClient, path: str, body: Any = None, **kwargs: Any) -> Reply:
    return await client.request("POST", path, body, **kwargs)


async def log_in(anonymous: ApiClient, username: str, password: str = TEST_PASSWORD, **kw) -> dict:
    reply = await post(
        anonymous, "/api/auth/login", {"username": username, "password": password}, **kw
    )
    assert reply.status == 200, reply.body
    return reply.body


def bearer(jp_fetch, access_token: str) -> ApiClient:
    return ApiClient(jp_fetch, headers={"Authorization": f"Bearer {access_token}"})


async def events(api: ApiClient, user_id: str, kind: str) -> list[dict]:
    """The account's activity events of one type, read by the owner (an admin)."""
    page = await api.get(f"/api/user/activity?user_id={user_id}&type={kind}")
    return page["items"]


# --- login and refresh ---------------------------------------------------------------------------


async def test_login_by_username_and_by_canonical_email(create_account, anonymous, jp_fetch):
    ada = await create_account("ada", email="Ada.L@Example.org", display_name="Ada Lovelace")
    fullwidth = "\uff21\uff24\uff21"  # fullwidth "ADA": NFKC makes it "ADA"
    for name in ("ada", fullwidth, "ADA", "ada.l@example.org", "ADA.L@EXAMPLE.ORG"):
        reply = await post(
            anonymous, "/api/auth/login", {"username": name, "password": TEST_PASSWORD}
        )
        assert reply.status == 200, (name, reply.body)
        pair = reply.body
        assert set(pair) == {
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "session_id",
        }
        assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 900)
        assert reply.headers["Cache-Control"] == "no-store"
        me = await bearer(jp_fetch, pair["access_token"]).get("/api/user")
        assert me["id"] == ada.id


async def test_every_login_failure_is_the_same_401(create_account, anonymous, api):
    ada = await create_account("ada")
    bodies = []
    for name, password in (("ada", "wrong password!"), ("nobody", TEST_PASSWORD), ("", "")):
        reply = await post(anonymous, "/api/auth/login", {"username": name, "password": password})
        assert reply.status == 401
        bodies.append(reply.body)
    assert bodies[0] == bodies[1] == bodies[2]
    assert "password" not in bodies[0]["message"]
    assert "nobody" not in bodies[0]["message"]
    failed = await events(api, ada.id, "auth.login_failed")
    assert len(failed) == 1
    assert "wrong password" not in str(failed)


async def test_bad_login_bodies_name_the_field(anonymous):
    reply = await post(anonymous, "/api/auth/login", {"username": "ada"})
    assert (reply.status, reply.body["message"]) == (422, "password: Field required")
    reply = await post(anonymous, "/api/auth/login", {"username": "ada", "password": 5})
    assert reply.status == 422
    assert reply.body["message"].startswith("password:")
    reply = await anonymous.request("POST", "/api/auth/login", raw=b"{not json")
    assert reply.status == 400


async def test_refresh_rotates_and_reuse_ends_the_session(create_account, anonymous, api, jp_fetch):
    ada = await create_account("ada")
    first = await log_in(anonymous, "ada")
    reply = await post(anonymous, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reply.status == 200
    second = reply.body
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    await bearer(jp_fetch, second["access_token"]).get("/api/user")

    # The rotated token again: the whole session ends, its newest tokens included.
    reuse = await post(anonymous, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    await bearer(jp_fetch, second["access_token"]).request("GET", "/api/user", expect=401)
    late = await post(anonymous, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert late.status == 401
    assert reuse.body == late.body
    assert len(await events(api, ada.id, "auth.refresh_reused")) == 1


async def test_refresh_refuses_an_access_token_and_garbage(create_account, anonymous, db_url):
    await create_account("ada")
    pair = await log_in(anonymous, "ada")
    before = row_counts(db_url)
    bodies = []
    for token in (pair["access_token"], "garbage", "", pair["refresh_token"] + "x"):
        reply = await post(anonymous, "/api/auth/refresh", {"refresh_token": token})
        assert reply.status == 401, token
        bodies.append(reply.body)
    assert all(body == bodies[0] for body in bodies)
    assert row_counts(db_url) == before


# --- logout and sessions -------------------------------------------------------------------------


async def test_logout_ends_the_callers_session(create_account, anonymous, api, jp_fetch):
    ada = await create_account("ada")
    pair = await log_in(anonymous, "ada")
    other = await log_in(anonymous, "ada")
    client = bearer(jp_fetch, pair["access_token"])
    await client.request("POST", "/api/auth/logout", expect=204)
    await client.request("GET", "/api/user", expect=401)
    refresh = await post(anonymous, "/api/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refresh.status == 401
    await bearer(jp_fetch, other["access_token"]).get("/api/user")  # only that session ended
    assert len(await events(api, ada.id, "auth.logout")) == 1
    # Jupyter's token has no session: nothing to end, nothing happens.
    await api.request("POST", "/api/auth/logout", expect=204)
    await api.get("/api/user")
    await anonymous.request("POST", "/api/auth/logout", expect=401)


async def test_sessions_list_revoke_one_and_log_out_elsewhere(
    create_account, anonymous, api, jp_fetch
):
    ada = await create_account("ada")
    await create_account("bob")
    a = await log_in(anonymous, "ada", headers={"User-Agent": "laptop"})
    b = await log_in(anonymous, "ada", headers={"User-Agent": "phone"})
    c = await log_in(anonymous, "ada", headers={"User-Agent": "tablet"})
    bob = await log_in(anonymous, "bob")
    as_a = bearer(jp_fetch, a["access_token"])

    listed = (await as_a.get("/api/auth/sessions"))["items"]
    assert {s["id"] for s in listed} == {a["session_id"], b["session_id"], c["session_id"]}
    assert [s["id"] for s in listed if s["current"]] == [a["session_id"]]
    assert {s["user_agent"] for s in listed} == {"laptop", "phone", "tablet"}
    assert all(s["ip_address"] == "127.0.0.1" for s in listed)

    await as_a.request("DELETE", f"/api/auth/sessions/{b['session_id']}", expect=204)
    await bearer(jp_fetch, b["access_token"]).request("GET", "/api/user", expect=401)
    await as_a.request("DELETE", f"/api/auth/sessions/{b['session_id']}", expect=404)
    # Someone else's session looks exactly like a missing one, and survives.
    missing = await as_a.request("DELETE", f"/api/auth/sessions/{bob['session_id']}", expect=404)
    unknown = await as_a.request("DELETE", f"/api/auth/sessions/{'A' * 22}", expect=404)
    assert missing.body == unknown.body
    await bearer(jp_fetch, bob["access_token"]).get("/api/user")

    revoked = await post(as_a, "/api/auth/sessions/revoke-others")
    assert (revoked.status, revoked.body) == (200, {"revoked": 1})
    await bearer(jp_fetch, c["access_token"]).request("GET", "/api/user", expect=401)
    assert [s["id"] for s in (await as_a.get("/api/auth/sessions"))["items"]] == [a["session_id"]]
    assert len(await events(api, ada.id, "auth.session_revoked")) == 1
    assert len(await events(api, ada.id, "auth.sessions_revoked")) == 1


async def test_a_read_key_cannot_end_sessions(create_account, anonymous, login, as_key):
    await create_account("ada")
    ada = await login("ada")
    key = (await post(ada, "/api/auth/api-keys", {"name": "r", "scopes": ["read"]})).body["token"]
    reader = as_key(key)
    assert (await reader.get("/api/auth/sessions"))["items"]
    await reader.request("POST", "/api/auth/sessions/revoke-others", expect=403)
    await reader.request("POST", "/api/user/password", {"current_password": TEST_PASSWORD,
                         "new_password": NEW_PASSWORD}, expect=403)  # fmt: skip
    await ada.get("/api/user")


# --- passwords -----------------------------------------------------------------------------------


async def test_password_change_ends_other_sessions(create_account, anonymous, api, jp_fetch):
    ada = await create_account("ada")
    a = await log_in(anonymous, "ada")
    b = await log_in(anonymous, "ada")
    as_a = bearer(jp_fetch, a["access_token"])

    wrong = await post(as_a, "/api/user/password", {"current_password": "not it at all",
                       "new_password": NEW_PASSWORD})  # fmt: skip
    assert (wrong.status, wrong.body["message"]) == (422, "current_password: incorrect")
    weak = await post(as_a, "/api/user/password", {"current_password": TEST_PASSWORD,
                      "new_password": "short"})  # fmt: skip
    assert weak.status == 422
    assert weak.body["message"].startswith("new_password:")
    await bearer(jp_fetch, b["access_token"]).get("/api/user")  # nothing changed yet

    await as_a.request("POST", "/api/user/password", {"current_password": TEST_PASSWORD,
                       "new_password": NEW_PASSWORD}, expect=204)  # fmt: skip
    await as_a.get("/api/user")  # the session that changed it stays
    await bearer(jp_fetch, b["access_token"]).request("GET", "/api/user", expect=401)
    old = await post(anonymous, "/api/auth/login", {"username": "ada", "password": TEST_PASSWORD})
    assert old.status == 401
    await log_in(anonymous, "ada", NEW_PASSWORD)
    changed = await events(api, ada.id, "user.password_changed")
    assert [e["details"] for e in changed] == [{"sessions_ended": 1}]


async def test_password_is_taken_exactly_as_typed(create_account, anonymous, login):
    await create_account("ada")
    ada = await login("ada")
    spaced = f"  {NEW_PASSWORD}  "
    await ada.request("POST", "/api/user/password", {"current_password": TEST_PASSWORD,
                      "new_password": spaced}, expect=204)  # fmt: skip
    trimmed = await post(
        anonymous, "/api/auth/login", {"username": "ada", "password": NEW_PASSWORD}
    )
    assert trimmed.status == 401
    await log_in(anonymous, "ada", spaced)


async def test_wrong_current_passwords_lock_the_account_like_failed_logins(
    create_account, anonymous, login
):
    await create_account("ada")
    ada = await login("ada")
    body = {"current_password": "guess number one", "new_password": NEW_PASSWORD}
    for _ in range(5):
        await ada.request("POST", "/api/user/password", body, expect=422)
    locked = await post(ada, "/api/user/password", {**body, "current_password": TEST_PASSWORD})
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) > 0
    refused = await post(
        anonymous, "/api/auth/login", {"username": "ada", "password": TEST_PASSWORD}
    )
    assert refused.status == 429


# --- brute force ---------------------------------------------------------------------------------


async def test_failed_logins_lock_the_account_even_for_the_right_password(
    create_account, anonymous
):
    await create_account("ada")
    wrong = {"username": "ada", "password": "not the password"}
    for _ in range(5):
        assert (await post(anonymous, "/api/auth/login", wrong)).status == 401
    locked = await post(anonymous, "/api/auth/login", wrong)
    assert locked.status == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    right = await post(anonymous, "/api/auth/login", {"username": "ada", "password": TEST_PASSWORD})
    assert right.status == 429
    assert "Retry-After" in right.headers
    # Another account is not locked by ada's lock.
    await create_account("bob")
    await log_in(anonymous, "bob")


async def test_one_address_is_limited_across_accounts(create_account, anonymous):
    await create_account("ada")
    names = [f"spray{n}" for n in range(20)]
    replies = await asyncio.gather(
        *(post(anonymous, "/api/auth/login", {"username": n, "password": "x" * 12}) for n in names)
    )
    assert [r.status for r in replies] == [401] * 20
    limited = await post(
        anonymous, "/api/auth/login", {"username": "ada", "password": TEST_PASSWORD}
    )
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) > 0


async def test_fifty_forgot_password_requests_leave_login_unlocked(
    create_account, anonymous, db_url
):
    await create_account("ada")
    started = time.monotonic()
    replies = await asyncio.gather(
        *(
            post(anonymous, "/api/auth/forgot-password", {"email_or_username": "ada"})
            for _ in range(50)
        )
    )
    assert time.monotonic() - started < 10  # concurrent: not 50 x 250 ms
    statuses = [r.status for r in replies]
    assert set(statuses) <= {202, 429}
    assert statuses.count(202) == 3  # 3 mails an hour per name
    assert all(int(r.headers["Retry-After"]) > 0 for r in replies if r.status == 429)
    await log_in(anonymous, "ada")


async def test_forgot_password_answers_the_same_for_unknown_accounts(create_account, anonymous):
    await create_account("ada")
    known = await post(anonymous, "/api/auth/forgot-password", {"email_or_username": "ada"})
    unknown = await post(anonymous, "/api/auth/forgot-password", {"email_or_username": "nobody"})
    assert (known.status, known.body) == (unknown.status, unknown.body)
    assert known.status == 202


# --- cross-site forms and local mode -------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PUBLIC))
async def test_a_cross_site_form_post_is_refused_and_writes_nothing(
    path, create_account, anonymous, server_services, db_url
):
    await create_account("ada")
    form = f"username=ada&password={TEST_PASSWORD}&email_or_username=ada&token=x".replace(" ", "+")
    before = row_counts(db_url)
    reply = await anonymous.request("POST", path, raw=form.encode(), headers=FORM)
    assert reply.status == 403, reply.body
    await server_services.recovery.wait_for_deliveries()
    assert row_counts(db_url) == before


async def test_public_routes_refuse_json_look_alikes(create_account, anonymous):
    await create_account("ada")
    body = f'{{"username": "ada", "password": "{TEST_PASSWORD}"}}'.encode()
    for content_type in ("text/plain", "application/json-patch+json", "text/plain; x=json"):
        reply = await anonymous.request(
            "POST", "/api/auth/login", raw=body, headers={"Content-Type": content_type}
        )
        assert reply.status == 403, content_type
    reply = await anonymous.request(
        "POST", "/api/auth/login", raw=body, headers={"Content-Type": "multipart/form-data"}
    )
    assert reply.status in (400, 403)  # tornado refuses a multipart body without a boundary


class TestLocalMode:
    @pytest.fixture
    def multi_user(self) -> bool:
        return False

    @pytest.mark.parametrize("path", sorted(PUBLIC))
    async def test_public_routes_answer_404(self, path, anonymous, api):
        for client in (anonymous, api):
            reply = await post(client, path, {})
            assert (reply.status, reply.body["message"]) == (404, LOCAL_MODE_MESSAGE)
        assert "c.AnalyticsExtension.multi_user = True" in LOCAL_MODE_MESSAGE
        wrong_verb = await api.request("PUT", path, {})
        assert wrong_verb.status == 405
        assert "POST" in wrong_verb.headers["Allow"]

    async def test_owner_session_routes_work(self, api):
        assert (await api.get("/api/auth/sessions")) == {"items": []}
        await api.request("POST", "/api/auth/logout", expect=204)
        assert (await post(api, "/api/auth/sessions/revoke-others")).body == {"revoked": 0}
        # The owner has no password to change: the current one is never right.
        wrong = await post(api, "/api/user/password", {"current_password": "whatever you say",
                           "new_password": NEW_PASSWORD})  # fmt: skip
        assert (wrong.status, wrong.body["message"]) == (422, "current_password: incorrect")


# --- sign-up -------------------------------------------------------------------------------------


async def test_signup_is_off_by_default(anonymous, db_url):
    before = row_counts(db_url)
    body = {"username": "eve", "password": TEST_PASSWORD, "email": "eve@example.org"}
    reply = await post(anonymous, "/api/auth/register", body)
    assert (reply.status, reply.body["message"]) == (403, SIGNUP_DISABLED_MESSAGE)
    assert row_counts(db_url) == before


class TestSignup:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        jp_server_config.AnalyticsExtension.allow_signup = True
        return jp_server_config

    async def test_register_creates_an_unverified_account_with_a_session(
        self, anonymous, api, jp_fetch, tmp_path: Path
    ):
        body = {"username": "Eve", "password": TEST_PASSWORD, "email": "Eve@Example.org",
                "display_name": "Eve Example"}  # fmt: skip
        reply = await post(anonymous, "/api/auth/register", body)
        assert reply.status == 201, reply.body
        user, tokens = reply.body["user"], reply.body["tokens"]
        assert (user["username"], user["email"], user["display_name"]) == (
            "eve", "eve@example.org", "Eve Example"
        )  # fmt: skip
        assert reply.body["verification_sent"] is True
        assert list((tmp_path / "outbox").iterdir())  # no relay configured: the outbox
        eve = bearer(jp_fetch, tokens["access_token"])
        assert (await eve.get("/api/user"))["id"] == user["id"]
        # Unverified (read_only by default): may not mint keys, may ask for a new link.
        key = {"name": "k", "scopes": ["read"]}
        await eve.request("POST", "/api/auth/api-keys", key, expect=403)
        resent = await post(eve, "/api/auth/resend-verification")
        assert resent.status == 202
        kinds = [
            e["type"] for e in (await api.get(f"/api/user/activity?user_id={user['id']}"))["items"]
        ]
        assert kinds.count("user.email_verification_sent") == 2
        assert "user.created" in kinds
        assert "auth.login" in kinds

    async def test_register_names_the_bad_field_and_refuses_taken_names(self, anonymous):
        good = {"username": "eve", "password": TEST_PASSWORD, "email": "eve@example.org"}
        for change, field in (({"password": "short"}, "password"), ({"email": "nope"}, "email"),
                              ({"username": "-x"}, "username")):  # fmt: skip
            reply = await post(anonymous, "/api/auth/register", {**good, **change})
            assert reply.status == 422, reply.body
            assert reply.body["message"].startswith(f"{field}:"), reply.body
        missing = await post(anonymous, "/api/auth/register", {"username": "eve"})
        assert missing.status == 422
        assert (await post(anonymous, "/api/auth/register", good)).status == 201
        fullwidth = {"username": "\uff25\uff36\uff25", "email": "other@example.org"}
        taken = await post(anonymous, "/api/auth/register", {**good, **fullwidth})
        assert taken.status == 409
        assert taken.body["message"].startswith("username:")

    async def test_registration_is_limited_per_address(self, anonymous):
        bad = {"username": "eve", "password": "short", "email": "eve@example.org"}
        for _ in range(10):
            assert (await post(anonymous, "/api/auth/register", bad)).status == 422
        good = {**bad, "password": TEST_PASSWORD}
        limited = await post(anonymous, "/api/auth/register", good)
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) > 0


class TestSignupWhileUnverifiedAccountsAreBlocked:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        jp_server_config.AnalyticsExtension.allow_signup = True
        jp_server_config.AnalyticsExtension.unverified_email_access = "blocked"
        return jp_server_config

    async def test_register_returns_no_tokens_and_login_is_refused(self, anonymous):
        body = {"username": "eve", "password": TEST_PASSWORD, "email": "eve@example.org"}
        reply = await post(anonymous, "/api/auth/register", body)
        assert reply.status == 201, reply.body
        assert reply.body["tokens"] is None
        assert reply.body["verification_sent"] is True
        refused = await post(
            anonymous, "/api/auth/login", {"username": "eve", "password": TEST_PASSWORD}
        )
        assert refused.status == 403, refused.body


# --- forged and misused credentials --------------------------------------------------------------


def tamper(token: str) -> str:
    """The token with one character of its payload changed (the signature left as it was)."""
    at = token.index(".") + 5
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


def signing_key(tmp_path: Path) -> bytes:
    return (tmp_path / "secrets" / "jwt-signing-key").read_bytes().strip()


async def test_forged_and_misused_tokens_get_one_identical_401(
    create_account, anonymous, jp_fetch, server_services, tmp_path, db_url
):
    await create_account("ada")
    pair = await log_in(anonymous, "ada")
    revoked = await log_in(anonymous, "ada")
    await bearer(jp_fetch, revoked["access_token"]).request("POST", "/api/auth/logout", expect=204)
    key = signing_key(tmp_path)
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert (
        jwt.decode(pair["access_token"], key, algorithms=["HS256"], audience=claims["aud"])["sub"]
        == claims["sub"]
    )  # the key read from disk is the server's: forgeries are real
    now = int(time.time())

    def sign(algorithm: str = "HS256", secret: Any = key, **changes: Any) -> str:
        payload = {**claims, "jti": f"forged-{time.monotonic_ns()}", **changes}
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, secret, algorithm=algorithm)

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    valid = sign()
    forged = {
        "alg none": sign("none", None),
        "alg HS512": sign("HS512"),
        "alg RS256": sign("RS256", rsa_key),
        "bad signature": sign(secret=b"k" * 32),
        "tampered payload": tamper(valid),
        "wrong issuer": sign(iss="someone-else"),
        "wrong audience": sign(aud="another:api"),
        "audience list": sign(aud=[claims["aud"], "x"]),
        "expired past the leeway": sign(iat=now - 1000, nbf=now - 1000, exp=now - 61),
        "not yet valid (nbf)": sign(nbf=now + 300),
        "issued in the future": sign(iat=now + 300, nbf=now + 300, exp=now + 900),
        "no expiry": sign(exp=None),
        "wrong type": sign(typ="refresh"),
        "other user": sign(sub="B" * 22),
        "refresh token as access token": pair["refresh_token"],
        "revoked session": revoked["access_token"],
        "garbage": "not-a-token",
    }
    # The control: the same forging path with nothing wrong is accepted.
    await bearer(jp_fetch, valid).get("/api/user")

    before = row_counts(db_url)
    baseline = await anonymous.request("GET", "/api/user", expect=401)
    for name, token in forged.items():
        reply = await bearer(jp_fetch, token).request("GET", "/api/user")
        assert (reply.status, reply.body) == (401, baseline.body), name
        kernels = await bearer(jp_fetch, token).request("GET", "/api/kernels")
        assert kernels.status in (401, 403), name
    assert row_counts(db_url) == before

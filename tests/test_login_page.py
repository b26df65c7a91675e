"""The team server's login page (``/login``) and logout (``/logout``), spoken to as a browser would.

A browser holds cookies, fetches the form (which sets the ``_xsrf`` cookie and field), and posts
it back url-encoded. These tests do exactly that over HTTP against the in-process server, with no
Jupyter token, so only the login cookie can authenticate them.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
from tornado.httpclient import HTTPResponse

from analytics_ext.auth.login_page import INVALID_CREDENTIALS
from tests.conftest import TEST_PASSWORD

XSRF_FIELD = re.compile(r'<input type="hidden" name="_xsrf" value="([^"]+)"')


@pytest.fixture
def multi_user() -> bool:
    return True


class Browser:
    """Cookies and form posts over ``jp_fetch``, never following redirects, never the token."""

    def __init__(self, jp_fetch: Any) -> None:
        self._fetch = jp_fetch
        self.cookies: dict[str, str] = {}

    async def request(
        self, method: str, path: str, *, form: dict[str, str] | None = None, **params: str
    ) -> HTTPResponse:
        headers = {"Authorization": ""}  # no Jupyter token: only cookies may authenticate
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        kwargs: dict[str, Any] = {}
        if form is not None:
            kwargs["body"] = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self._fetch(
            *path.strip("/").split("/"), method=method, headers=headers, params=params,
            follow_redirects=False, raise_error=False, **kwargs,
        )  # fmt: skip
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if (morsel["expires"] and "1970" in morsel["expires"]) or not morsel.value:
                    self.cookies.pop(name, None)  # cleared by the server
                else:
                    self.cookies[name] = morsel.value
        return response

    async def login_form(self, **params: str) -> tuple[HTTPResponse, str]:
        """GET /login: the page and the XSRF value its form carries."""
        page = await self.request("GET", "/login", **params)
        assert page.code == 200, page.code
        match = XSRF_FIELD.search(page.body.decode())
        assert match, "the login form has no _xsrf field"
        return page, match.group(1)

    async def log_in(
        self, username: str, password: str = TEST_PASSWORD, **params: str
    ) -> HTTPResponse:
        _page, xsrf = await self.login_form(**params)
        form = {"_xsrf": xsrf, "username": username, "password": password}
        return await self.request("POST", "/login", form=form, **params)

    def login_cookie(self) -> str | None:
        names = [name for name in self.cookies if name != "_xsrf"]
        assert len(names) <= 1, names
        return names[0] if names else None


@pytest.fixture
def browser(jp_fetch, jp_serverapp) -> Browser:
    return Browser(jp_fetch)


async def _status(browser: Browser, path: str) -> int:
    return (await browser.request("GET", path)).code


async def test_login_page_renders_an_accessible_form_with_xsrf(browser: Browser):
    page, xsrf = await browser.login_form()
    html = page.body.decode()
    assert xsrf
    assert browser.cookies.get("_xsrf"), "the form comes with its _xsrf cookie"
    for field in ("username", "password"):
        assert f'<label for="{field}">' in html
        assert f'id="{field}" name="{field}"' in html
    assert 'aria-live="polite"' in html
    assert 'role="alert"' in html
    assert 'autocomplete="current-password"' in html
    assert "Forgot password?" in html
    assert page.headers["Cache-Control"] == "no-store"
    # Nothing is fetched from elsewhere: no external script, style, font or image.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


async def test_login_page_policy_lets_only_its_own_nonce_run(browser: Browser):
    page, _ = await browser.login_form()
    policy = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{20,})'", directives["script-src"])
    assert nonce, policy
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    html = page.body.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts
    assert all(f'nonce="{nonce.group(1)}"' in attrs for attrs in scripts)
    second, _ = await browser.login_form()
    assert second.headers["Content-Security-Policy"] != policy, "a nonce must never repeat"


async def test_right_password_redirects_to_next_with_a_working_cookie(
    browser: Browser, create_account, jp_base_url: str
):
    await create_account("ada", display_name="Ada Lovelace")
    assert await _status(browser, "/api/user") == 401
    target = f"{jp_base_url}lab/tree"
    response = await browser.log_in("ada", next=target)
    assert response.code == 302
    assert response.headers["Location"] == target
    assert browser.login_cookie() is not None
    cookie = SimpleCookie(
        next(h for h in response.headers.get_list("Set-Cookie") if not h.startswith("_xsrf"))
    )
    morsel = next(iter(cookie.values()))
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == jp_base_url

    me = await browser.request("GET", "/api/user")
    assert me.code == 200
    assert b'"username": "ada"' in me.body
    identity = await browser.request("GET", "/api/me")
    assert identity.code == 200
    assert b'"username": "ada"' in identity.body


async def test_logged_in_browser_skips_the_form(browser: Browser, create_account, jp_base_url):
    await create_account("ada")
    await browser.log_in("ada")
    again = await browser.request("GET", "/login", next=f"{jp_base_url}lab")
    assert (again.code, again.headers["Location"]) == (302, f"{jp_base_url}lab")


async def test_wrong_password_is_401_with_the_message(browser: Browser, create_account):
    await create_account("ada")
    response = await browser.log_in("ada", "not the password at all")
    assert response.code == 401
    html = response.body.decode()
    assert INVALID_CREDENTIALS in html
    assert 'value="ada"' in html, "the username is kept so only the password is retyped"
    assert browser.login_cookie() is None


async def test_unknown_user_gets_the_same_answer(browser: Browser):
    response = await browser.log_in("nobody", TEST_PASSWORD)
    assert response.code == 401
    assert INVALID_CREDENTIALS in response.body.decode()
    assert browser.login_cookie() is None


async def test_error_page_escapes_what_was_typed(browser: Browser):
    typed = '"><script>alert(1)</script>'
    response = await browser.log_in(typed, "whatever-password")
    assert response.code == 401
    html = response.body.decode()
    assert "<script>alert(1)" not in html
    assert "&#34;&gt;&lt;script&gt;" in html


async def test_form_post_without_xsrf_is_refused(browser: Browser, create_account):
    await create_account("ada")
    await browser.login_form()  # the _xsrf cookie is there, the field is not sent
    form = {"username": "ada", "password": TEST_PASSWORD}
    response = await browser.request("POST", "/login", form=form)
    assert response.code == 403
    assert browser.login_cookie() is None


async def test_form_post_with_a_mismatched_xsrf_is_refused(browser: Browser, create_account):
    await create_account("ada")
    _page, xsrf = await browser.login_form()
    browser.cookies["_xsrf"] = "2|00000000|" + "0" * 32 + "|1700000000"  # an attacker's cookie
    form = {"_xsrf": xsrf, "username": "ada", "password": TEST_PASSWORD}
    response = await browser.request("POST", "/login", form=form)
    assert response.code == 403
    assert browser.login_cookie() is None


@pytest.mark.parametrize(
    "unsafe_next",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:///evil.example/",
        "javascript:alert(1)",
        "/elsewhere/outside-base-url",
    ],
)
async def test_unsafe_next_redirects_to_base_url(
    browser: Browser, create_account, jp_base_url: str, unsafe_next: str
):
    await create_account("ada")
    response = await browser.log_in("ada", next=unsafe_next)
    assert response.code == 302
    assert response.headers["Location"] == jp_base_url


async def test_revoked_session_cookie_is_refused_at_once(
    browser: Browser, create_account, server_services
):
    ada = await create_account("ada")
    await browser.log_in("ada")
    assert await _status(browser, "/api/user") == 200
    [session] = await server_services.run(server_services.auth.list_sessions, ada.id, None)
    await server_services.run(server_services.auth.revoke_session, ada.id, session.id)
    assert await _status(browser, "/api/user") == 401
    assert await _status(browser, "/api/me") == 403  # jupyter_server's own handler


@pytest.mark.parametrize("where", ["payload", "signature"])
async def test_tampered_cookie_is_refused(browser: Browser, create_account, where: str):
    await create_account("ada")
    await browser.log_in("ada")
    name = browser.login_cookie()
    assert name is not None
    value = browser.cookies[name]
    # tornado v2 signed value: 2|1:0|10:<timestamp>|<len>:<name>|<len>:<base64 payload>|<sig>
    head, _, signature = value.rpartition("|")
    if where == "signature":
        flipped = "0" if signature[-1] != "0" else "1"
        browser.cookies[name] = f"{head}|{signature[:-1]}{flipped}"
    else:
        prefix, _, payload = head.rpartition(":")
        swapped = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
        browser.cookies[name] = f"{prefix}:{swapped}|{signature}"
    assert await _status(browser, "/api/user") == 401


async def test_owner_logs_in_with_empty_username_and_jupyter_token(
    browser: Browser, jp_serverapp, jp_base_url: str
):
    token = jp_serverapp.identity_provider.token
    assert token
    response = await browser.log_in("", token, next=f"{jp_base_url}lab")
    assert (response.code, response.headers["Location"]) == (302, f"{jp_base_url}lab")
    me = await browser.request("GET", "/api/user")
    assert me.code == 200
    assert b'"is_owner": true' in me.body

    # The owner's cookie names a real session too: listed, and ended by logging out.
    sessions = await browser.request("GET", "/api/auth/sessions")
    assert sessions.code == 200
    assert b'"current": true' in sessions.body
    name = browser.login_cookie()
    old_cookie = browser.cookies[name]
    await browser.request("GET", "/logout")
    browser.cookies[name] = old_cookie  # a copy kept elsewhere
    assert await _status(browser, "/api/user") == 401


async def test_opening_a_page_with_the_token_logs_the_browser_in_revocably(
    browser: Browser, jp_serverapp, server_services
):
    token = jp_serverapp.identity_provider.token
    page = await browser.request("GET", "/login", token=token)  # any page (JupyterLab's /lab)
    assert page.code == 302  # logged in: the login page sends it on
    assert browser.login_cookie() is not None
    assert await _status(browser, "/api/user") == 200
    [session] = await server_services.run(
        server_services.auth.list_sessions, server_services.users.cached_owner().id, None
    )
    await server_services.run(server_services.auth.logout, session.id)
    assert await _status(browser, "/api/user") == 401


async def test_api_calls_with_the_token_in_the_url_open_no_session(
    browser: Browser, jp_serverapp, server_services
):
    token = jp_serverapp.identity_provider.token
    reply = await browser.request("GET", "/api/user", token=token)
    assert reply.code == 200
    assert browser.login_cookie() is None
    owner = server_services.users.cached_owner()
    assert await server_services.run(server_services.auth.list_sessions, owner.id, None) == []


async def test_owner_login_with_a_wrong_token_is_refused(browser: Browser):
    response = await browser.log_in("", "not-the-server-token")
    assert response.code == 401
    assert INVALID_CREDENTIALS in response.body.decode()
    assert browser.login_cookie() is None


async def test_repeated_failures_lock_the_account_with_429_and_the_wait(
    browser: Browser, create_account
):
    await create_account("ada")
    codes = [(await browser.log_in("ada", f"wrong password {i}")).code for i in range(5)]
    assert codes == [401] * 5
    locked = await browser.log_in("ada")  # the right password during the lockout
    assert locked.code == 429
    retry_after = int(locked.headers["Retry-After"])
    assert retry_after > 0
    assert re.search(
        r"Too many attempts\. Try again in \d+ (minute|second)s?\.", locked.body.decode()
    )
    assert browser.login_cookie() is None


@pytest.mark.parametrize("unverified_access", ["blocked"])
async def test_unverified_email_is_refused_with_403_and_why(
    browser: Browser, create_account, unverified_access: str
):
    await create_account("una", verified=False)
    response = await browser.log_in("una")
    assert response.code == 403
    assert "Verify your email address before logging in" in response.body.decode()
    assert browser.login_cookie() is None


@pytest.fixture
def unverified_access() -> str:
    return "read_only"


@pytest.fixture
def jp_server_config(jp_server_config, unverified_access: str):
    jp_server_config.AnalyticsExtension.unverified_email_access = unverified_access
    return jp_server_config


async def test_logout_ends_the_session_not_only_the_cookie(browser: Browser, create_account):
    await create_account("ada")
    await browser.log_in("ada")
    name = browser.login_cookie()
    assert name is not None
    old_cookie = browser.cookies[name]
    response = await browser.request("GET", "/logout")
    assert response.code == 302
    assert response.headers["Location"].endswith("/login")
    assert browser.login_cookie() is None, "the browser is told to forget the cookie"
    browser.cookies[name] = old_cookie  # a copy kept elsewhere
    assert await _status(browser, "/api/user") == 401


async def test_pages_never_carry_the_owner_token(jp_serverapp):
    """JupyterLab would put the server token into every /lab page (then every account's browser
    would act as the owner); the team server blanks it and keeps the rest of the config."""
    hook = jp_serverapp.web_app.settings["page_config_hook"]
    token = jp_serverapp.identity_provider.token
    assert hook(None, {"token": token, "baseUrl": "/"}) == {"token": "", "baseUrl": "/"}

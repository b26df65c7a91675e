"""A team server in a real browser: log in at /login, land in JupyterLab, see who you are.

Also the flows that account mail starts on the same page: "Forgot password?" → a mail in the
outbox folder → ``login#reset=<token>`` → a new password; and ``login#verify=<token>``. The page
runs them under its own strict Content-Security-Policy, so these tests also prove the policy lets
the page's script run (a blocked script would leave the reset form hidden).
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import (
    LiveServer,
    create_user_with_cli,
    seed_account,
    start_live_server,
)
from tests.ui.conftest import run_from_palette

pytestmark = pytest.mark.ui

SIDEBAR_ID = "analytics-ext:sidebar"
LAB_LOAD_TIMEOUT_MS = 60_000
PASSWORD = "plum orchard at dusk 42"
NEW_PASSWORD = "seven quiet lanterns drift"


class TeamServer:
    def __init__(self, live: LiveServer, outbox: Path, db_url: str) -> None:
        self.live, self.outbox, self.db_url = live, outbox, db_url

    @property
    def url(self) -> str:
        return self.live.url


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """A team server whose store already has accounts (created before it starts)."""
    work = tmp_path_factory.mktemp("team-login")
    db_url = f"sqlite:///{work / 'store.sqlite'}"
    # As an admin would: the CLI, before the server starts (it also migrates the store).
    cli = partial(create_user_with_cli, work, db_url)
    cli("ada", PASSWORD, "--email=ada@example.org", "--display-name=Ada Lovelace")
    cli("rosa", PASSWORD, "--email=rosa@example.org")
    # The CLI vouches for the address it is given; a self-registered account has not.
    seed_account(db_url, "una", PASSWORD, email="una@example.org", verified=False)
    outbox = work / "outbox"
    extra = [
        "--AnalyticsExtension.multi_user=True",
        f"--AnalyticsExtension.db_url={db_url}",
        f"--AnalyticsExtension.outbox_dir={outbox}",
    ]
    with start_live_server(work, extra_args=extra) as live:
        yield TeamServer(live, outbox, db_url)


@pytest.fixture
def csp_violations(page) -> list[str]:
    """Console errors about the Content-Security-Policy: the page must cause none."""
    violations: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    return violations


def _log_in(page, username: str, password: str) -> None:
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _open_sidebar(page):
    from playwright.sync_api import expect

    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    run_from_palette(page, "Open Analytics Sidebar", shows=sidebar)
    expect(sidebar).to_be_visible()
    return sidebar


def _newest_mail(outbox: Path, to: str, after: float, timeout: float = 10.0) -> str:
    """The text of the newest outbox mail to ``to`` written after ``after`` (epoch seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True):
            if path.stat().st_mtime < after:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in str(message["To"]):
                return message.get_body(preferencelist=("plain",)).get_content()
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} in {outbox} within {timeout}s")


def test_login_page_leads_to_lab_with_the_user_in_the_sidebar(
    team_server: TeamServer, page, csp_violations: list[str], screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{team_server.url}lab")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Flab"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#username")).to_be_focused()
    page.screenshot(path=screenshots_dir / "team-login.png")

    _log_in(page, "ada", "a wrong password entirely")
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid username or password.")
    expect(page.locator("#username")).to_have_value("ada")

    _log_in(page, "ada", PASSWORD)
    expect(page).to_have_url(re.compile(r"/lab(\?|$|/)"))
    # JupyterLab would write the server token into the page; an account must never get the
    # owner's credential (its requests would then all act as the owner).
    lab_html = page.request.get(f"{team_server.url}lab").text()
    assert team_server.live.token not in lab_html, "the owner's token leaked into /lab"
    assert (
        page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).token"
        )
        == ""
    )
    sidebar = _open_sidebar(page)
    expect(sidebar.get_by_test_id("analytics-user-username")).to_have_text("ada")
    expect(sidebar.get_by_test_id("analytics-user-display-name")).to_have_text("Ada Lovelace")
    expect(sidebar.get_by_test_id("analytics-user-admin-badge")).to_have_count(0)
    expect(sidebar.get_by_test_id("analytics-error")).to_have_count(0)
    page.screenshot(path=screenshots_dir / "team-login-sidebar.png")
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"
    assert csp_violations == []

    # Logging out ends the session: the lab sends the browser back to the login page.
    page.goto(f"{team_server.url}logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{team_server.url}lab")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Flab"))


def test_forgot_link_shows_the_form_and_the_same_confirmation(
    team_server: TeamServer, page, csp_violations: list[str]
) -> None:
    """The same words whether or not the account exists."""
    from playwright.sync_api import expect

    page.goto(f"{team_server.url}login")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(page.locator("#forgot-name")).to_be_focused()
    page.locator("#forgot-name").fill("nobody-at-all")
    page.get_by_role("button", name="Send reset link").click()
    status = page.get_by_test_id("login-status")
    expect(status).to_contain_text("If an account matches")
    unknown_answer = status.text_content()
    page.get_by_role("link", name="Forgot password?").click()
    page.locator("#forgot-name").fill("rosa")
    page.get_by_role("button", name="Send reset link").click()
    expect(status).to_have_text(unknown_answer or "")
    assert csp_violations == []


def test_reset_link_from_the_outbox_sets_a_new_password(
    team_server: TeamServer, page, csp_violations: list[str], screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{team_server.url}login")
    page.get_by_role("link", name="Forgot password?").click()
    asked_at = time.time() - 1
    page.locator("#forgot-name").fill("ada@example.org")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_test_id("login-status")).to_contain_text("If an account matches")

    text = _newest_mail(team_server.outbox, "ada@example.org", asked_at)
    link = re.search(r"(\S+/login#reset=\S+)", text)
    assert link, text
    page.goto(link.group(1))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "#" not in page.evaluate("location.href"), "the token must leave the address bar"
    expect(page.locator("#new-password")).to_be_focused()

    page.locator("#new-password").fill(NEW_PASSWORD)
    page.locator("#confirm-password").fill(NEW_PASSWORD + " typo")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("login-error")).to_have_text("The two passwords differ.")

    page.locator("#confirm-password").fill(NEW_PASSWORD)
    page.screenshot(path=screenshots_dir / "team-login-reset.png")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("login-status")).to_have_text(
        "Your password has been changed. Log in with your new password."
    )
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    # The old password is dead, the new one works, and the link works only once.
    _log_in(page, "ada", PASSWORD)
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid username or password.")
    page.goto(link.group(1))
    page.locator("#new-password").fill("another fine password 9")
    page.locator("#confirm-password").fill("another fine password 9")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("login-error")).to_contain_text(
        "This reset link is invalid, expired or already used."
    )
    page.goto(f"{team_server.url}login")
    _log_in(page, "ada", NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/lab(\?|$|/)"))
    assert page.errors == []
    assert csp_violations == []


def test_reset_form_shows_the_servers_policy_message(
    team_server: TeamServer, page, csp_violations: list[str]
) -> None:
    """A forged token is refused with the link message; the page never claims success."""
    from playwright.sync_api import expect

    page.goto(f"{team_server.url}login#reset=rst_forged_token")
    page.locator("#new-password").fill(NEW_PASSWORD)
    page.locator("#confirm-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("This reset link is invalid")
    expect(page.get_by_test_id("login-status")).to_have_text("")
    assert csp_violations == []


def test_verify_link_from_the_outbox_verifies_the_address(
    team_server: TeamServer, page, csp_violations: list[str]
) -> None:
    from playwright.sync_api import expect
    from sqlalchemy import create_engine, text

    api = team_server.url + "api/auth/"
    tokens = httpx.post(api + "login", json={"username": "una", "password": PASSWORD}).json()
    asked_at = time.time() - 1
    resend = httpx.post(
        api + "resend-verification",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        json={},
    )
    assert resend.status_code == 202, resend.text
    mail = _newest_mail(team_server.outbox, "una@example.org", asked_at)
    link = re.search(r"(\S+/login#verify=\S+)", mail)
    assert link, mail

    page.goto(link.group(1))
    expect(page.get_by_test_id("login-status")).to_have_text(
        "Your email address is verified. You can log in."
    )
    assert "#" not in page.evaluate("location.href")
    engine = create_engine(team_server.db_url)
    try:
        with engine.connect() as connection:
            verified_at = connection.execute(
                text("SELECT email_verified_at FROM users WHERE username = 'una'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert verified_at is not None

    page.goto(link.group(1))  # single use: the second visit says so
    expect(page.get_by_test_id("login-error")).to_contain_text(
        "This verification link is invalid, expired or already used."
    )
    assert csp_violations == []

"""The share dialog in a real JupyterLab on a team server, opened from the Dashboards section.

Ada logs in at /login and shares her dashboard: she finds a colleague by typing the start of a
name (suggestions from ``GET /api/users``, picked with the arrow keys and Enter, which must not
close the dialog), gives her a level, creates a share link whose address is shown once (a
reopened dialog lists the link but never its address), and revokes both. A user disabled while
the dialog is open makes the server refuse the grant, and the dialog shows its message. Names
with markup stay text. Every step is checked through the REST API.

The steps at module level (``open_share_dialog``, ``share_with_user``, ``create_share_link``,
``revoke_grant``, ``close_share_dialog``) work on the dialog's ``data-testid`` hooks and take a
page showing JupyterLab; any panel's Share button opens the same dialog.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.live_server import LiveServer, seed_account, start_live_server

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.ui, pytest.mark.timeout(300)]

# The share dialog's data-testid hooks.
DIALOG = "share-dialog"
GRANT = "share-grant"
GRANT_NAME = "share-grant-name"
GRANT_LEVEL = "share-grant-level"
REVOKE = "share-revoke"
REVOKE_CONFIRM = "share-revoke-confirm"
USER_INPUT = "share-user-input"
SUGGESTIONS = "share-user-suggestions"
OPTION = "share-user-option"
LEVEL = "share-level"
SUBMIT = "share-submit"
USER_ERROR = "share-user-error"
LINK_DAYS = "share-link-days"
LINK_CREATE = "share-link-create"
LINK_RESULT = "share-link-result"
LINK_URL = "share-link-url"
LINK_NOTE = "share-link-note"
SIDEBAR_ID = "analytics-ext:sidebar"
DASHBOARDS_ID = "analytics-ext:dashboards"
ROW = "dashboard-row"
ROW_TITLE = "dashboard-title"
ROW_SHARE = "dashboard-share"

PASSWORD = "amber kettle under snow 7"
LAB_LOAD_TIMEOUT_MS = 90_000
TITLE = "Quarterly <i>numbers</i>"


class Team:
    def __init__(self, live: LiveServer, ada_token: str) -> None:
        self.live, self.ada_token = live, ada_token

    def call(self, method: str, path: str, body: Any = None, *, admin: bool = False) -> Any:
        """A REST call as Ada (or as the server's owner, an admin, with ``admin``)."""
        headers = self.live.auth_header if admin else {"Authorization": f"Bearer {self.ada_token}"}
        response = httpx.request(
            method, f"{self.live.url}{path}", json=body, headers=headers, timeout=30
        )
        assert response.status_code < 400, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A team server whose store has Ada and her colleagues (created before it starts)."""
    work = tmp_path_factory.mktemp("lab-sharing")
    db_url = f"sqlite:///{work / 'store.sqlite'}"
    people = [
        ("ada", "Ada Lovelace"),
        ("adam", "<b>Adam</b> Smith"),
        ("adele", "Adele Goldberg"),
        ("grace", "Grace Hopper"),
    ]
    for username, display_name in people:
        seed_account(
            db_url, username, PASSWORD, display_name=display_name, email=f"{username}@example.org"
        )
    extra = ["--AnalyticsExtension.multi_user=True", f"--AnalyticsExtension.db_url={db_url}"]
    with start_live_server(work, extra_args=extra, timeout=120) as live:
        login = httpx.post(
            f"{live.url}api/auth/login", json={"username": "ada", "password": PASSWORD}, timeout=30
        )
        assert login.status_code == 200, login.text
        yield Team(live, login.json()["access_token"])


def grants(team: Team, dashboard_id: str) -> list[dict[str, Any]]:
    return team.call("GET", f"api/dashboards/share?object_id={dashboard_id}")["items"]


def user_id(team: Team, username: str) -> str:
    found = team.call("GET", f"api/users?query={username}&limit=25")["items"]
    return next(item["id"] for item in found if item["username"] == username)


# -- steps (module level: any panel's Share button opens this dialog) ---------------------------


def log_in(page: Page, team: Team, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{team.live.url}lab")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    # The restored Launcher takes the focus a moment after the splash; let it, before a dialog
    # opens (a focus taken from the dialog's field closes its suggestions).
    expect(page.locator(".jp-Launcher")).to_be_visible()
    page.wait_for_timeout(500)


def dashboard_row(page: Page, title: str) -> Locator:
    """The Dashboards section's row of the dashboard titled exactly ``title``, with the
    sidebar open and that section expanded."""
    from playwright.sync_api import expect

    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    if not sidebar.is_visible():
        page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]').click()
    heading = sidebar.locator(".lm-AccordionPanel-title").filter(has_text="Dashboards")
    if heading.get_attribute("aria-expanded") != "true":
        heading.click()
    section = page.locator(f'[id="{DASHBOARDS_ID}"]')
    expect(section).to_be_visible()
    name = page.get_by_test_id(ROW_TITLE).filter(has_text=re.compile(f"^{re.escape(title)}$"))
    row = section.get_by_test_id(ROW).filter(has=name)
    expect(row).to_have_count(1, timeout=30_000)
    return row


def open_share_dialog(page: Page, dashboard_title: str) -> Locator:
    """Open the share dialog from the Dashboards section's row; returns the dialog body."""
    from playwright.sync_api import expect

    dashboard_row(page, dashboard_title).get_by_test_id(ROW_SHARE).click()
    dialog = page.get_by_test_id(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("analytics-loading")).to_have_count(0, timeout=30_000)
    return dialog


def grant_row(page: Page, name: str) -> Locator:
    """The row of the grant whose shown name is exactly ``name`` (a username, or ``Link …``)."""
    # An inner ``has`` locator is matched inside each row, so it starts from the page.
    label = page.get_by_test_id(GRANT_NAME).filter(has_text=re.compile(f"^{re.escape(name)}$"))
    return page.get_by_test_id(DIALOG).get_by_test_id(GRANT).filter(has=label)


def share_with_user(page: Page, username: str, level: str, typed: str | None = None) -> None:
    """In the open dialog: type the start of a name, walk the suggestions with the arrow keys
    to ``username``, pick it with Enter, choose ``level`` and press Share."""
    from playwright.sync_api import expect

    dialog = page.get_by_test_id(DIALOG)
    field = dialog.get_by_test_id(USER_INPUT)
    field.fill("")
    field.press_sequentially(typed or username[:2], delay=30)
    options = dialog.get_by_test_id(OPTION)
    wanted = dialog.locator(f'[data-testid="{OPTION}"][data-username="{username}"]')
    expect(wanted).to_be_visible(timeout=15_000)
    for _ in range(options.count()):
        if wanted.get_attribute("aria-selected") == "true":
            break
        field.press("ArrowDown")
    expect(wanted).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(dialog).to_be_visible()  # Enter picked the user; it did not close the dialog
    expect(dialog.get_by_test_id(SUGGESTIONS)).to_be_hidden()
    expect(field).to_have_value(re.compile(f"@{re.escape(username)}\\)$|^{re.escape(username)}$"))
    dialog.get_by_test_id(LEVEL).select_option(level)
    dialog.get_by_test_id(SUBMIT).click()


def create_share_link(page: Page, days: int | None = None) -> str:
    """In the open dialog: create a link (expiring after ``days``); returns its address, which
    the dialog shows this once."""
    from playwright.sync_api import expect

    dialog = page.get_by_test_id(DIALOG)
    links = dialog.locator(f'[data-testid="{GRANT}"][data-kind="link"]')
    before = links.count()
    if days is not None:
        dialog.get_by_test_id(LINK_DAYS).fill(str(days))
    dialog.get_by_test_id(LINK_CREATE).click()
    url_box = dialog.get_by_test_id(LINK_URL)
    expect(url_box).to_be_visible(timeout=30_000)
    expect(url_box).to_have_value(re.compile(r"share_token="))
    expect(dialog.get_by_test_id(LINK_NOTE)).to_contain_text("shown only this once")
    expect(links).to_have_count(before + 1)
    return url_box.input_value()


def revoke_grant(page: Page, name: str) -> None:
    """In the open dialog: revoke the grant shown as ``name``, confirming inline."""
    from playwright.sync_api import expect

    row = grant_row(page, name)
    expect(row).to_have_count(1)
    row.get_by_test_id(REVOKE).click()
    row.get_by_test_id(REVOKE_CONFIRM).click()
    expect(row).to_have_count(0, timeout=30_000)


def close_share_dialog(page: Page) -> None:
    from playwright.sync_api import expect

    page.locator(".jp-Dialog .jp-Dialog-footer .jp-mod-accept").last.click()
    expect(page.get_by_test_id(DIALOG)).to_have_count(0)


# -- the test -----------------------------------------------------------------------------------


def test_share_a_dashboard_with_a_colleague_and_by_link(
    team: Team, page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    board = team.call("POST", "api/dashboards", {"title": TITLE})
    log_in(page, team, "ada")
    dialog = open_share_dialog(page, TITLE)
    expect(page.locator(".jp-Dialog-header")).to_contain_text(f"Share “{TITLE}”")
    expect(dialog.get_by_test_id(LINK_RESULT)).to_be_hidden()
    expect(page.locator(".jp-Dialog-header i")).to_have_count(0)  # the title is text
    expect(dialog.get_by_test_id("share-grants-empty")).to_be_visible()

    # Suggestions: people whose name starts with "ad", Ada herself left out, markup as text.
    field = dialog.get_by_test_id(USER_INPUT)
    field.click()
    field.press_sequentially("ad", delay=30)
    options = dialog.get_by_test_id(OPTION)
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("<b>Adam</b> Smith")
    expect(dialog.get_by_test_id(SUGGESTIONS).locator("b")).to_have_count(0)
    expect(options.nth(1)).to_contain_text("@adele")
    expect(field).to_have_attribute("role", "combobox")
    expect(dialog.get_by_test_id(SUGGESTIONS)).to_have_attribute("role", "listbox")
    expect(field).to_be_focused()
    field.press("Escape")  # closes the suggestions, not the dialog
    expect(dialog.get_by_test_id(SUGGESTIONS)).to_be_hidden()
    expect(dialog).to_be_visible()

    # Share with Grace (found by her display name's start) at "edit".
    share_with_user(page, "grace", "edit", typed="Grace H")
    row = grant_row(page, "grace")
    expect(row.get_by_test_id(GRANT_LEVEL)).to_have_text("edit")
    grace = user_id(team, "grace")
    held = {(g["principal_type"], g["principal_id"], g["level"]) for g in grants(team, board["id"])}
    assert held == {("user", grace, "edit")}

    # A user disabled meanwhile: the server refuses, the dialog says why and keeps the pick.
    adele = user_id(team, "adele")
    field.fill("")
    field.press_sequentially("ade", delay=30)
    expect(dialog.locator(f'[data-testid="{OPTION}"][data-username="adele"]')).to_be_visible()
    expect(dialog.get_by_test_id(OPTION)).to_have_count(1)
    field.press("Enter")
    team.call("PATCH", f"api/admin/users/{adele}", {"disabled": True}, admin=True)
    dialog.get_by_test_id(SUBMIT).click()
    expect(dialog.get_by_test_id(USER_ERROR)).to_have_text("user not found")
    expect(field).to_have_value("Adele Goldberg (@adele)")
    expect(dialog.get_by_test_id(SUBMIT)).to_be_enabled()
    assert len(grants(team, board["id"])) == 1

    # A share link: its address once, working; listed without it.
    url = create_share_link(page, days=3)
    token = re.search(r"share_token=([^&]+)", url).group(1)
    assert f"/analytics/dashboards/{board['id']}?" in url
    links = [g for g in grants(team, board["id"]) if g["principal_type"] == "link"]
    assert len(links) == 1
    assert links[0]["token"] is None
    assert links[0]["url"] is None
    seen = httpx.get(
        f"{team.live.url}api/dashboards/{board['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert seen.status_code == 200
    assert seen.json()["title"] == TITLE
    link_row = dialog.locator(f'[data-testid="{GRANT}"][data-kind="link"]')
    expect(link_row).to_contain_text("expires in 3 days")
    page.screenshot(path=screenshots_dir / "panel-sharing.png")

    close_share_dialog(page)
    dialog = open_share_dialog(page, TITLE)
    expect(dialog.get_by_test_id(LINK_RESULT)).to_be_hidden()
    expect(dialog.locator(f'[data-testid="{GRANT}"][data-kind="link"]')).to_have_count(1)
    assert token not in page.locator(".jp-Dialog").inner_html()

    # Revoke both: gone from the dialog and from the server; the link opens nothing.
    revoke_grant(page, "grace")
    link_name = dialog.locator(f'[data-testid="{GRANT}"][data-kind="link"]').get_by_test_id(
        GRANT_NAME
    )
    revoke_grant(page, link_name.inner_text())
    expect(dialog.get_by_test_id("share-grants-empty")).to_be_visible()
    assert grants(team, board["id"]) == []
    gone = httpx.get(
        f"{team.live.url}api/dashboards/{board['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert gone.status_code in (401, 404)
    close_share_dialog(page)
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"

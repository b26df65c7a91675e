"""The Account tab in a real JupyterLab on a team server, logged in as an account (not the owner).

Walks what issue 9 asks of it: a settings change (in the form generated from the settings JSON
Schema) survives a reload and the API agrees; the default datasource is picked by name from the
schema's ``x-choices`` list and the read-only version is never sent; an API key's secret is shown
once, works, and is nowhere in the page after the box is closed (nor after the tab is reopened); a
revoked session disappears and its token is refused; an uploaded avatar is the picture shown. The
step functions are module-level so a cross-panel walk can reuse them.

Test ids used (``data-testid``):
    sidebar:  account-section, account-open-tab, analytics-user-display-name,
              analytics-user-username, analytics-user-avatar, analytics-server-version
    tab:      account-tab, account-profile, account-settings, account-sessions, account-api-keys,
              account-activity (blocks); settings-field-<dotted.path> (generated controls),
              account-settings-save, account-settings-status, account-settings-error;
              account-session (data-session-id), account-session-current,
              account-session-revoke; account-api-key-create-section,
              account-api-key-create-name, account-api-key-create, account-api-key-secret,
              account-api-key-secret-box, account-api-key-secret-close, account-api-key
              (data-key-id), account-api-key-prefix, account-api-key-revoke;
              account-avatar-input, account-avatar-image, account-avatar-message;
              account-activity-event, account-activity-more
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer, create_user_with_cli, start_live_server
from tests.ui.conftest import run_from_palette

pytestmark = pytest.mark.ui

LAB_LOAD_TIMEOUT_MS = 60_000
USERNAME = "ada"
PASSWORD = "plum orchard at dusk 42"
SIDEBAR_ID = "analytics-ext:sidebar"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A team server with one account, created by the admin CLI before the server starts, and a
    folder of datasource files (``ledger.sqlite``) its admin may add."""
    work = tmp_path_factory.mktemp("lab-account")
    files = work / "datasource-files"
    files.mkdir()
    sqlite3.connect(files / "ledger.sqlite").close()
    (work / "config").mkdir()
    config = {"AnalyticsExtension": {"datasource_dirs": [str(files)]}}
    (work / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    db_url = f"sqlite:///{work / 'store.sqlite'}"
    cli = partial(create_user_with_cli, work, db_url)
    cli(USERNAME, PASSWORD, "--email=ada@example.org", "--display-name=Ada Lovelace")
    extra = ["--AnalyticsExtension.multi_user=True", f"--AnalyticsExtension.db_url={db_url}"]
    with start_live_server(work, extra_args=extra) as live:
        yield live


# -- steps ------------------------------------------------------------------------------------


def log_in(page, server: LiveServer, username: str = USERNAME, password: str = PASSWORD) -> None:
    """Log in at the team server's /login page and wait for JupyterLab."""
    page.goto(f"{server.url}lab")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)


def open_account_tab(page):
    """Open the Account tab from the command palette; returns it once every block has loaded."""
    from playwright.sync_api import expect

    tab = page.get_by_test_id("account-tab")
    run_from_palette(page, "Open Account Settings", shows=tab)
    for block in ("profile", "settings", "sessions", "api-keys", "activity"):
        expect(tab.get_by_test_id(f"account-{block}").locator('[aria-busy="false"]')).to_have_count(
            1, timeout=15_000
        )
    expect(tab.get_by_test_id("analytics-loading")).to_have_count(0)
    return tab


def settings_field(page, field_label: str):
    """The generated control labelled ``field_label`` in the settings form."""
    return page.get_by_test_id("account-settings-form").get_by_label(field_label, exact=True)


def reload_account_tab(page):
    """Reload JupyterLab and open the Account tab again (what a saved setting must survive)."""
    page.reload()
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    return open_account_tab(page)


def chosen_option(page, field_label: str) -> str:
    """The text of the option a generated select shows (its value is only an index)."""
    return settings_field(page, field_label).evaluate(
        "select => select.selectedOptions[0].textContent"
    )


def change_setting(page, field_label: str, value: str | bool) -> None:
    """Set one field of the generated settings form and save; waits for "Settings saved."."""
    from playwright.sync_api import expect

    field = settings_field(page, field_label)
    tag = field.evaluate("node => node.tagName + ':' + (node.type || '')")
    if tag.startswith("SELECT"):
        field.select_option(label=str(value))
    elif tag == "INPUT:checkbox":
        field.set_checked(bool(value))
    else:
        field.fill(str(value))
    page.get_by_test_id("account-settings-save").click()
    expect(page.get_by_test_id("account-settings-status")).to_have_text("Settings saved.")


def create_api_key(page, name: str) -> str:
    """Create an API key named ``name`` (read scope) in the Account tab; returns its secret."""
    from playwright.sync_api import expect

    section = page.get_by_test_id("account-api-key-create-section")
    if section.get_attribute("open") is None:
        section.locator("summary").click()
    page.get_by_test_id("account-api-key-create-name").fill(name)
    page.get_by_test_id("account-api-key-create").click()
    secret_field = page.get_by_test_id("account-api-key-secret")
    expect(secret_field).to_be_visible()
    expect(secret_field).to_have_js_property("readOnly", True)
    secret = secret_field.input_value()
    assert secret.startswith("aek_"), secret
    return secret


def close_api_key_secret(page) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("account-api-key-secret-close").click()
    expect(page.get_by_test_id("account-api-key-secret-box")).to_have_count(0)


def confirm_dialog(page, button: str) -> None:
    from playwright.sync_api import expect

    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)


def revoke_session(page, session_id: str) -> None:
    """Revoke session ``session_id`` in the Account tab (confirming); waits until it is gone."""
    from playwright.sync_api import expect

    row = page.locator(f'[data-testid="account-session"][data-session-id="{session_id}"]')
    expect(row).to_have_count(1)
    row.get_by_test_id("account-session-revoke").click()
    confirm_dialog(page, "Revoke")
    expect(row).to_have_count(0)


def api_login(server: LiveServer) -> dict:
    """A second login session, as a script would open one: ``POST api/auth/login``."""
    response = httpx.post(
        f"{server.url}api/auth/login",
        json={"username": USERNAME, "password": PASSWORD},
        headers={"User-Agent": "python-httpx (lab account test)"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def png_bytes(colour: tuple[int, int, int], size: int = 64) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


# -- tests ------------------------------------------------------------------------------------


def test_settings_change_persists_across_reload(team_server: LiveServer, page) -> None:
    from playwright.sync_api import expect

    log_in(page, team_server)
    open_account_tab(page)
    # Fields come from the schema: nested objects included.
    expect(settings_field(page, "Chart Theme")).to_have_value(re.compile(r".+"))
    expect(page.get_by_test_id("settings-field-sql_formatting.indent")).to_have_value("2")

    change_setting(page, "Chart Theme", "dark")
    change_setting(page, "Indent", "4")
    change_setting(page, "Email On Comment", False)

    # A value the schema forbids is refused in the form, next to the field, and nothing is sent.
    refresh = settings_field(page, "Dashboard Refresh Seconds")
    refresh.fill("10")
    page.get_by_test_id("account-settings-save").click()
    expect(page.get_by_test_id("settings-problem-dashboard_refresh_seconds")).to_have_text(
        "must not be between 1 and 29"
    )
    expect(refresh).to_be_focused()

    reload_account_tab(page)
    assert chosen_option(page, "Chart Theme") == "dark"
    expect(settings_field(page, "Indent")).to_have_value("4")
    expect(settings_field(page, "Email On Comment")).not_to_be_checked()
    expect(settings_field(page, "Dashboard Refresh Seconds")).to_have_value("0")

    stored = page.request.get(f"{team_server.url}api/user/settings")
    assert stored.ok, stored.status
    document = stored.json()
    assert document["chart_theme"] == "dark"
    assert document["sql_formatting"] == {"keyword_case": "upper", "indent": 4}
    assert document["notifications"]["email_on_comment"] is False
    assert document["dashboard_refresh_seconds"] == 0
    assert page.errors == [], page.errors


def owner_call(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    """A REST call as the server token's holder (the owner and first admin)."""
    response = httpx.request(
        method, f"{server.url}{path}", json=body, headers=server.auth_header, timeout=60
    )
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def test_default_datasource_is_chosen_by_name(team_server: LiveServer, page) -> None:
    """The schema's ``x-choices: datasources`` makes the field a select of the datasources the
    user can see (by name, not a 22-character id); ``readOnly`` ``version`` is text, never sent."""
    from playwright.sync_api import expect

    ledger = team_server.root.parent / "datasource-files" / "ledger.sqlite"
    datasource = owner_call(
        team_server, "POST", "api/datasources", {"name": "Ledger", "url": f"sqlite:///{ledger}"}
    )
    (ada,) = owner_call(team_server, "GET", f"api/users?query={USERNAME}")["items"]
    owner_call(team_server, "POST", "api/datasources/share", {
        "object_id": datasource["id"], "principal_type": "user", "principal_id": ada["id"],
        "level": "use",
    })  # fmt: skip

    log_in(page, team_server)
    open_account_tab(page)
    version = settings_field(page, "Version")
    expect(version).to_have_text("1")
    assert version.evaluate("node => node.tagName") == "OUTPUT"
    choice = settings_field(page, "Default datasource")
    options = choice.locator("option").all_text_contents()
    assert options == ["None", "Ledger (sqlite)"], options

    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data or "")
            if request.method == "PATCH" and request.url.split("?")[0].endswith("api/user/settings")
            else None
        ),
    )
    change_setting(page, "Default datasource", "Ledger (sqlite)")
    assert len(sent) == 1, sent
    assert "version" not in json.loads(sent[0]), sent
    stored = page.request.get(f"{team_server.url}api/user/settings").json()
    assert stored["default_datasource_id"] == datasource["id"]

    reload_account_tab(page)
    assert chosen_option(page, "Default datasource") == "Ledger (sqlite)"
    change_setting(page, "Default datasource", "None")
    stored = page.request.get(f"{team_server.url}api/user/settings").json()
    assert stored["default_datasource_id"] is None
    assert page.errors == [], page.errors


def test_api_key_secret_is_shown_once(team_server: LiveServer, page) -> None:
    from playwright.sync_api import expect

    log_in(page, team_server)
    open_account_tab(page)
    secret = create_api_key(page, "nightly <b>report</b>")

    # The secret works: it authenticates as the account.
    me = httpx.get(
        f"{team_server.url}api/user", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert me.status_code == 200, me.text
    assert me.json()["username"] == USERNAME

    key_row = page.get_by_test_id("account-api-key").filter(has_text="nightly <b>report</b>")
    expect(key_row).to_have_count(1)
    expect(key_row.locator("b")).to_have_count(0)  # the name is text
    prefix = key_row.get_by_test_id("account-api-key-prefix").inner_text().rstrip("…")
    assert secret.startswith(prefix)
    assert len(prefix) < len(secret)

    close_api_key_secret(page)
    assert secret not in page.content()
    assert page.evaluate(
        "secret => [...document.querySelectorAll('input, textarea')]"
        ".every(field => !field.value.includes(secret))",
        secret,
    )

    # Close the tab and open it again: the list shows the prefix, never the secret.
    page.locator('.lm-TabBar-tab:has-text("Account") .lm-TabBar-tabCloseIcon').click()
    expect(page.get_by_test_id("account-tab")).to_have_count(0)
    open_account_tab(page)
    expect(page.get_by_test_id("account-api-key").filter(has_text=prefix)).to_have_count(1)
    assert secret not in page.content()

    # Revoking it (confirmed) removes it from the list, and the server refuses the secret.
    key_row = page.get_by_test_id("account-api-key").filter(has_text="nightly <b>report</b>")
    key_row.get_by_test_id("account-api-key-revoke").click()
    confirm_dialog(page, "Revoke")
    expect(key_row).to_have_count(0)
    refused = httpx.get(
        f"{team_server.url}api/user", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert refused.status_code == 401, refused.text
    assert page.errors == [], page.errors


def test_revoke_a_session(team_server: LiveServer, page) -> None:
    from playwright.sync_api import expect

    log_in(page, team_server)
    other = api_login(team_server)
    bearer = {"Authorization": f"Bearer {other['access_token']}"}
    assert httpx.get(f"{team_server.url}api/user", headers=bearer, timeout=10).status_code == 200

    open_account_tab(page)
    sessions = page.get_by_test_id("account-sessions")
    # This browser's session is marked and cannot be revoked from here; the script's can.
    current = sessions.get_by_test_id("account-session").filter(
        has=page.get_by_test_id("account-session-current")
    )
    expect(current).to_have_count(1)
    expect(current.get_by_test_id("account-session-revoke")).to_have_count(0)
    script_row = sessions.locator(f'[data-session-id="{other["session_id"]}"]')
    expect(script_row).to_contain_text("Python script")

    revoke_session(page, other["session_id"])

    # The revoked session's access token and refresh token are refused at once.
    assert httpx.get(f"{team_server.url}api/user", headers=bearer, timeout=10).status_code == 401
    refreshed = httpx.post(
        f"{team_server.url}api/auth/refresh",
        json={"refresh_token": other["refresh_token"]},
        timeout=10,
    )
    assert refreshed.status_code == 401, refreshed.text
    # This browser's own session still works.
    assert page.request.get(f"{team_server.url}api/user").ok
    ids = [
        row.get_attribute("data-session-id")
        for row in sessions.get_by_test_id("account-session").all()
    ]
    assert other["session_id"] not in ids
    assert page.errors == [], page.errors


def test_avatar_upload_shows_the_new_picture(
    team_server: LiveServer, page, tmp_path: Path, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    log_in(page, team_server)
    open_account_tab(page)

    # Not an image: the server's message is shown and the picture stays.
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture")
    page.get_by_test_id("account-avatar-input").set_input_files(bogus)
    message = page.get_by_test_id("account-avatar-message")
    expect(message).to_have_attribute("role", "alert")
    expect(message).not_to_be_empty()
    server_says = message.inner_text()

    picture = tmp_path / "red.png"
    picture.write_bytes(png_bytes((220, 20, 20)))
    page.get_by_test_id("account-avatar-input").set_input_files(picture)
    expect(message).to_have_text("Picture updated.")
    image = page.get_by_test_id("account-avatar-image")
    expect(image).to_have_attribute("src", re.compile(r"/api/user/avatar\?v=\d+$"))
    # The picture drawn is the red one (the server re-encodes it; sample its centre pixel).
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    rgb = image.evaluate(
        """img => {
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const context = canvas.getContext('2d');
            context.drawImage(img, 0, 0);
            const middle = [img.naturalWidth / 2, img.naturalHeight / 2];
            const [r, g, b] = context.getImageData(...middle, 1, 1).data;
            return [r, g, b];
        }"""
    )
    red, green, blue = rgb
    assert red > 180, rgb
    assert green < 80, rgb
    assert blue < 80, rgb
    # The sidebar reloads and shows the new picture too.
    sidebar_avatar = page.locator(f'[id="{SIDEBAR_ID}"]').get_by_test_id("analytics-user-avatar")
    if sidebar_avatar.count():
        expect(sidebar_avatar).to_have_attribute("src", re.compile(r"\?v=\d+$"))

    # Populated page for the README: a key listed, two sessions, the activity feed.
    script = api_login(team_server)
    create_api_key(page, "notebook on my laptop")
    close_api_key_secret(page)
    page.get_by_test_id("account-tab-reload").click()
    expect(page.locator(f'[data-session-id="{script["session_id"]}"]')).to_have_count(1)
    expect(page.get_by_test_id("account-activity-event").first).to_be_visible()
    page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]').click()
    expect(page.locator(f'[id="{SIDEBAR_ID}"]').get_by_test_id("account-section")).to_be_visible()
    tab = page.get_by_test_id("account-tab")
    tab.evaluate("node => node.scrollTo(0, 0)")
    page.screenshot(path=screenshots_dir / "panel-account.png")
    page.get_by_test_id("account-nav-sessions").click()
    expect(page.get_by_test_id("account-sessions").locator("h2")).to_be_focused()
    page.screenshot(path=screenshots_dir / "panel-account-sessions.png")
    assert server_says, "the refused upload showed no message"
    assert page.errors == [], page.errors


def test_single_user_server_has_no_sessions_to_revoke(live_server: LiveServer, page) -> None:
    """Local mode: Jupyter's token signs the owner in; the tab says so instead of failing."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}lab?token={live_server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    tab = open_account_tab(page)
    expect(tab.get_by_test_id("account-sessions-empty")).to_be_visible()
    expect(tab.get_by_test_id("analytics-error")).to_have_count(0)
    expect(tab.get_by_test_id("account-settings-form")).to_be_visible()
    assert page.errors == [], page.errors

"""The Analytics sidebar in a real JupyterLab: user, server version, command palette."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.ui.conftest import run_from_palette

pytestmark = pytest.mark.ui

SIDEBAR_ID = "analytics-ext:sidebar"
LAB_LOAD_TIMEOUT_MS = 60_000


def _get_json(live_server, path: str) -> dict:
    response = httpx.get(
        f"{live_server.url}{path}",
        headers={"Authorization": f"token {live_server.token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _open_lab(page, live_server) -> None:
    page.goto(f"{live_server.url}lab?token={live_server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)


def _open_sidebar(page, live_server):
    from playwright.sync_api import expect

    _open_lab(page, live_server)
    tab = page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]')
    expect(tab).to_be_visible()
    expect(tab.locator("svg")).to_have_count(1)  # the bar-chart icon
    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    run_from_palette(page, "Open Analytics Sidebar", shows=sidebar)
    expect(sidebar).to_be_visible()
    return sidebar


@pytest.fixture(params=["live_server", "demo_server"])
def server(request: pytest.FixtureRequest):
    """The test server, and the one `make demo` starts (the README's promise)."""
    return request.getfixturevalue(request.param)


def test_sidebar_shows_user_and_server_version(server, page, screenshots_dir: Path) -> None:
    from playwright.sync_api import expect

    live_server = server
    user = _get_json(live_server, "api/user")
    info = _get_json(live_server, "api/analytics/info")

    sidebar = _open_sidebar(page, live_server)
    expect(sidebar.get_by_test_id("analytics-user-display-name")).to_have_text(
        user["display_name"] or user["username"]
    )
    expect(sidebar.get_by_test_id("analytics-user-username")).to_have_text(user["username"])
    version = sidebar.get_by_test_id("analytics-server-version")
    expect(version).to_have_text(re.compile(r"^analytics_ext \d+\.\d+\.\d+"))
    expect(version).to_have_text(f"analytics_ext {info['version']}")
    expect(sidebar.get_by_test_id("analytics-error")).to_have_count(0)
    expect(sidebar.get_by_test_id("analytics-user-admin-badge")).to_have_count(
        1 if user["is_admin"] else 0
    )

    # Let the avatar settle (loaded, or replaced by initials) before the picture is taken.
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].every(img => img.complete)",
        arg=f'[id="{SIDEBAR_ID}"] img',
    )
    name = "sidebar.png" if server.log.name == "server.log" else "sidebar-make-demo.png"
    page.screenshot(path=screenshots_dir / name)
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"


def test_sidebar_shows_avatar_image(live_server, page) -> None:
    from playwright.sync_api import expect

    user = _get_json(live_server, "api/user")
    assert user.get("avatar_url"), f"GET api/user has no avatar_url: {user}"
    # avatar_url is an absolute path (base_url included), fetched with the page's cookie like <img>.
    sidebar = _open_sidebar(page, live_server)
    avatar_response = page.request.get(urljoin(live_server.url, user["avatar_url"]))
    assert avatar_response.ok, f"GET {user['avatar_url']}: {avatar_response.status}"
    assert avatar_response.headers["content-type"].startswith("image/")

    avatar = sidebar.get_by_test_id("analytics-user-avatar")
    expect(avatar).to_have_attribute("src", user["avatar_url"])
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle()
    )

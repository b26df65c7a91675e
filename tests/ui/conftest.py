"""Fixtures for browser tests: Debian's Chromium (never a downloaded browser) through Playwright.

Without ``/usr/bin/chromium`` (or the ``playwright`` package) the tests skip with the reason; with
``CI=true`` that is a failure, so CI can never go green by skipping them. Install the browser with
``apt-get update && apt-get install -y chromium``. Never run ``playwright install``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.live_server import LiveServer, free_port, wait_until_healthy
from tests.support.services import in_ci

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS_DIR = Path(__file__).parent / "screenshots"
REPO_ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}


def _skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; skips (fails with CI=true) when it or Playwright is missing."""
    if not (CHROMIUM_PATH.is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        _skip_or_fail(
            f"{CHROMIUM_PATH} is missing: install it with "
            "`apt-get update && apt-get install -y chromium` (never `playwright install`)"
        )
    if importlib.util.find_spec("playwright") is None:
        _skip_or_fail("the playwright package is missing: pip install -e '.[test]'")
    return str(CHROMIUM_PATH)


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    """A Chromium per test, deliberately not per session.

    Between sync calls Playwright marks its own event loop as the running one, so a session-wide
    Playwright would be the loop that pytest-jupyter's autouse ``jp_asyncio_loop`` fixture picks up
    (and fails to close) in every later test. Function scope starts Playwright after that fixture
    and stops it before, and costs about a second per test.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots_dir() -> Path:
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS_DIR


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; uncaught page errors are kept in ``page.errors``.

    A failing test leaves ``screenshots/<test name>-failure.png`` behind.
    """
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS_DIR / f"{request.node.name}-failure.png")
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    # Lets the page fixture see whether the test body failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``JUPYTER_TOKEN=... PORT=... make demo`` from the checkout, as the README says to run it.

    Jupyter's paths point into a temporary folder, and the demo data is written at a small scale,
    so the test leaves the developer's own Jupyter data alone and stays quick.
    """
    work = tmp_path_factory.mktemp("make-demo")
    port, token = free_port(), secrets.token_hex(8)
    root = work / "notebooks"
    root.mkdir()
    # `make -C` runs JupyterLab in the checkout: notebooks a test creates (Open in notebook)
    # belong in the temporary folder, not in the repository.
    (work / "config").mkdir()
    (work / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"root_dir": str(root)}})
    )
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "PORT": str(port),
        "DEMO_SCALE": "0.02",
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTER_DATA_DIR": str(work / "data"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / "lab-settings"),
        "MAKEFLAGS": "",
    }
    env.pop("DISPLAY", None)
    log = work / "make-demo.log"
    with log.open("wb") as out:
        # Its own process group, so stopping it stops make, the shell and JupyterLab alike.
        process = subprocess.Popen(
            ["make", "-C", str(REPO_ROOT), "demo"], cwd=root, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until_healthy(url, process, log, timeout=600)
            yield LiveServer(url=url, token=token, root=root, log=log)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run_from_palette(page: Page, label: str, shows: Locator, attempts: int = 3) -> None:
    """Run a JupyterLab command by its palette label until ``shows`` is visible.

    Enter on the active item, not a click: JupyterLab re-renders the palette's items while it
    filters, so a click can land on an item being replaced, and under load a keystroke can
    arrive before the filtered list settles and run nothing. The user's move is retried (a
    person would press again); the command itself must still work, or every attempt fails.
    """
    from playwright.sync_api import expect

    for attempt in range(1, attempts + 1):
        try:
            page.locator("#main").click(position={"x": 600, "y": 400})  # focus the application
            # A click on a tab showing an iframe (a dashboard) puts the focus in that frame,
            # whose document never sees the shortcut: take it back to the application.
            page.evaluate(
                "() => { const a = document.activeElement; if (a?.tagName === 'IFRAME') a.blur(); }"
            )
            page.keyboard.press("Control+Shift+C")
            palette_input = page.locator(".lm-CommandPalette-input")
            # Under load the shortcut can land before the shell takes focus: press again.
            expect(palette_input).to_be_visible(timeout=5_000)
            palette_input.fill(label)
            active = page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=label)
            expect(active).to_be_visible()
            palette_input.press("Enter")
            expect(shows).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == attempts:
                raise

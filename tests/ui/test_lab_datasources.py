"""The Datasources section in a real JupyterLab: add a DuckDB file through the form, test it,
browse schema → table → columns, preview a table in a tab; and a 100k-column SQLite file whose
tree asks for names only and, when one table opens, for that table's columns only.

The user's steps are module-level functions so a walk across panels can import them:

- ``open_datasources(page, server) -> Locator``: the Lab, the Analytics sidebar, the section
- ``add_datasource(page, name, path, kind="duckdb") -> None``
- ``test_datasource(page, name) -> str``: the Test outcome's text (asserted to be ok)
- ``expand_datasource(page, ds) -> Locator``, ``expand_schema(page, ds, schema) -> Locator``
- ``expand_table(page, ds, table) -> Locator``: the table's item, its columns shown
- ``open_preview(page, ds, table) -> Locator``: the preview tab's content, rows shown
- ``edit_datasource(page, name, new_name) -> None``, ``delete_datasource(page, name) -> None``

``data-testid`` hooks used here (set in ``labextension/src/panels/datasources/``):
section toolbar ``datasources-add``, ``datasources-refresh``; tree ``datasources-tree``;
items ``datasource-item`` / ``schema-item`` / ``relation-item`` / ``column-item`` (each with
``data-name``, its own first row ``datasource-row`` / ``schema-row`` / ``relation-row``),
``datasource-name``, ``datasource-dialect``, ``datasource-level``, ``column-name``,
``column-type``, ``column-pk``, ``relations-more``, ``columns-more``, ``tree-loading``,
``tree-error``; row actions ``datasource-test`` (result ``datasource-test-result``),
``datasource-edit``, ``datasource-share``, ``datasource-delete``, ``relation-preview``;
the form ``datasource-form`` with ``datasource-form-name``, ``-kind``, ``-path``, ``-host``,
``-port``, ``-database``, ``-username``, ``-password``, ``-url``, ``-url-password``,
``-test`` (result ``datasource-form-test-result``), ``-error``, ``-save``, ``-cancel``;
the preview tab ``datasource-preview`` with ``preview-table``, ``preview-column``,
``preview-row``, ``preview-summary``, ``preview-truncated``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.support.live_server import LiveServer, start_live_server

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.ui

SIDEBAR_ID = "analytics-ext:sidebar"
LAB_LOAD_TIMEOUT_MS = 60_000
WIDE_TABLES = 1000
WIDE_COLUMNS = 100


# -- data and server ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def datasource_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the retail demo data (DuckDB, small scale) and ``wide.sqlite``: 1000
    tables x (id + 100 columns), about 100k columns. Written before any server opens them."""
    from analytics_ext.demo.retail import write_demo_data

    folder = tmp_path_factory.mktemp("datasource-files")
    write_demo_data(folder, scale=0.02, formats=["duckdb"])
    columns = ", ".join(f"c{i:03d} INTEGER" for i in range(1, WIDE_COLUMNS + 1))
    connection = sqlite3.connect(folder / "wide.sqlite")
    connection.executescript(
        "BEGIN;"
        + "".join(
            f"CREATE TABLE wide_{t:04d} (id INTEGER PRIMARY KEY, {columns});"
            for t in range(1, WIDE_TABLES + 1)
        )
        + "COMMIT;"
    )
    connection.close()
    return folder


@pytest.fixture(scope="module")
def ds_server(
    tmp_path_factory: pytest.TempPathFactory, datasource_files: Path
) -> Iterator[LiveServer]:
    """JupyterLab whose admin may add the files of ``datasource_files`` (and no others).

    Set in a config file: ``--AnalyticsExtension.datasource_dirs=<dir>`` on the command line
    did not reach the extension (files in the folder were refused as outside it)."""
    work = tmp_path_factory.mktemp("lab-datasources")
    (work / "config").mkdir()
    config = {"AnalyticsExtension": {"datasource_dirs": [str(datasource_files)]}}
    (work / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    with start_live_server(work) as server:
        yield server


def api_get(server: LiveServer, path: str) -> dict:
    response = httpx.get(f"{server.url}{path}", headers=server.auth_header, timeout=30)
    response.raise_for_status()
    return response.json()


# -- the user's steps -------------------------------------------------------------------------


def _css_string(value: str) -> str:
    return json.dumps(value)


def datasource_item(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="datasource-item"][data-name={_css_string(name)}]')


def open_datasources(page: Page, server: LiveServer) -> Locator:
    """Open the Lab, the Analytics sidebar, and give the Datasources section the room."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}lab?token={server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    # The sidebar's tab in the left bar (the palette is exercised by test_sidebar.py). The
    # restored layout may open the sidebar a moment after the splash: look again before a
    # click, which would close it.
    tab = page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]')
    for _ in range(3):
        page.wait_for_timeout(500)
        if sidebar.is_visible():
            break
        tab.click()
    expect(sidebar).to_be_visible()
    # Fold the other sections so the tree has the height of the sidebar.
    titles = sidebar.locator(".lm-AccordionPanel-title")
    for index in range(titles.count()):
        title = titles.nth(index)
        expanded = title.get_attribute("aria-expanded") == "true"
        if ("Datasources" in (title.text_content() or "")) != expanded:
            title.click()
    section = sidebar.locator('[id="analytics-ext:datasources"]')
    expect(section).to_be_visible()
    expect(section.get_by_test_id("analytics-loading")).to_have_count(0, timeout=15_000)
    return section


def add_datasource(page: Page, name: str, path: str | Path, kind: str = "duckdb") -> None:
    """Add a DuckDB or SQLite file through the form (the dialog closes once saved)."""
    from playwright.sync_api import expect

    page.get_by_test_id("datasources-add").click()
    form = page.get_by_test_id("datasource-form")
    expect(form).to_be_visible()
    form.get_by_test_id("datasource-form-name").fill(name)
    form.get_by_test_id("datasource-form-kind").select_option(kind)
    form.get_by_test_id("datasource-form-path").fill(str(path))
    page.get_by_test_id("datasource-form-save").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(datasource_item(page, name)).to_be_visible()


def test_datasource(page: Page, name: str) -> str:
    """Press Test on a saved datasource; returns the outcome, asserted to be a success."""
    from playwright.sync_api import expect

    item = datasource_item(page, name)
    item.get_by_test_id("datasource-row").first.hover()
    item.get_by_test_id("datasource-test").click()
    result = item.get_by_test_id("datasource-test-result")
    expect(result).to_have_attribute("data-ok", "true", timeout=15_000)
    expect(result).to_contain_text("Connection OK")
    return result.inner_text()


test_datasource.__test__ = False  # a step for other tests, not a test of its own


def expand_datasource(page: Page, ds: str) -> Locator:
    from playwright.sync_api import expect

    item = datasource_item(page, ds)
    if item.get_attribute("aria-expanded") != "true":
        item.get_by_test_id("datasource-row").first.click()
    expect(item).to_have_attribute("aria-expanded", "true")
    expect(item.get_by_test_id("schema-item").first).to_be_visible(timeout=15_000)
    return item


def expand_schema(page: Page, ds: str, schema: str) -> Locator:
    from playwright.sync_api import expect

    item = expand_datasource(page, ds).locator(
        f'[data-testid="schema-item"][data-name={_css_string(schema)}]'
    )
    if item.get_attribute("aria-expanded") != "true":
        item.get_by_test_id("schema-row").first.click()
    expect(item).to_have_attribute("aria-expanded", "true")
    expect(item.get_by_test_id("relation-item").first).to_be_visible(timeout=15_000)
    return item


def expand_table(page: Page, ds: str, table: str, schema: str = "main") -> Locator:
    """Open one table; waits until its columns show."""
    from playwright.sync_api import expect

    item = expand_schema(page, ds, schema).locator(
        f'[data-testid="relation-item"][data-name={_css_string(table)}]'
    )
    item.scroll_into_view_if_needed()
    if item.get_attribute("aria-expanded") != "true":
        item.get_by_test_id("relation-row").first.click()
    expect(item).to_have_attribute("aria-expanded", "true")
    expect(item.get_by_test_id("column-item").first).to_be_visible(timeout=15_000)
    return item


def open_preview(page: Page, ds: str, table: str, schema: str = "main") -> Locator:
    """Open the preview tab of a table (from its row's Preview button); waits for rows."""
    from playwright.sync_api import expect

    item = expand_schema(page, ds, schema).locator(
        f'[data-testid="relation-item"][data-name={_css_string(table)}]'
    )
    row = item.get_by_test_id("relation-row").first
    row.hover()
    row.get_by_test_id("relation-preview").click()
    preview = page.locator("#jp-main-dock-panel").get_by_test_id("datasource-preview")
    preview = preview.filter(has=page.get_by_test_id("preview-table")).last
    expect(preview.get_by_test_id("preview-row").first).to_be_visible(timeout=15_000)
    return preview


# -- tests ------------------------------------------------------------------------------------


def test_add_test_browse_and_preview_the_demo_datasource(
    ds_server: LiveServer, datasource_files: Path, page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    section = open_datasources(page, ds_server)
    expect(section.get_by_test_id("datasources-empty")).to_be_visible()

    # A path outside the allowed folders: the server's message in the form, values kept.
    page.get_by_test_id("datasources-add").click()
    form = page.get_by_test_id("datasource-form")
    form.get_by_test_id("datasource-form-name").fill("retail")
    form.get_by_test_id("datasource-form-kind").select_option("duckdb")
    form.get_by_test_id("datasource-form-path").fill("/etc/retail.duckdb")
    page.get_by_test_id("datasource-form-save").click()
    expect(form.get_by_test_id("datasource-form-error")).to_contain_text(
        "outside the folders allowed"
    )
    expect(form.get_by_test_id("datasource-form-name")).to_have_value("retail")
    # The form's Test connects with the form's values.
    form.get_by_test_id("datasource-form-path").fill(str(datasource_files / "retail.duckdb"))
    form.get_by_test_id("datasource-form-test").click()
    expect(form.get_by_test_id("datasource-form-test-result")).to_contain_text(
        "Connection OK", timeout=15_000
    )
    page.get_by_test_id("datasource-form-cancel").click()
    expect(form).to_have_count(0)
    assert api_get(ds_server, "api/datasources")["total"] == 0  # nothing half-saved

    add_datasource(page, "retail", datasource_files / "retail.duckdb")
    listed = api_get(ds_server, "api/datasources")
    assert [(d["name"], d["dialect"]) for d in listed["items"]] == [("retail", "duckdb")]
    item = datasource_item(page, "retail")
    expect(item.get_by_test_id("datasource-dialect").first).to_have_text("DUCK")
    expect(item.get_by_test_id("datasource-level")).to_have_count(0)  # our own

    outcome = test_datasource(page, "retail")
    assert "ms" in outcome

    orders = expand_table(page, "retail", "orders")
    names = orders.get_by_test_id("column-name").all_inner_texts()
    server_columns = api_get(
        ds_server,
        f"api/datasources/schema/table?datasource_id={listed['items'][0]['id']}&table=orders",
    )["columns"]
    assert names == [c["name"] for c in server_columns]
    expect(orders.get_by_test_id("column-pk").first).to_be_visible()

    preview = open_preview(page, "retail", "customers")
    headers = preview.get_by_test_id("preview-column").all_inner_texts()
    assert headers
    assert preview.get_by_test_id("preview-row").count() > 0
    expect(preview.get_by_test_id("preview-summary")).to_contain_text("rows")
    # Opening it again activates the same tab.
    open_preview(page, "retail", "customers")
    expect(page.locator("#jp-main-dock-panel").get_by_test_id("datasource-preview")).to_have_count(
        1
    )

    # Keyboard: the table item is focusable and Enter folds it.
    orders.focus()
    page.keyboard.press("Enter")
    expect(orders).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(orders).to_have_attribute("aria-expanded", "true")

    # Permissions opens the share dialog with datasource levels.
    item.get_by_test_id("datasource-row").first.hover()
    item.get_by_test_id("datasource-share").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("retail")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    page.mouse.move(900, 400)
    page.screenshot(path=screenshots_dir / "panel-datasources.png")
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"


def test_expanding_one_table_of_a_100k_column_datasource_requests_only_that_table(
    ds_server: LiveServer, datasource_files: Path, page: Page
) -> None:
    from playwright.sync_api import expect

    open_datasources(page, ds_server)
    requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            requests.append(request.url) if "/api/datasources/schema" in request.url else None
        ),
    )
    add_datasource(page, "wide", datasource_files / "wide.sqlite", kind="sqlite")
    schema = expand_schema(page, "wide", "main")
    expect(schema.get_by_test_id("relation-item")).to_have_count(100)
    schema.get_by_test_id("relations-more").click()
    expect(schema.get_by_test_id("relation-item")).to_have_count(200)

    listings = [u for u in requests if urlparse(u).path.endswith("/api/datasources/schema")]
    assert len(listings) == 2, requests
    for url in listings:
        assert parse_qs(urlparse(url).query)["columns"] == ["false"], url
    assert "cursor" in parse_qs(urlparse(listings[1]).query)
    assert not [u for u in requests if "/schema/table" in u], requests

    table = expand_table(page, "wide", "wide_0042")
    expect(table.get_by_test_id("column-item")).to_have_count(WIDE_COLUMNS + 1)
    expect(table.get_by_test_id("column-name").first).to_have_text("id")
    expect(table.get_by_test_id("column-pk")).to_have_count(1)
    columns = [u for u in requests if urlparse(u).path.endswith("/api/datasources/schema/table")]
    assert len(columns) == 1, requests
    assert parse_qs(urlparse(columns[0]).query)["table"] == ["wide_0042"]
    # Only the one table is open; nothing else was described.
    assert schema.locator('[data-testid="relation-item"][aria-expanded="true"]').count() == 1
    assert len(requests) == 3, requests
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"


def edit_datasource(page: Page, name: str, new_name: str) -> None:
    """Rename a datasource through its Edit form."""
    from playwright.sync_api import expect

    item = datasource_item(page, name)
    item.get_by_test_id("datasource-row").first.hover()
    item.get_by_test_id("datasource-edit").click()
    form = page.get_by_test_id("datasource-form")
    expect(form.get_by_test_id("datasource-form-name")).to_have_value(name)
    form.get_by_test_id("datasource-form-name").fill(new_name)
    page.get_by_test_id("datasource-form-save").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(datasource_item(page, new_name)).to_be_visible()


def delete_datasource(page: Page, name: str) -> None:
    """Delete a datasource, confirming in the dialog."""
    from playwright.sync_api import expect

    item = datasource_item(page, name)
    item.get_by_test_id("datasource-row").first.hover()
    item.get_by_test_id("datasource-delete").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Delete")
    dialog.locator("button.jp-mod-accept").click()
    expect(datasource_item(page, name)).to_have_count(0, timeout=15_000)


def test_edit_names_as_text_context_menu_and_delete(
    ds_server: LiveServer, datasource_files: Path, page: Page
) -> None:
    from playwright.sync_api import expect

    open_datasources(page, ds_server)
    add_datasource(page, "scratch", datasource_files / "retail.duckdb")
    # A duplicate name: the server's 409 message in the form, the dialog stays.
    page.get_by_test_id("datasources-add").click()
    form = page.get_by_test_id("datasource-form")
    form.get_by_test_id("datasource-form-name").fill("scratch")
    form.get_by_test_id("datasource-form-kind").select_option("duckdb")
    form.get_by_test_id("datasource-form-path").fill(str(datasource_files / "retail.duckdb"))
    page.get_by_test_id("datasource-form-save").click()
    expect(form.get_by_test_id("datasource-form-error")).not_to_be_empty()
    expect(form).to_be_visible()
    page.get_by_test_id("datasource-form-cancel").click()

    markup = '<img src=x onerror="window.__xss=1">scratch'
    edit_datasource(page, "scratch", markup)
    item = datasource_item(page, markup)
    expect(item.get_by_test_id("datasource-name")).to_have_text(markup)
    assert item.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    names = [d["name"] for d in api_get(ds_server, "api/datasources")["items"]]
    assert markup in names

    # Right-click a table: the context menu offers its preview and the datasource's commands.
    expand_schema(page, markup, "main")
    table = item.locator('[data-testid="relation-item"][data-name="stores"]')
    table.get_by_test_id("relation-row").first.click(button="right")
    menu = page.locator(".lm-Menu")
    expect(menu.get_by_text("Preview Table")).to_be_visible()
    expect(menu.get_by_text("Test Connection")).to_be_visible()
    menu.get_by_text("Preview Table").click()
    preview = page.locator("#jp-main-dock-panel").get_by_test_id("datasource-preview").last
    expect(preview.get_by_test_id("preview-row").first).to_be_visible(timeout=15_000)
    expect(preview.get_by_test_id("preview-column").first).to_be_visible()

    delete_datasource(page, markup)
    names = [d["name"] for d in api_get(ds_server, "api/datasources")["items"]]
    assert markup not in names
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"

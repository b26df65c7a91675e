"""The Queries section of the Analytics sidebar in a real JupyterLab (Playwright + Debian
Chromium) on the demo data: save a query through the form, favorite it, open it in a notebook
and run it (the editor's grid shows the demo rows), export it as CSV, and the palette and
context menu commands.

Each step is a module-level function taking the page (and what it needs), so a cross-panel walk
can import them:

- ``open_queries_section(page, url, token) -> Locator``
- ``save_query(page, name, sql, datasource, tags=()) -> str`` (the new query's id)
- ``favorite_query(page, name) -> None``
- ``open_query_in_notebook(page, name) -> Locator`` (the cell's output, rows drawn)
- ``export_query(page, name, label="CSV") -> Path`` (the downloaded file)

``data-testid`` hooks of the section (``labextension/src/panels/queries``):

- tabs: ``queries-tab-saved``, ``queries-tab-favorites``, ``queries-tab-templates``,
  ``queries-tab-history``; ``queries-new`` (New query); filters: ``queries-search``,
  ``queries-tag-filter``, ``queries-datasource-filter``; ``queries-notice`` (outcome of the last
  action, errors included); lists: ``queries-list-<tab>``, ``queries-empty``, ``queries-count``,
  ``queries-load-more``
- a saved query: ``queries-row`` (attributes ``data-query-id``, ``data-query-name``) with
  ``queries-star`` (``aria-pressed``), ``queries-row-name``, ``queries-row-datasource``,
  ``queries-row-tag``, ``queries-row-status`` (progress of an action), ``queries-open``,
  ``queries-export`` (opens a menu: CSV, Excel (XLSX), Parquet, JSON), ``queries-share``,
  ``queries-more`` (menu: Open in Notebook, Favorite, Share…, Rename…, Delete…)
- forms: ``queries-new-form``, ``queries-rename-form``, ``queries-template-form`` with
  ``queries-form-name``, ``queries-form-datasource``, ``queries-form-sql``,
  ``queries-form-tags``, ``queries-form-description``, ``queries-template-params``,
  ``queries-form-error``, ``queries-form-submit``, ``queries-form-cancel``
- templates: ``queries-template-row`` (attributes ``data-template-id``, ``data-template-name``,
  ``data-permission``) with ``queries-template-name``, ``queries-template-use`` and, as the
  caller's level allows, ``queries-template-edit`` (edit), ``queries-template-share`` and
  ``queries-template-delete`` (manage); ``queries-template-level`` (a shared template);
  forms ``queries-save-template-form`` (Save as Template…), ``queries-edit-template-form``,
  ``queries-export-form`` (a query with parameters: ``queries-export-params``, prefilled);
  history: ``queries-history-row``, ``queries-history-sql``, ``queries-history-state``,
  ``queries-history-open``, ``queries-history-save``
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import httpx
import pytest

from tests.support.demo_server import DemoServer, start_demo_server
from tests.ui.conftest import run_from_palette

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.ui, pytest.mark.timeout(420)]

SIDEBAR_ID = "analytics-ext:sidebar"
SECTION_ID = "analytics-ext:queries"
LAB_LOAD_TIMEOUT_MS = 60_000
WIDGET_TIMEOUT_MS = 120_000
STORES_SQL = "SELECT id, name, city, country FROM stores ORDER BY id LIMIT 5"


# -- steps (importable) -----------------------------------------------------------------------


def open_queries_section(page: Page, url: str, token: str) -> Locator:
    """Open JupyterLab at ``url`` and the Analytics sidebar; return the Queries section, loaded."""
    from playwright.sync_api import expect

    page.goto(f"{url}lab?token={token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_LOAD_TIMEOUT_MS)
    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    tab = page.locator(f'.jp-SideBar.jp-mod-left [data-id="{SIDEBAR_ID}"]')
    expect(tab).to_be_visible()
    # A workspace left by an earlier test may reopen the sidebar just after the check (the tab
    # toggles it): click until it stays open.
    for attempt in range(3):
        if not sidebar.is_visible():
            tab.click()
        try:
            expect(sidebar).to_be_visible(timeout=5_000)
            page.wait_for_timeout(500)
            expect(sidebar).to_be_visible(timeout=1_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    section = queries_section(page)
    expect(section.get_by_test_id("queries-tab-saved")).to_be_visible()
    expect(section.get_by_test_id("queries-list-saved")).to_be_attached(timeout=30_000)
    return section


def focus_queries_section(page: Page) -> None:
    """Collapse the sidebar's other sections, so the Queries section has the height."""
    from playwright.sync_api import expect

    sidebar = page.locator(f'[id="{SIDEBAR_ID}"]')
    titles = sidebar.locator(".lm-AccordionPanel-title")
    for index in range(titles.count()):
        title = titles.nth(index)
        expanded = title.get_attribute("aria-expanded") == "true"
        is_queries = re.search(r"queries", title.inner_text(), re.IGNORECASE) is not None
        if expanded != is_queries:
            title.click()
            expect(title).to_have_attribute("aria-expanded", str(is_queries).lower())


def queries_section(page: Page) -> Locator:
    return page.locator(f'[id="{SECTION_ID}"]')


def query_row(page: Page, name: str) -> Locator:
    """The saved-query row named exactly ``name`` in the list shown."""
    return queries_section(page).locator(f'[data-testid="queries-row"][data-query-name="{name}"]')


def save_query(page: Page, name: str, sql: str, datasource: str, tags: tuple[str, ...] = ()) -> str:
    """Fill and submit the New query form; return the id of the saved query (from its row)."""
    from playwright.sync_api import expect

    section = queries_section(page)
    section.get_by_test_id("queries-tab-saved").click()
    # The section's title bar (outside the section's own node) holds New query and Refresh.
    page.locator(f'[id="{SIDEBAR_ID}"]').get_by_test_id("queries-new").click()
    form = section.get_by_test_id("queries-new-form")
    expect(form).to_be_visible()
    form.get_by_test_id("queries-form-name").fill(name)
    picker = form.get_by_test_id("queries-form-datasource")
    option = picker.locator("option").filter(has_text=re.compile(rf"^{re.escape(datasource)} \("))
    picker.select_option(option.get_attribute("value"))
    form.get_by_test_id("queries-form-sql").fill(sql)
    if tags:
        form.get_by_test_id("queries-form-tags").fill(", ".join(tags))
    form.get_by_test_id("queries-form-submit").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(section.get_by_test_id("queries-notice")).to_have_text(f"Saved “{name}”.")
    row = query_row(page, name)
    expect(row).to_be_visible(timeout=15_000)
    query_id = row.get_attribute("data-query-id")
    assert query_id is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", query_id), query_id
    return query_id


def favorite_query(page: Page, name: str) -> None:
    """Star the saved query ``name`` and wait until the reloaded list shows it starred."""
    from playwright.sync_api import expect

    section = queries_section(page)
    section.get_by_test_id("queries-tab-saved").click()
    star = query_row(page, name).get_by_test_id("queries-star")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(section.get_by_test_id("queries-notice")).to_have_text(
        f"Added “{name}” to favorites.", timeout=15_000
    )
    expect(query_row(page, name).get_by_test_id("queries-star")).to_have_attribute(
        "aria-pressed", "true"
    )


def open_query_in_notebook(page: Page, name: str) -> Locator:
    """Open the saved query ``name`` in a notebook (the cell runs); return the cell's output
    once the editor's grid shows rows."""
    from playwright.sync_api import expect

    query_row(page, name).get_by_test_id("queries-open").click()
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").filter(
        has_text="widgets.open_query("
    )
    expect(cell).to_have_count(1, timeout=LAB_LOAD_TIMEOUT_MS)
    output = cell.locator(".jp-OutputArea-output")
    rows = output.locator("table.ae-grid tbody tr")
    expect(rows.first).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    expect(output.get_by_text(re.compile(r"^succeeded · \d+ rows"))).to_be_visible(
        timeout=WIDGET_TIMEOUT_MS
    )
    return output


def export_query(page: Page, name: str, label: str = "CSV") -> Path:
    """Export the saved query ``name`` from its Export menu; return the downloaded file."""
    from playwright.sync_api import expect

    section = queries_section(page)
    section.get_by_test_id("queries-tab-saved").click()
    query_row(page, name).get_by_test_id("queries-export").click()
    item = page.locator(".lm-Menu .lm-Menu-item", has_text=re.compile(rf"^{re.escape(label)}$"))
    expect(item).to_be_visible()
    with page.expect_download(timeout=60_000) as download_info:
        item.click()
    download = download_info.value
    path = Path(download.path())
    expect(section.get_by_test_id("queries-notice")).to_have_text(
        re.compile(rf"^Downloaded {re.escape(download.suggested_filename)}: ")
    )
    target = path.with_name(download.suggested_filename)
    download.save_as(target)
    return target


def use_template(
    page: Page, template: str, name: str, datasource: str, values: dict[str, str]
) -> str:
    """Instantiate the query template ``template`` as the saved query ``name`` with parameter
    ``values`` (an enum's option label, else the text typed); return the new query's id."""
    from playwright.sync_api import expect

    section = queries_section(page)
    section.get_by_test_id("queries-tab-templates").click()
    row = section.get_by_test_id("queries-template-row").filter(
        has=page.get_by_test_id("queries-template-name").get_by_text(template, exact=True)
    )
    row.get_by_test_id("queries-template-use").click()
    form = section.get_by_test_id("queries-template-form")
    expect(form).to_be_visible()
    form.get_by_test_id("queries-form-name").fill(name)
    picker = form.get_by_test_id("queries-form-datasource")
    option = picker.locator("option").filter(has_text=re.compile(rf"^{re.escape(datasource)} \("))
    picker.select_option(option.get_attribute("value"))
    for parameter, value in values.items():
        field = form.locator(f'[data-param="{parameter}"]')
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.get_by_test_id("queries-form-submit").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(section.get_by_test_id("queries-notice")).to_have_text(
        f"Created “{name}” from the template."
    )
    expect(section.get_by_test_id("queries-tab-saved")).to_have_attribute("aria-selected", "true")
    created = query_row(page, name)
    expect(created).to_be_visible(timeout=15_000)
    query_id = created.get_attribute("data-query-id")
    assert query_id, "the new query's row has no id"
    return query_id


# -- helpers of this file ---------------------------------------------------------------------


def palette(page: Page, label: str, shows: Locator) -> None:
    """``run_from_palette``, again when the palette did not open (its shortcut toggles it, and
    right after another palette command a keystroke sometimes closes it instead)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(3):
        try:
            run_from_palette(page, label, shows=shows)
            return
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """A server with the demo data and its ``demo`` DuckDB datasource (no frontend rebuild, unlike
    ``make demo``: the build is whatever ``make frontend`` last made)."""
    with start_demo_server(tmp_path_factory.mktemp("lab-queries")) as server:
        yield server


def api(demo: DemoServer, method: str, path: str, body: object = None, **params: object) -> dict:
    response = httpx.request(
        method, f"{demo.url}{path}", params=params or None, json=body,
        headers=demo.server.auth_header, timeout=30,
    )  # fmt: skip
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def stores(demo: DemoServer) -> list[list[str]]:
    """The rows of ``STORES_SQL`` as the database answers them, as text."""
    connection = duckdb.connect(str(demo.duckdb_path), read_only=True)
    try:
        rows = connection.execute(STORES_SQL).fetchall()
    finally:
        connection.close()
    return [
        [value.isoformat() if isinstance(value, dt.date) else str(value) for value in row]
        for row in rows
    ]


# -- the test ---------------------------------------------------------------------------------


def test_queries_section_save_favorite_open_export(
    demo: DemoServer, page: Page, screenshots_dir: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 1000})
    section = open_queries_section(page, demo.url, demo.server.token)
    expected = stores(demo)

    # -- the form refuses bad input with the server's message and keeps what was typed ---------
    palette(page, "New Query", shows=section.get_by_test_id("queries-new-form"))
    form = section.get_by_test_id("queries-new-form")
    form.get_by_test_id("queries-form-name").fill("bad tags")
    form.get_by_test_id("queries-form-sql").fill("SELECT 1")
    form.get_by_test_id("queries-form-tags").fill('a"quote')
    form.get_by_test_id("queries-form-submit").click()
    error = form.get_by_test_id("queries-form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("tags")
    expect(form.get_by_test_id("queries-form-name")).to_have_value("bad tags")
    form.get_by_test_id("queries-form-cancel").click()
    expect(form).to_have_count(0)
    assert api(demo, "GET", "api/query", q="bad tags")["total"] == 0

    # -- save through the form; the REST API lists it ------------------------------------------
    name = "Five stores <b>(ui)</b>"
    query_id = save_query(page, name, STORES_SQL, "demo", tags=("retail", "ui"))
    saved = api(demo, "GET", f"api/query/{query_id}")
    assert saved["name"] == name
    assert saved["sql"] == STORES_SQL
    assert saved["tags"] == ["retail", "ui"]
    datasource = next(
        d for d in api(demo, "GET", "api/datasources")["items"] if d["name"] == "demo"
    )
    assert saved["datasource_id"] == datasource["id"]
    row = query_row(page, name)
    expect(row.get_by_test_id("queries-row-name")).to_have_text(name)  # markup stays text
    expect(row.locator("b")).to_have_count(0)
    expect(row.get_by_test_id("queries-row-datasource")).to_have_text("demo")
    expect(row.get_by_test_id("queries-row-tag")).to_have_text(["retail", "ui"])
    other = "Monthly orders (ui)"
    save_query(page, other, "SELECT date_trunc('month', order_date) AS month, count(*) AS orders\n"
               "FROM orders GROUP BY ALL ORDER BY month", "demo", tags=("retail",))  # fmt: skip

    # -- search and tag filters go to the server -------------------------------------------------
    section.get_by_test_id("queries-search").fill("five")
    expect(section.get_by_test_id("queries-row")).to_have_count(1)
    expect(query_row(page, name)).to_be_visible()
    section.get_by_test_id("queries-search").fill("")
    expect(section.get_by_test_id("queries-row")).to_have_count(2)
    section.get_by_test_id("queries-tag-filter").select_option("ui")
    expect(section.get_by_test_id("queries-row")).to_have_count(1)
    section.get_by_test_id("queries-tag-filter").select_option("")
    expect(section.get_by_test_id("queries-row")).to_have_count(2)

    # -- favorite: the server lists it, the Favorites tab shows it -------------------------------
    favorite_query(page, name)
    favorites = api(demo, "GET", "api/query/favorites")["items"]
    assert [(f["object_type"], f["object_id"]) for f in favorites] == [("query", query_id)]
    section.get_by_test_id("queries-tab-favorites").click()
    expect(section.get_by_test_id("queries-list-favorites")).to_be_visible()
    expect(section.get_by_test_id("queries-row")).to_have_count(1)
    expect(query_row(page, name).get_by_test_id("queries-star")).to_have_attribute(
        "aria-pressed", "true"
    )
    section.get_by_test_id("queries-tab-saved").click()
    expect(section.get_by_test_id("queries-row")).to_have_count(2)

    # -- a template becomes a saved query with the parameter chosen -----------------------------
    api(demo, "POST", "api/query/templates", {
        "name": "Stores in a country (ui)",
        "description": "Stores of one country",
        "body": "SELECT id, name, city FROM stores WHERE country = {{ country }} ORDER BY id",
        "parameters": [{"name": "country", "type": "enum",
                        "options": ["France", "United Kingdom"], "default": "France"}],
        "tags": ["retail"],
    })  # fmt: skip
    from_template = use_template(
        page, "Stores in a country (ui)", "UK stores (ui)", "demo", {"country": "United Kingdom"}
    )
    instantiated = api(demo, "GET", f"api/query/{from_template}")
    assert instantiated["datasource_id"] == datasource["id"]
    assert [p["default"] for p in instantiated["parameters"]] == ["United Kingdom"]
    expect(section.get_by_test_id("queries-row")).to_have_count(3)

    # -- the context menu of a row ---------------------------------------------------------------
    query_row(page, other).click(button="right")
    menu = page.locator(".lm-Menu").last
    for label in ("Open in Notebook", "Favorite", "Share…", "Export", "Rename…", "Delete…"):
        expect(
            menu.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{label}$"))
        ).to_be_visible()
    page.keyboard.press("Escape")

    # -- Share opens the share dialog on this query ----------------------------------------------
    query_row(page, other).get_by_test_id("queries-share").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Share “{other}”")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    # -- the picture: populated, one favorite ----------------------------------------------------
    focus_queries_section(page)
    expect(section.get_by_test_id("analytics-loading")).to_have_count(0)
    page.screenshot(path=screenshots_dir / "panel-queries.png")

    # -- export CSV: the download holds the demo rows --------------------------------------------
    path = export_query(page, name, "CSV")
    assert path.suffix == ".csv"
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["id", "name", "city", "country"]
    assert lines[1:] == expected

    # -- open in a notebook and run: the grid shows the same rows --------------------------------
    output = open_query_in_notebook(page, name)
    grid_rows = output.locator("table.ae-grid tbody tr")
    expect(grid_rows).to_have_count(len(expected))
    first = grid_rows.first.locator("td").all_inner_texts()
    assert first[1:] == expected[0], first  # the first cell is the row number
    expect(output.get_by_text(re.compile(rf"^succeeded · {len(expected)} rows"))).to_be_visible()
    page.screenshot(path=screenshots_dir / "panel-queries-notebook.png")

    # -- history: the run is there, as the server lists it ---------------------------------------
    section.get_by_test_id("queries-tab-history").click()
    history = section.get_by_test_id("queries-history-row")
    expect(history.first).to_be_visible(timeout=15_000)
    runs = api(demo, "GET", "api/query/history", limit=50)["items"]
    assert any(run["sql"] == STORES_SQL for run in runs)
    expect(section.get_by_test_id("queries-history-sql").first).to_have_text(
        re.compile(r"^SELECT ")
    )

    # -- unfavorite: the server forgets it -------------------------------------------------------
    section.get_by_test_id("queries-tab-saved").click()
    query_row(page, name).get_by_test_id("queries-star").click()
    expect(query_row(page, name).get_by_test_id("queries-star")).to_have_attribute(
        "aria-pressed", "false", timeout=15_000
    )
    assert api(demo, "GET", "api/query/favorites")["items"] == []
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"


COUNTRY_SQL = "SELECT id, name, city, country FROM stores WHERE country = :country ORDER BY id"


def country_stores(demo: DemoServer, country: str) -> list[list[str]]:
    """The demo stores of ``country`` as ``COUNTRY_SQL`` answers them, as text."""
    connection = duckdb.connect(str(demo.duckdb_path), read_only=True)
    try:
        rows = connection.execute(COUNTRY_SQL.replace(":country", "?"), [country]).fetchall()
    finally:
        connection.close()
    return [[str(value) for value in row] for row in rows]


def template_row(page: Page, name: str) -> Locator:
    """The template row named exactly ``name`` in the Templates tab."""
    return queries_section(page).locator(
        f'[data-testid="queries-template-row"][data-template-name="{name}"]'
    )


def test_queries_section_templates_and_export_with_parameters(
    demo: DemoServer, page: Page, screenshots_dir: Path
) -> None:
    """Save a parameterized query as a template (context menu), edit its name (a refused SQL
    keeps the form with the server's message), share and delete it; export the query with a
    parameter value chosen in the export form. Each step is checked through REST."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 1000})
    datasource = next(
        d for d in api(demo, "GET", "api/datasources")["items"] if d["name"] == "demo"
    )
    name = "Stores of a country <i>(tpl ui)</i>"
    query = api(demo, "POST", "api/query", {
        "name": name,
        "description": "Stores of one country",
        "datasource_id": datasource["id"],
        "sql": COUNTRY_SQL,
        "parameters": [{"name": "country", "type": "enum",
                        "options": ["France", "United Kingdom"], "default": "France"}],
        "tags": ["retail", "tpl"],
    })  # fmt: skip
    section = open_queries_section(page, demo.url, demo.server.token)
    section.get_by_test_id("queries-search").fill("tpl ui")
    expect(section.get_by_test_id("queries-row")).to_have_count(1, timeout=15_000)
    row = query_row(page, name)
    expect(row).to_be_visible()

    # -- export with a parameter: the form shows the default, the file holds the value's rows ----
    row.get_by_test_id("queries-export").click()
    page.locator(".lm-Menu .lm-Menu-item", has_text=re.compile(r"^CSV$")).click()
    form = section.get_by_test_id("queries-export-form")
    expect(form).to_be_visible()
    country = form.locator('[data-param="country"]')
    expect(country.locator("option:checked")).to_have_text("France")
    country.select_option(label="United Kingdom")
    focus_queries_section(page)
    page.screenshot(path=screenshots_dir / "panel-queries-export-form.png")
    with page.expect_download(timeout=60_000) as download_info:
        form.get_by_test_id("queries-form-submit").click()
    expect(form).to_have_count(0, timeout=15_000)
    download = download_info.value
    with Path(download.path()).open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    expected_uk = country_stores(demo, "United Kingdom")
    assert expected_uk
    assert expected_uk != country_stores(demo, "France")
    assert lines[0] == ["id", "name", "city", "country"]
    assert lines[1:] == expected_uk
    expect(section.get_by_test_id("queries-notice")).to_have_text(re.compile(r"^Downloaded "))

    # -- Save as Template… from the row's context menu -------------------------------------------
    row.click(button="right")
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(r"^Save as Template…$")).click()
    form = section.get_by_test_id("queries-save-template-form")
    expect(form).to_be_visible()
    expect(form.get_by_test_id("queries-form-name")).to_have_value(name)
    expect(form.get_by_test_id("queries-form-sql")).to_have_value(
        COUNTRY_SQL.replace(":country", "{{ country }}")
    )
    form.get_by_test_id("queries-form-submit").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(section.get_by_test_id("queries-notice")).to_have_text(f"Saved the template “{name}”.")
    expect(section.get_by_test_id("queries-tab-templates")).to_have_attribute(
        "aria-selected", "true"
    )
    listed = api(demo, "GET", "api/query/templates", q="tpl ui")["items"]
    assert len(listed) == 1, listed
    template = listed[0]
    assert template["name"] == name
    assert template["description"] == "Stores of one country"
    assert template["body"] == COUNTRY_SQL.replace(":country", "{{ country }}")
    assert template["parameters"][0]["name"] == "country"
    assert template["parameters"][0]["default"] == "France"
    assert template["tags"] == ["retail", "tpl"]
    assert template["permission"] == "manage"
    # The template renders back exactly the query's SQL.
    rendered = api(demo, "POST", f"api/query/templates/{template['id']}/render", {})
    assert rendered["sql"] == COUNTRY_SQL
    trow = template_row(page, name)
    expect(trow).to_be_visible(timeout=15_000)
    expect(trow.get_by_test_id("queries-template-name")).to_have_text(name)  # markup as text
    expect(trow.locator("i")).to_have_count(0)
    for action in ("use", "edit", "share", "delete"):
        expect(trow.get_by_test_id(f"queries-template-{action}")).to_be_visible()
    page.screenshot(path=screenshots_dir / "panel-queries-templates.png")

    # -- Edit: a refused SQL keeps the form with the server's message; then rename --------------
    trow.get_by_test_id("queries-template-edit").click()
    form = section.get_by_test_id("queries-edit-template-form")
    expect(form).to_be_visible()
    renamed = "Stores by country (tpl ui, edited)"
    form.get_by_test_id("queries-form-name").fill(renamed)
    form.get_by_test_id("queries-form-sql").fill("SELECT {{ nope }}")
    form.get_by_test_id("queries-form-submit").click()
    error = form.get_by_test_id("queries-form-error")
    expect(error).to_contain_text("'nope' is not a parameter of this template")
    expect(form.get_by_test_id("queries-form-name")).to_have_value(renamed)
    assert api(demo, "GET", f"api/query/templates/{template['id']}")["name"] == name
    form.get_by_test_id("queries-form-sql").fill(template["body"])
    form.get_by_test_id("queries-form-submit").click()
    expect(form).to_have_count(0, timeout=15_000)
    expect(section.get_by_test_id("queries-notice")).to_have_text(
        f"Saved the template “{renamed}”."
    )
    expect(template_row(page, renamed)).to_be_visible(timeout=15_000)
    section.get_by_test_id("queries-search").fill("")
    names = [t["name"] for t in api(demo, "GET", "api/query/templates")["items"]]
    assert renamed in names, names
    assert name not in names, names
    edited = api(demo, "GET", f"api/query/templates/{template['id']}")
    assert edited["body"] == template["body"]

    # -- Share opens the share dialog on the template --------------------------------------------
    template_row(page, renamed).get_by_test_id("queries-template-share").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Share “{renamed}”")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    # -- Delete (confirmed): gone from the list and the API --------------------------------------
    template_row(page, renamed).get_by_test_id("queries-template-delete").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Delete the template “{renamed}”?")
    dialog.get_by_role("button", name="Delete").click()
    expect(section.get_by_test_id("queries-notice")).to_have_text(
        f"Deleted the template “{renamed}”.", timeout=15_000
    )
    expect(template_row(page, renamed)).to_have_count(0)
    names = [t["name"] for t in api(demo, "GET", "api/query/templates")["items"]]
    assert renamed not in names
    assert api(demo, "GET", f"api/query/{query['id']}")["name"] == name  # the query stays
    assert page.errors == [], f"uncaught errors in the page: {page.errors}"

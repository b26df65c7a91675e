"""DatasourceBrowser against a real server and a real PostgreSQL shop database: datasources,
schemas, tables and views, columns with types and keys, a preview paged from the server, a
loading line while each level loads, and readable failures."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from analytics_ext import client as analytics
from analytics_ext.widgets import DatasourceBrowser
from analytics_ext.widgets.datasource_browser import quote_identifier
from tests.support.datasources import postgres_database
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.timeout(180)

ODD_TABLE = 'CREATE TABLE "odd ""name""" (id INTEGER PRIMARY KEY)'


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer) -> Iterator[dict]:
    from tests.support.datasources import SHOP_DDL

    ddl = [*SHOP_DDL, ODD_TABLE, 'INSERT INTO "odd ""name""" SELECT generate_series(1, 60)']
    with postgres_database(ddl) as url:
        body = {"name": f"browse-{time.monotonic_ns()}", "url": url}
        response = requests.post(
            f"{live_server.url}api/datasources", json=body, headers=live_server.auth_header
        )
        assert response.status_code == 201, response.text
        yield response.json()


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


def test_browse_datasource_schema_tables_and_columns(client, datasource: dict) -> None:
    browser = DatasourceBrowser(client)
    assert browser.wait(30)
    assert (datasource["name"], datasource["id"]) in browser._datasources.options
    assert browser.loading == ""

    seen: list[str] = []
    browser.observe(lambda change: seen.append(change["new"]), "loading")
    browser._datasources.value = datasource["id"]  # as a click on the list does
    assert browser.wait(30)
    assert seen[0] == "Loading schemas…"
    assert seen[-1] == ""
    assert browser.schema == "public"
    assert "public" in browser._schemas.options
    tables = dict(browser._tables.options)
    assert tables["big_orders (view)"] == "big_orders"
    assert {"customers", "orders", 'odd "name"'} <= set(tables.values())

    browser._tables.value = "orders"
    assert browser.table == "orders"
    columns = browser._columns.value
    fk = "<td>customer_id</td><td>INTEGER</td><td>no</td><td>FK → public.customers.id</td>"
    assert fk in columns
    assert "orders (table, about 2 rows)" in columns
    assert "<td>id</td><td>INTEGER</td><td>no</td><td>PK</td>" in columns
    assert "<td>total</td><td>NUMERIC(10, 2)</td><td>yes</td><td></td>" in columns
    assert browser._preview.disabled is False


def test_preview_pages_from_the_server(client, datasource: dict) -> None:
    browser = DatasourceBrowser(client, page_size=25)
    assert browser.wait(30)
    browser.select_datasource(datasource["name"])
    assert browser.wait(30)
    browser.preview("customers")
    assert browser.wait(30)
    assert browser.grid.total_rows == 2
    assert [row["name"] for row in browser.grid.rows] == ["Ada", "Grace"]

    browser.select_table('odd "name"')  # a name that needs quoting
    browser._preview.click()
    assert browser.wait(30)
    assert not browser.error
    assert browser.grid.total_rows == 60
    assert len(browser.grid.rows) == 25
    browser.grid.next()
    assert browser.wait(30)
    assert browser.grid.rows[0]["id"] == 26

    browser.preview_rows = 10
    browser.preview('odd "name"')
    assert browser.wait(30)
    assert browser.grid.total_rows == 10


def test_failures_are_readable(client, datasource: dict) -> None:
    browser = DatasourceBrowser(client)
    assert browser.wait(30)
    browser.select_datasource("A" * 22)  # no such datasource
    assert browser.wait(30)
    assert browser.error.startswith("Not found (or not shared with you)")
    assert "Not found" in browser._status.value
    with pytest.raises(KeyError):
        browser.select_table("no_such_table")

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    offline = DatasourceBrowser(analytics.connect(f"http://127.0.0.1:{closed}/", "token"))
    assert offline.wait(30)
    assert offline.error.startswith("Cannot reach the server at http://127.0.0.1:")
    assert offline.loading == ""


def test_identifiers_are_quoted_for_the_dialect() -> None:
    assert quote_identifier('odd "name"', "postgresql") == '"odd ""name"""'
    assert quote_identifier("odd `name`", "mysql") == "`odd ``name```"
    assert quote_identifier("a]b", "mssql") == "[a]]b]"

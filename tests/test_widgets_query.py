"""QueryEditor, open_query and the Save/Favorite/Share row against a real server and a real
PostgreSQL datasource: the live status of a run, the server's message for bad SQL, Cancel of a
pg_sleep that ends "cancelled" at once, a stopped server, a query the account may not see, typed
and ad-hoc parameter forms, saving versions — and the kernel stays usable throughout (Run
returns at once; no worker thread is left behind)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from analytics_ext import client as analytics
from analytics_ext.client import errors
from analytics_ext.widgets import QueryEditor, describe_error, open_query
from analytics_ext.widgets._parameter_form import placeholders
from tests.support.datasources import postgres_database
from tests.support.kernels import execute
from tests.support.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.timeout(180)

SLOW_THREE_ROWS = (
    "WITH slept AS MATERIALIZED (SELECT pg_sleep(1.2)) "
    "SELECT g AS n FROM generate_series(1, 3) AS g, slept"
)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def make_datasource(server: LiveServer, url: str) -> dict:
    body = {"name": f"editor-{time.monotonic_ns()}", "url": url}
    response = requests.post(f"{server.url}api/datasources", json=body, headers=server.auth_header)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def datasource(live_server: LiveServer, shop_url: str) -> dict:
    return make_datasource(live_server, shop_url)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[analytics.AnalyticsClient]:
    with analytics.connect(live_server.url, live_server.token) as connected:
        yield connected


def widget_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("analytics-widget")]


def ready(editor: QueryEditor) -> QueryEditor:
    assert editor.wait(30)
    return editor


def test_status_goes_queued_running_succeeded(client, datasource: dict) -> None:
    editor = ready(QueryEditor(client, sql=SLOW_THREE_ROWS, datasource=datasource["name"]))
    assert editor.datasource.value == datasource["id"]
    seen: list[str] = []
    editor.observe(lambda change: seen.append(change["new"]), "status")
    started = time.monotonic()
    editor._run.click()
    assert time.monotonic() - started < 0.5  # the click returned: the kernel is free
    assert editor._cancel.disabled is False
    assert editor._run.disabled is True
    assert editor.wait(30)
    assert seen[0] == "queued"
    assert "running" in seen
    assert seen[-1] == "succeeded"
    assert seen.index("running") > 0
    assert editor.rows == 3
    assert editor.elapsed >= 1.0
    assert editor._progress.value == 1.0
    assert editor._progress.bar_style == "success"
    assert editor._status_line.value.startswith("succeeded · 3 rows · ")
    assert editor.grid.total_rows == 3
    assert [row["n"] for row in editor.grid.rows] == [1, 2, 3]
    assert editor._run.disabled is False
    assert editor._cancel.disabled is True
    assert widget_threads() == []


def test_bad_sql_shows_the_servers_message(client, datasource: dict) -> None:
    editor = ready(
        QueryEditor(client, sql="SELECT * FROM no_such_table", datasource=datasource["id"])
    )
    editor.run()
    assert editor.wait(30)
    assert editor.status == "failed"
    assert editor.error.startswith("The query failed: ")
    assert 'relation "no_such_table" does not exist' in editor.error
    assert "no_such_table" in editor._message.value
    assert editor._progress.bar_style == "danger"
    assert editor.grid.total_rows == 0

    editor.sql.value = "DELETE FROM customers"  # refused before it runs (read-only)
    editor.run()
    assert editor.wait(30)
    assert editor.status == "error"
    assert "read-only" in editor.error or "read only" in editor.error
    editor.sql.value = "   "
    assert editor.run() is None
    assert editor.error == "Write a query first."


def test_cancel_during_pg_sleep_ends_cancelled(client, datasource: dict) -> None:
    editor = ready(QueryEditor(client, sql="SELECT pg_sleep(60)", datasource=datasource["id"]))
    editor.run()
    deadline = time.monotonic() + 15
    while editor.status != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert editor.status == "running"
    assert editor.run() is None  # one run at a time
    started = time.monotonic()
    editor._cancel.click()
    assert editor.wait(15)
    assert time.monotonic() - started < 10
    assert editor.status == "cancelled"
    assert editor.error == "Cancelled."
    assert client.get_run(editor.run_id).state == "cancelled"  # stopped on the server too
    assert widget_threads() == []
    assert client.query("SELECT 1 AS one", datasource["id"])["one"].tolist() == [1]


def test_a_run_past_its_timeout_is_cancelled(client, datasource: dict) -> None:
    editor = ready(
        QueryEditor(client, sql="SELECT pg_sleep(60)", datasource=datasource["id"], timeout=1.5)
    )
    editor.run()
    assert editor.wait(20)
    assert editor.status == "cancelled"
    assert editor.error.startswith("Timed out: ")
    assert "The run was cancelled." in editor.error
    assert client.get_run(editor.run_id).state == "cancelled"


def test_a_stopped_server_is_reported(tmp_path: Path, shop_url: str) -> None:
    with start_live_server(tmp_path) as server:
        made = make_datasource(server, shop_url)
        connected = analytics.connect(server.url, server.token, timeout=5)
        editor = ready(QueryEditor(connected, sql="SELECT 1 AS one", datasource=made["id"]))
        assert editor.datasource.value == made["id"]
    editor.run()  # the server is gone now
    assert editor.wait(30)
    assert editor.status == "error"
    assert "cannot reach the server" in editor.error.lower()
    assert editor.error.endswith("Is the server running?")
    assert widget_threads() == []


def test_a_query_the_account_may_not_see_is_readable(client, datasource: dict, live_server) -> None:
    editor = open_query("A" * 22, client)
    assert editor.wait(30)
    assert "Not found (or not shared with you): query not found." in editor._message.value

    saved = client.save_query(f"shared-{time.monotonic_ns()}", "SELECT 1 AS one", datasource["id"])
    link = client.share_query(saved["id"], link=True)
    guest = analytics.connect(live_server.url, link["token"])
    viewer = open_query(saved["id"], guest)
    assert viewer.wait(30)
    viewer.run()
    assert viewer.wait(30)
    assert viewer.status == "succeeded"
    viewer.sql.value = "SELECT 2 AS two"  # running edited SQL needs edit on the query
    viewer.run()
    assert viewer.wait(30)
    assert viewer.status == "error"
    assert viewer.error.startswith("Not found (or not shared with you)")
    assert describe_error(errors.PermissionDenied("you need the 'edit' permission", 403)) == (
        "Permission denied: you need the 'edit' permission."
    )


def test_open_query_fills_a_typed_form(client, datasource: dict) -> None:
    sql = (
        "SELECT :who AS who, :n + 1 AS n_plus_one, :day AS day, "
        ":period_start AS period_start, :period_end AS period_end, :region AS region"
    )
    parameters = [
        {"name": "who", "type": "text", "default": "Ada"},
        {"name": "n", "type": "number", "integer": True, "default": 41},
        {"name": "day", "type": "date", "default": "2026-01-31"},
        {"name": "period", "type": "date_range", "default": {"start": "today-7d", "end": "today"}},
        {"name": "region", "type": "enum", "options": ["EMEA", "APAC"], "default": "APAC"},
    ]
    saved = client.save_query(f"typed-{time.monotonic_ns()}", sql, datasource["id"], parameters)
    editor = open_query(saved["id"], client)
    assert editor.wait(30)
    assert editor.query_id == saved["id"]
    assert editor.sql.value == sql
    assert editor.datasource.value == datasource["id"]
    assert editor.form.names == ["who", "n", "day", "period", "region"]
    today = dt.datetime.now(dt.UTC).date()
    assert editor.form.values() == {
        "who": "Ada",
        "n": 41,
        "day": "2026-01-31",
        "period": {"start": (today - dt.timedelta(days=7)).isoformat(), "end": today.isoformat()},
        "region": "APAC",
    }
    assert editor.library.name.value == saved["name"]
    editor.run()
    assert editor.wait(30)
    assert editor.status == "succeeded", editor.error
    row = editor.grid.rows[0]
    assert (row["who"], row["n_plus_one"], row["region"]) == ("Ada", 42, "APAC")

    editor.form.set_values({"who": "Grace", "n": 1, "region": "EMEA"})
    editor.run()
    assert editor.wait(30)
    row = editor.grid.rows[0]
    assert (row["who"], row["n_plus_one"], row["region"]) == ("Grace", 2, "EMEA")

    editor.form.set_values({"n": "many"})
    assert editor.run() is None
    assert editor.status == "error"
    assert editor.error == "n: 'many' is not a number"

    overridden = open_query(saved["id"], client, parameters={"who": "Linus"})
    assert overridden.wait(30)
    assert overridden.form.values()["who"] == "Linus"


def test_ad_hoc_placeholders_become_the_form(client, datasource: dict) -> None:
    sql = "SELECT name, :note AS note FROM customers WHERE id = :id AND ':x' <> '1'::text -- :y"
    assert placeholders(sql) == ["note", "id"]
    editor = ready(QueryEditor(client, sql=sql, datasource=datasource["id"]))
    assert editor.form.names == ["note", "id"]
    editor.form.set_values({"id": 2, "note": "'; DROP TABLE customers; --"})
    editor.run()
    assert editor.wait(30)
    assert editor.status == "succeeded", editor.error
    assert editor.grid.rows == [{"name": "Grace", "note": "'; DROP TABLE customers; --"}]
    editor.sql.value = "SELECT :id AS id, :other AS other"
    assert editor.form.names == ["id", "other"]
    assert editor.form.values() == {"id": 2}  # the value typed for :id is kept


def test_save_versions_favorite_and_share(client, datasource: dict) -> None:
    editor = ready(QueryEditor(client, sql="SELECT :n AS n", datasource=datasource["id"]))
    editor.form.set_values({"n": 5})
    editor.library.save()
    assert editor.wait(30)
    assert editor.library.message == "give the query a name first"
    name = f"saved-{time.monotonic_ns()}"
    editor.library.name.value = name
    editor.library._save.click()
    assert editor.wait(30)
    assert editor.library.message == f"Saved {name!r}, version 1."
    query_id = editor.query_id
    saved = client.saved_query(query_id)
    assert saved["parameters"] == [
        {"name": "n", "type": "number", "default": 5, "label": "", "description": "",
         "required": False, "integer": False, "minimum": None, "maximum": None},
    ]  # fmt: skip

    editor.sql.value = "SELECT :n * 2 AS n"
    editor.library._save.click()
    assert editor.wait(30)
    assert (editor.query_id, editor.library.version) == (query_id, 2)
    assert client.saved_query(query_id)["sql"] == "SELECT :n * 2 AS n"

    client.update_query(query_id, name=name + " (theirs)")  # someone else saves meanwhile
    editor.library.save()
    assert editor.wait(30)
    assert "Someone saved a newer version" in editor.library.message
    editor.library._save_new.click()
    assert editor.wait(30)
    assert editor.query_id != query_id
    assert editor.library.version == 1

    editor.library._favorite.click()
    assert editor.wait(30)
    assert editor.library.favorite is True
    assert editor.query_id in {f["object_id"] for f in client.favorites()}
    editor.library.toggle_favorite()
    assert editor.wait(30)
    assert editor.library.favorite is False

    editor.library.share_link()
    assert editor.wait(30)
    assert "share_token=ael_" in editor.library.message
    editor.library.share("B" * 22, "edit")
    assert editor.wait(30)
    assert editor.library.message.startswith("Not found")
    assert widget_threads() == []


def test_the_editor_in_a_kernel_the_server_started(
    live_server: LiveServer, datasource: dict
) -> None:
    """In a real kernel: no arguments (the kernel's URL and token), Cancel from the shell while
    the worker thread polls, then a run whose page reaches the grid."""
    headers = live_server.auth_header
    response = requests.post(
        f"{live_server.url}api/kernels", json={"name": "python3"}, headers=headers, timeout=30
    )
    assert response.status_code == 201, response.text
    kernel = response.json()["id"]
    code = f"""
import threading, time
from analytics_ext import widgets
editor = widgets.QueryEditor(sql="SELECT pg_sleep(30)", datasource={datasource["name"]!r})
assert editor.wait(30)
editor.run()
started = time.monotonic()
while editor.status != "running" and time.monotonic() - started < 15:
    time.sleep(0.05)
editor.cancel()
assert editor.wait(15)
print(editor.status)
editor.sql.value = "SELECT 41 + 1 AS answer"
editor.run()
assert editor.wait(30)
print(editor.status, editor.grid.rows)
print(sorted(t.name for t in threading.enumerate() if t.name.startswith("analytics-widget")))
"""
    port = int(live_server.url.split(":")[2].split("/")[0])
    try:
        output = asyncio.run(execute(port, "/", kernel, f"token {live_server.token}", code))
    finally:
        requests.delete(f"{live_server.url}api/kernels/{kernel}", headers=headers, timeout=30)
    assert output.splitlines() == ["cancelled", "succeeded [{'answer': 42}]", "[]"]

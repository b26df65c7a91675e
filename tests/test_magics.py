"""``%%analytics`` in a real IPython shell against a live server on the demo data: results as
DataFrames equal to the database's own answer, notebook variables bound (never spliced), and one
readable line for every failure, after which the shell keeps working."""

from __future__ import annotations

import _thread
import datetime as dt
import threading
import time
from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd
import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell

from analytics_ext.client import connect
from analytics_ext.magics import AnalyticsMagicError, bindable
from tests.support.demo_server import DemoServer, start_demo_server
from tests.support.live_server import free_port

pytestmark = pytest.mark.timeout(180)

SLOW_SQL = (
    "SELECT sum(hash(a.line_total * b.quantity + c.id)) AS h "
    "FROM order_lines a, order_lines b, stores c"
)
"""Tens of seconds in DuckDB at the test scale: long enough to time out or interrupt."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with start_demo_server(tmp_path_factory.mktemp("magics")) as server:
        yield server


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "analytics_ext")
    return ipython


@pytest.fixture(autouse=True)
def kernel_env(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a kernel outside the server has: the server's URL and an API key."""
    monkeypatch.delenv("ANALYTICS_EXT_TOKEN", raising=False)
    for name, value in demo.client_env().items():
        monkeypatch.setenv(name, value)


def direct(demo: DemoServer, sql: str, *parameters: object) -> pd.DataFrame:
    """The database's own answer, read-only and outside the server."""
    connection = duckdb.connect(str(demo.duckdb_path), read_only=True)
    try:
        return connection.execute(sql, list(parameters)).df()
    finally:
        connection.close()


def run(shell: InteractiveShell, source: str, **variables: object):
    shell.user_ns.update(variables)
    return shell.run_cell(source, store_history=False)


def failure(
    shell: InteractiveShell, capsys: pytest.CaptureFixture, source: str, **variables
) -> str:
    """The one line a failing cell prints (no traceback), after checking the shell survived."""
    capsys.readouterr()
    result = run(shell, source, **variables)
    assert isinstance(result.error_in_exec, AnalyticsMagicError), result.error_in_exec
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("UsageError: ")
    assert err.count("\n") == 1, err
    assert run(shell, "1 + 1").result == 2  # the shell goes on
    return err.removeprefix("UsageError: ").strip()


# -- results ---------------------------------------------------------------------------------------


def test_runs_the_cell_on_the_named_datasource_with_a_bound_variable(shell, demo):
    result = run(
        shell,
        "%%analytics demo\nSELECT id, name, city FROM stores WHERE country = :country ORDER BY id",
        country="Germany",
    )
    assert result.error_in_exec is None, result.error_in_exec
    frame = result.result
    expected = direct(
        demo, "SELECT id, name, city FROM stores WHERE country = ? ORDER BY id", "Germany"
    )
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    assert frame.attrs["run_id"]


def test_a_variable_holding_sql_is_compared_as_text_never_spliced(shell, demo):
    sql = "%%analytics demo\nSELECT count(*) AS n FROM stores WHERE country = :country"
    assert run(shell, sql, country="Germany' OR '1'='1").result["n"].tolist() == [0]
    assert run(shell, sql, country="Germany").result["n"].tolist() == [
        direct(demo, "SELECT count(*) FROM stores WHERE country = 'Germany'").iat[0, 0]
    ]


def test_out_stores_the_frame_and_quiet_returns_nothing(shell):
    result = run(shell, "%%analytics demo -o currencies -q\nSELECT * FROM currencies ORDER BY 1")
    assert result.error_in_exec is None
    assert result.result is None
    assert len(shell.user_ns["currencies"]) == 4
    shown = run(shell, "%%analytics demo --out one\nSELECT 1 AS x").result
    assert shown is shell.user_ns["one"]


def test_dates_and_numpy_scalars_are_bound(shell, demo):
    day = dt.date(2024, 3, 5)
    sql = "SELECT count(*) AS n FROM orders WHERE order_date = :day AND store_id > :floor"
    got = run(shell, f"%%analytics demo\n{sql}", day=day, floor=np.int64(3)).result
    want = direct(demo, sql.replace(":day", "?").replace(":floor", "?"), day, 3)
    assert got["n"].tolist() == want.iloc[:, 0].tolist()
    assert got["n"].iat[0] > 0


def test_colons_in_strings_comments_and_casts_are_not_parameters(shell):
    source = "%%analytics demo\nSELECT ':nothing' AS s, '1'::INTEGER AS one -- :neither\n"
    result = run(shell, source)
    assert result.error_in_exec is None, result.error_in_exec
    assert result.result.to_dict("records") == [{"s": ":nothing", "one": 1}]
    assert "nothing" not in shell.user_ns


def test_row_limit_caps_the_rows_and_warns(shell, demo):
    with pytest.warns(UserWarning, match="cut at 7 rows"):
        result = run(shell, "%%analytics demo --row-limit 7\nSELECT * FROM order_lines")
    assert len(result.result) == 7


def test_an_explicit_client_variable(shell, demo, monkeypatch):
    monkeypatch.delenv("ANALYTICS_EXT_URL")  # connect() alone would fail now
    client = connect(demo.url, demo.api_key)
    result = run(shell, "%%analytics demo --client analytics\nSELECT 2 AS two", analytics=client)
    assert result.result["two"].tolist() == [2]


# -- readable failures -----------------------------------------------------------------------------


def test_a_missing_variable_is_named(shell, capsys):
    shell.user_ns.pop("region", None)
    message = failure(
        shell, capsys, "%%analytics demo\nSELECT * FROM stores WHERE region = :region"
    )
    assert message == "the notebook variable `region` (for :region) is not defined"


def test_a_value_that_cannot_be_bound_is_refused_by_name(shell, capsys):
    message = failure(
        shell, capsys, "%%analytics demo\nSELECT * FROM stores WHERE id = :ids", ids=[1, 2]
    )
    assert message.startswith("`ids` holds a list")


def test_a_failed_query_shows_the_database_message(shell, capsys):
    message = failure(shell, capsys, "%%analytics demo\nSELECT * FROM no_such_table")
    assert message.startswith("the query failed on datasource 'demo'")
    assert "no_such_table" in message


def test_a_write_is_refused_on_the_read_only_demo(shell, capsys, demo):
    message = failure(shell, capsys, "%%analytics demo\nDELETE FROM stores")
    assert "datasource 'demo'" in message
    assert len(direct(demo, "SELECT * FROM stores")) > 0


def test_an_unknown_datasource(shell, capsys):
    message = failure(shell, capsys, "%%analytics nowhere\nSELECT 1")
    assert (
        message == "datasource 'nowhere': no datasource named 'nowhere' that this account may see"
    )


def test_usage_mistakes(shell, capsys):
    assert "the cell holds no SQL" in failure(shell, capsys, "%%analytics demo\n  \n")
    assert "datasource" in failure(shell, capsys, "%%analytics\nSELECT 1")
    assert "not a valid variable name" in failure(shell, capsys, "%%analytics demo -o 1x\nSELECT 1")
    assert "not a valid variable name" in failure(
        shell, capsys, "%%analytics demo -o class\nSELECT 1"
    )
    assert "--row-limit" in failure(shell, capsys, "%%analytics demo --row-limit 0\nSELECT 1")


def test_a_lost_server_is_one_line(shell, capsys, monkeypatch):
    monkeypatch.setenv("ANALYTICS_EXT_URL", f"http://127.0.0.1:{free_port()}/")
    message = failure(shell, capsys, "%%analytics demo\nSELECT 1")
    assert message.startswith(
        "lost the analytics server (cannot reach the server at http://127.0.0.1:"
    )


def test_bad_credentials_are_one_line(shell, capsys, monkeypatch):
    monkeypatch.setenv("ANALYTICS_EXT_API_KEY", "aek_" + "x" * 56)
    message = failure(shell, capsys, "%%analytics demo\nSELECT 1")
    assert message.startswith("the server refused this kernel's credentials")


def latest_run(demo: DemoServer) -> dict:
    history = requests.get(
        f"{demo.url}api/query/history", params={"limit": 1}, headers=demo.server.auth_header,
        timeout=10,
    )  # fmt: skip
    return history.json()["items"][0]


def ends_cancelled(demo: DemoServer, within: float = 10) -> bool:
    """The last run reaches ``cancelled`` (the engine records it once the database stopped)."""
    deadline = time.monotonic() + within
    while latest_run(demo)["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    return latest_run(demo)["state"] == "cancelled"


def test_a_run_past_its_timeout_is_cancelled_on_the_server(shell, capsys, demo):
    started = time.monotonic()
    message = failure(shell, capsys, f"%%analytics demo --timeout 1\n{SLOW_SQL}")
    assert message.startswith("the query ran longer than 1 s and was cancelled")
    assert time.monotonic() - started < 15
    assert ends_cancelled(demo)


def test_interrupting_the_kernel_cancels_the_run(shell, capsys, demo):
    """What the notebook's stop button does: SIGINT while the magic waits."""

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run_state = latest_run(demo)
            if run_state["sql"] == SLOW_SQL and run_state["state"] in ("queued", "running"):
                _thread.interrupt_main()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=interrupt_once_running)
    watcher.start()
    try:
        message = failure(shell, capsys, f"%%analytics demo\n{SLOW_SQL}")
    finally:
        watcher.join()
    assert message == "interrupted: the query was cancelled"
    assert ends_cancelled(demo)


def test_bindable_refuses_what_json_cannot_carry():
    assert bindable("x", np.float64(1.5)) == 1.5
    assert bindable("x", pd.Timestamp("2024-01-02 03:04:05")) == "2024-01-02T03:04:05"
    assert bindable("x", dt.time(12, 30)) == "12:30:00"
    with pytest.raises(AnalyticsMagicError, match="only finite numbers"):
        bindable("x", float("nan"))
    with pytest.raises(AnalyticsMagicError, match="holds a DataFrame"):
        bindable("x", pd.DataFrame())


# -- in a kernel the server started: no URL, no key, the kernel's own token ------------------------


async def test_the_magic_in_a_server_kernel_needs_no_credentials(demo):
    """The kernel has only what the server gave it (its URL and token), as in JupyterLab."""
    from urllib.parse import urlsplit

    import httpx

    from tests.support.kernels import execute

    headers = demo.server.auth_header
    port, auth = urlsplit(demo.url).port, headers["Authorization"]
    async with httpx.AsyncClient(base_url=demo.url, headers=headers, timeout=60) as http:
        started = await http.post("api/kernels", json={"name": "python3"})
        assert started.status_code == 201, started.text
        kernel = started.json()["id"]

        async def run_code(code: str) -> str:
            return (await execute(port, "/", kernel, auth, code)).strip()

        try:
            names = "sorted(k for k in os.environ if k.startswith('ANALYTICS_EXT'))"
            printed = await run_code(f"%load_ext analytics_ext\nimport os\nprint({names})")
            assert printed == "['ANALYTICS_EXT_TOKEN', 'ANALYTICS_EXT_URL']"
            await run_code("country = 'Germany'")
            cell = "SELECT count(*) AS n FROM stores WHERE country = :country"
            await run_code(f"%%analytics demo -o counted -q\n{cell}")
            expected = direct(demo, "SELECT count(*) FROM stores WHERE country = 'Germany'")
            assert int(await run_code("print(int(counted.n[0]))")) == expected.iat[0, 0]
            # One line on stderr (no traceback; the cell still ends in error for "Run all").
            assert await run_code("%%analytics demo\nSELECT :nowhere") == (
                "UsageError: the notebook variable `nowhere` (for :nowhere) is not defined"
            )
            assert await run_code("print(1 + 1)") == "2"  # the kernel goes on
        finally:
            await http.delete(f"api/kernels/{kernel}")

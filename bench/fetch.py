"""SQL → pandas DataFrame from local PostgreSQL: the query engine against the usual readers.

    .venv/bin/python bench/fetch.py [--rows 1000000] [--repeat 3]

Creates a fresh database with ``--rows`` rows x 10 mixed columns (integers, floats, text,
timestamps, NULLs), then runs every contender ``--repeat`` times, each run in a fresh
subprocess so its peak memory is its own:

- ``read_sql``: ``pandas.read_sql`` over SQLAlchemy (psycopg)
- ``adbc``: ``adbc_driver_postgresql`` ``fetch_arrow_table().to_pandas()``
- ``connectorx``: ``connectorx.read_sql(..., return_type="arrow").to_pandas()``
- ``copy drain``: psycopg reading ``COPY (query) TO STDOUT (FORMAT binary)`` and discarding it —
  the ceiling on how fast the rows can leave the server
- ``engine``: ``QueryEngine.submit`` (cache bypassed) → Arrow result → ``to_pandas()``, in-process

Every clock starts before the contender connects (the engine opens its own connections per
run, so the readers pay for theirs too) and stops when the DataFrame exists. Ratios use medians;
memory is the peak RSS growth during the fetch (``ru_maxrss`` after minus RSS before, drivers
already imported), compared with ADBC's. The engine run also reports a cached repeat (time to
a finished run, against the uncached run's) and how many statements 8 identical concurrent runs
sent.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
QUERY = "SELECT * FROM bench_rows"
CONTENDERS = ("read_sql", "adbc", "connectorx", "copy drain", "engine")
PAGE_ROWS = 100_000
JUPYSQL_PACKAGES = ("jupysql", "ipython", "psycopg[binary]", "pandas")

CREATE = """
CREATE TABLE bench_rows AS
SELECT
    i::int8 AS id,
    (i % 1000)::int4 AS qty,
    CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 97)::int8 END AS maybe_int,
    (i * 0.25)::float8 AS amount,
    CASE WHEN i % 7 = 0 THEN NULL ELSE random() END AS ratio,
    'customer-' || (i % 50000) AS name,
    (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4] AS region,
    CASE WHEN i % 5 = 0 THEN NULL ELSE md5(i::text) END AS note,
    timestamp '2024-01-01' + i * interval '17 seconds' AS created,
    CASE WHEN i % 3 = 0 THEN NULL
         ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' END AS updated
FROM generate_series(1, {rows}) AS i
"""


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- one contender, in a subprocess ----------------------------------------------------------------


def run_contender(name: str, url: str) -> dict:
    import pandas as pd  # noqa: F401 -- every contender pays for pandas before the clock starts
    import pyarrow as pa  # noqa: F401

    extra: dict = {}
    if name == "read_sql":
        import pandas
        from sqlalchemy import create_engine

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        before = rss_bytes()
        started = time.perf_counter()
        frame = pandas.read_sql(QUERY, engine)
        seconds = time.perf_counter() - started
        rows = len(frame)
    elif name == "adbc":
        import adbc_driver_postgresql.dbapi as adbc

        before = rss_bytes()
        started = time.perf_counter()
        connection = adbc.connect(url)
        cursor = connection.cursor()
        cursor.execute(QUERY)
        frame = cursor.fetch_arrow_table().to_pandas()
        seconds = time.perf_counter() - started
        rows = len(frame)
    elif name == "connectorx":
        import connectorx

        before = rss_bytes()
        started = time.perf_counter()
        frame = connectorx.read_sql(url, QUERY, return_type="arrow").to_pandas()
        seconds = time.perf_counter() - started
        rows = len(frame)
    elif name == "copy drain":
        import psycopg

        before = rss_bytes()
        started = time.perf_counter()
        connection = psycopg.connect(url)
        size = 0
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY ({QUERY}) TO STDOUT (FORMAT binary)") as copy,
        ):
            for block in copy:
                size += len(block)
        seconds = time.perf_counter() - started
        rows = -1
        extra["bytes"] = size
    elif name == "engine":
        seconds, rows, before, extra = run_engine(url)
    elif name == "rest arrow":
        seconds, rows, before = run_rest(url)
    else:
        raise SystemExit(f"unknown contender {name}")
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_growth": max(0, peak_bytes() - before),
        "peak_rss": peak_bytes(),
        **extra,
    }


def run_engine(url: str) -> tuple[float, int, int, dict]:
    from concurrent.futures import wait

    import adbc_driver_postgresql.dbapi  # noqa: F401 -- loaded before the clock, as for "adbc"
    from sqlalchemy.engine import make_url

    from analytics_ext.engine.runs import QueryEngine
    from analytics_ext.engine.spec import SourceSpec

    engine = QueryEngine(workers=8, per_user_limit=16, memory_budget_bytes=8 << 30)
    spec = SourceSpec(id="bench", url=make_url(url), cache_ttl_seconds=600)
    try:
        before = rss_bytes()
        started = time.perf_counter()
        run = engine.submit("bench", spec, QUERY, bypass_cache=True).future.result()
        assert run.result is not None, run.error
        frame = run.result.to_table().to_pandas()
        seconds = time.perf_counter() - started
        rows = len(frame)
        growth = peak_bytes() - before
        uncached_run = run.elapsed_seconds
        del frame
        cached = engine.submit("bench", spec, QUERY).future.result()
        assert cached.cached
        engine.invalidate(spec.id)
        executions_before = engine.executions
        burst = [engine.submit(f"user{i}", spec, QUERY) for i in range(8)]
        wait([b.future for b in burst])
        extra = {
            "uncached_run": uncached_run,
            "cached_run": cached.elapsed_seconds,
            "burst_executions": engine.executions - executions_before,
            "burst_ok": all(b.state.value == "succeeded" for b in burst),
            "growth_override": growth,
        }
        return seconds, rows, before, extra
    finally:
        engine.close()


def run_rest(target: str) -> tuple[float, int, int]:
    """What a notebook does: run through the REST API, read the result as Arrow IPC, DataFrame.

    ``target`` is ``<server url>|<token>|<datasource id>``.
    """
    import httpx
    import pyarrow as pa

    server, token, datasource = target.split("|")
    client = httpx.Client(base_url=server, headers={"Authorization": f"token {token}"}, timeout=600)
    before = rss_bytes()
    started = time.perf_counter()
    body = {"datasource_id": datasource, "sql": QUERY, "bypass_cache": True, "row_limit": 10**7}
    run = client.post("api/query/run", json=body).raise_for_status().json()
    while run["state"] in ("queued", "running"):
        time.sleep(0.005)
        run = client.get(f"api/query/runs/{run['id']}").raise_for_status().json()
    if run["state"] != "succeeded":
        raise SystemExit(f"run {run['state']}: {run['error']}")
    tables = []
    for offset in range(0, run["rows"], PAGE_ROWS):  # the API's largest page
        reply = client.get(
            f"api/query/runs/{run['id']}/result",
            params={"format": "arrow", "offset": offset, "limit": PAGE_ROWS},
        ).raise_for_status()
        tables.append(pa.ipc.open_stream(reply.content).read_all())
    frame = pa.concat_tables(tables).to_pandas()
    return time.perf_counter() - started, len(frame), before


JUPYSQL_SCRIPT = """
import json, os, resource, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "sql")
shell.run_line_magic("config", "SqlMagic.autopandas = True")
shell.run_line_magic("config", "SqlMagic.displaylimit = 0")
url = sys.argv[1].replace("postgresql://", "postgresql+psycopg://")
started = time.perf_counter()
frame = shell.run_line_magic("sql", url + " " + sys.argv[2])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": len(frame), "peak_growth": 0,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def jupysql_python() -> Path:
    """A separate venv with JupySQL (kept out of the project's venv: its server extension and
    labextension would load into every Jupyter server there). Made once, then reused."""
    import tempfile

    venv = Path(os.environ.get("BENCH_JUPYSQL_VENV", Path(tempfile.gettempdir()) / "jupysql-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *JUPYSQL_PACKAGES],
            check=True,
        )
    return python


def measure_jupysql(python: Path, url: str) -> dict:
    done = subprocess.run(
        [str(python), "-c", JUPYSQL_SCRIPT, url, QUERY],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PLOOMBER_STATS_ENABLED": "false"},  # no telemetry calls
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])  # JupySQL prints "Closing <url>" after us, at exit


def end_to_end(url: str, rows: int, repeat: int) -> None:
    """REST → Arrow IPC → DataFrame (a server subprocess) against JupySQL's ``%sql``."""
    import tempfile

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.support.live_server import start_live_server

    python = jupysql_python()
    with (
        tempfile.TemporaryDirectory(prefix="bench-fetch-") as workdir,
        start_live_server(Path(workdir)) as server,
    ):
        created = httpx.post(
            f"{server.url}api/datasources",
            headers=server.auth_header,
            json={
                "name": "bench",
                "url": url.replace("postgresql://", "postgresql+psycopg://"),
                "options": {"row_limit": 10**7, "timeout_seconds": 600},
            },
        ).raise_for_status()
        target = f"{server.url}|{server.token}|{created.json()['id']}"
        results: dict[str, list[dict]] = {"rest arrow": [], "jupysql": []}
        for _ in range(repeat):
            results["rest arrow"].append(measure("rest arrow", target))
            results["jupysql"].append(measure_jupysql(python, url))
    seconds = {
        name: statistics.median(r["seconds"] for r in runs) for name, runs in results.items()
    }
    print(f"\n{'end to end':<14}{'median s':>10}{'rows/s':>14}")
    for name, value in seconds.items():
        print(f"{name:<14}{value:>10.3f}{rows / value:>14,.0f}")
    ratio = seconds["jupysql"] / seconds["rest arrow"]
    print(
        f"{'REST + Arrow IPC vs JupySQL %sql':<46}{ratio:>7.2f}x  target ≥ 4.00x  "
        f"{verdict(ratio >= 4.0)}"
    )


# -- the driver ------------------------------------------------------------------------------------


def create_database(rows: int) -> tuple[str, str]:
    import psycopg

    name = f"analytics_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(CREATE.replace("{rows}", str(int(rows))))
            connection.execute("VACUUM ANALYZE bench_rows")
            size = connection.execute(
                "SELECT pg_size_pretty(pg_table_size('bench_rows'))"
            ).fetchone()
    except BaseException:
        drop_database(name)
        raise
    print(f"database {name}: {rows:,} rows x 10 columns, table {size[0] if size else '?'}")
    return name, url


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(name: str, url: str) -> dict:
    script = Path(__file__).resolve()
    done = subprocess.run(
        [sys.executable, str(script), "--contender", name, "--url", url],
        check=True,
        capture_output=True,
        text=True,
        cwd=script.parent.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time REST → Arrow IPC → DataFrame against JupySQL (a server subprocess and a "
        "separate venv with jupysql, made once under the temp folder)",
    )
    parser.add_argument("--contender", choices=(*CONTENDERS, "rest arrow"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args.url)))
        return

    name, url = create_database(args.rows)
    try:
        results: dict[str, list[dict]] = {contender: [] for contender in CONTENDERS}
        for round_ in range(args.repeat):
            for contender in CONTENDERS:  # interleaved, so drift hits every contender alike
                results[contender].append(measure(contender, url))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
        report(results, args.rows)
        if args.end_to_end:
            end_to_end(url, args.rows, args.repeat)
    finally:
        drop_database(name)


def report(results: dict[str, list[dict]], rows: int) -> None:
    """The engine figures: medians, rows/s, memory, and each target's PASS/MISS."""

    def median(contender: str, key: str) -> float:
        return statistics.median(r[key] for r in results[contender])

    seconds = {c: median(c, "seconds") for c in CONTENDERS}
    growth = {c: median(c, "peak_growth") for c in CONTENDERS}
    growth["engine"] = median("engine", "growth_override")
    print(f"\n{'contender':<14}{'median s':>10}{'rows/s':>14}{'peak +MB':>10}{'peak RSS MB':>13}")
    for contender in CONTENDERS:
        rate = rows / seconds[contender]
        peak = median(contender, "peak_rss") / 1e6
        print(
            f"{contender:<14}{seconds[contender]:>10.3f}{rate:>14,.0f}"
            f"{growth[contender] / 1e6:>10.0f}{peak:>13.0f}"
        )
    best_name = min(("adbc", "connectorx"), key=lambda c: seconds[c])
    engine = seconds["engine"]
    checks = [
        ("engine vs read_sql (speed-up)", seconds["read_sql"] / engine, 5.0),
        (f"engine vs best Arrow reader ({best_name})", seconds[best_name] / engine, 1.0),
        ("engine throughput vs COPY drain", seconds["copy drain"] / engine, 0.5),
    ]
    print()
    for label, ratio, target in checks:
        print(f"{label:<46}{ratio:>7.2f}x  target ≥ {target:.2f}x  {verdict(ratio >= target)}")
    memory = growth["engine"] / growth["adbc"]
    print(
        f"{'engine peak memory vs ADBC':<46}{memory:>7.2f}x  target ≤ 1.10x  "
        f"{verdict(memory <= 1.10)}"
    )
    cached = median("engine", "cached_run") / median("engine", "uncached_run")
    print(
        f"{'cached repeat vs uncached run':<46}{cached:>7.3f}x  target ≤ 0.05x  "
        f"{verdict(cached <= 0.05)}"
    )
    bursts = [r["burst_executions"] for r in results["engine"]]
    ok = all(b == 1 for b in bursts) and all(r["burst_ok"] for r in results["engine"])
    print(
        f"{'8 identical concurrent runs: statements sent':<46}{max(bursts):>7d}   "
        f"target = 1      {verdict(ok)}"
    )


if __name__ == "__main__":
    main()

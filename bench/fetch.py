"""SQL → pandas DataFrame from local PostgreSQL: the query engine against the usual readers.

    .venv/bin/python bench/fetch.py [--rows 1000000] [--repeat 3]

Creates a fresh database with ``--rows`` rows x 10 mixed columns (integers, floats, text,
timestamps, NULLs), then runs every contender ``--repeat`` times, each time in a fresh
subprocess (so its peak memory is its own) that fetches twice: *cold*, the first run in the
process (first connection, first use of the driver and of pandas), and *warm*, a second run in
the same process (what a long-lived server or notebook sees after its first query). Both are
printed and both are checked against the targets:

- ``read_sql``: ``pandas.read_sql`` over SQLAlchemy (psycopg)
- ``adbc``: ``adbc_driver_postgresql`` ``fetch_arrow_table().to_pandas()``
- ``connectorx``: ``connectorx.read_sql(..., return_type="arrow").to_pandas()``
- ``copy drain``: psycopg reading ``COPY (query) TO STDOUT (FORMAT binary)`` and discarding it —
  the ceiling on how fast the rows can leave the server
- ``engine``: ``QueryEngine.submit`` (cache bypassed) → Arrow result → ``to_pandas()``, in-process

Every clock starts before the contender connects (the engine opens its own connections per
run, so the readers pay for theirs too, warm as well as cold) and stops when the DataFrame
exists. Ratios use medians; memory is the peak RSS growth during the cold fetch (``ru_maxrss``
after minus RSS before, drivers already imported), compared with ADBC's. The engine run also
reports a cached repeat (time to a finished run, against the warm uncached run's) and how many
statements 8 identical concurrent runs sent.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    """Two runs of one contender in this fresh process: *cold* (the first: first connection,
    first-use costs of the drivers and of pandas) and *warm* (the second, as a long-lived
    server or notebook sees every query after its first). Each run starts its clock before it
    connects (read_sql's SQLAlchemy pool hands its warm run the cold run's connection: its
    own default behaviour, and no help to the engine). Peak memory is the cold run's."""
    import pandas as pd  # noqa: F401 -- every contender pays for pandas before the clock starts
    import pyarrow as pa  # noqa: F401

    extra: dict = {}
    engine = None
    if name == "read_sql":
        import pandas
        from sqlalchemy import create_engine

        alchemy = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

        def once() -> int:
            return len(pandas.read_sql(QUERY, alchemy))

    elif name == "adbc":
        import adbc_driver_postgresql.dbapi as adbc

        def once() -> int:
            with adbc.connect(url) as connection, connection.cursor() as cursor:
                cursor.execute(QUERY)
                return len(cursor.fetch_arrow_table().to_pandas())

    elif name == "connectorx":
        import connectorx

        def once() -> int:
            return len(connectorx.read_sql(url, QUERY, return_type="arrow").to_pandas())

    elif name == "copy drain":
        import psycopg

        def once() -> int:
            size = 0
            with (
                psycopg.connect(url) as connection,
                connection.cursor() as cursor,
                cursor.copy(f"COPY ({QUERY}) TO STDOUT (FORMAT binary)") as copy,
            ):
                for block in copy:
                    size += len(block)
            extra["bytes"] = size
            return -1

    elif name == "engine":
        engine, spec, once, engine_elapsed = engine_contender(url)
    elif name == "rest arrow":
        once = rest_contender(url)
    else:
        raise SystemExit(f"unknown contender {name}")
    try:
        before = rss_bytes()
        started = time.perf_counter()
        rows = once()
        cold = time.perf_counter() - started
        growth = max(0, peak_bytes() - before)
        started = time.perf_counter()
        warm_rows = once()
        warm = time.perf_counter() - started
        assert warm_rows == rows, (warm_rows, rows)
        if engine is not None:
            extra.update(engine_extras(engine, spec, engine_elapsed[-1]))
    finally:
        if engine is not None:
            engine.close()
    return {
        "seconds": cold,
        "warm_seconds": warm,
        "rows": rows,
        "peak_growth": growth,
        "peak_rss": peak_bytes(),
        **extra,
    }


def engine_contender(url: str) -> tuple[Any, Any, Callable[[], int], list[float]]:
    """``QueryEngine.submit`` (cache bypassed) → Arrow result → DataFrame, in-process; also
    the list each run appends its own elapsed time (submit → finished run) to."""
    import adbc_driver_postgresql.dbapi  # noqa: F401 -- loaded before the clock, as for "adbc"
    from sqlalchemy.engine import make_url

    from analytics_ext.engine.runs import QueryEngine
    from analytics_ext.engine.spec import SourceSpec

    engine = QueryEngine(workers=8, per_user_limit=16, memory_budget_bytes=8 << 30)
    spec = SourceSpec(id="bench", url=make_url(url), cache_ttl_seconds=600)

    elapsed: list[float] = []

    def once() -> int:
        run = engine.submit("bench", spec, QUERY, bypass_cache=True).future.result()
        assert run.result is not None, run.error
        elapsed.append(run.elapsed_seconds)
        return len(run.result.to_table().to_pandas())

    return engine, spec, once, elapsed


def engine_extras(engine: Any, spec: Any, uncached_seconds: float) -> dict:
    """A cached repeat (time to a finished run) and 8 identical concurrent runs (statements)."""
    from concurrent.futures import wait

    cached = engine.submit("bench", spec, QUERY).future.result()  # the warm run filled it
    assert cached.cached
    engine.invalidate(spec.id)
    executions_before = engine.executions
    burst = [engine.submit(f"user{i}", spec, QUERY) for i in range(8)]
    wait([b.future for b in burst])
    return {
        "uncached_run": uncached_seconds,
        "cached_run": cached.elapsed_seconds,
        "burst_executions": engine.executions - executions_before,
        "burst_ok": all(b.state.value == "succeeded" for b in burst),
    }


def rest_contender(target: str) -> Callable[[], int]:
    """What a notebook does: run through the REST API, read the result as Arrow IPC, DataFrame.

    ``target`` is ``<server url>|<token>|<datasource id>``.
    """
    import httpx
    import pyarrow as pa

    server, token, datasource = target.split("|")
    client = httpx.Client(base_url=server, headers={"Authorization": f"token {token}"}, timeout=600)

    def once() -> int:
        body = {"datasource_id": datasource, "sql": QUERY, "bypass_cache": True}
        body["row_limit"] = 10**7
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
        return len(pa.concat_tables(tables).to_pandas())

    return once


JUPYSQL_SCRIPT = """
import json, os, resource, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "sql")
shell.run_line_magic("config", "SqlMagic.autopandas = True")
shell.run_line_magic("config", "SqlMagic.displaylimit = 0")
url = sys.argv[1].replace("postgresql://", "postgresql+psycopg://")
times = []
for _ in range(2):  # cold, then warm (JupySQL keeps its connection, as in a notebook)
    started = time.perf_counter()
    frame = shell.run_line_magic("sql", url + " " + sys.argv[2])
    times.append(time.perf_counter() - started)
    rows = len(frame)
    del frame
print(json.dumps({"seconds": times[0], "warm_seconds": times[1], "rows": rows, "peak_growth": 0,
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
    print(f"\n{'end to end':<14}{'cold s':>10}{'warm s':>10}{'rows/s cold':>14}{'rows/s warm':>14}")
    figures = {}
    for name, runs in results.items():
        cold = statistics.median(r["seconds"] for r in runs)
        warm = statistics.median(r["warm_seconds"] for r in runs)
        figures[name] = (cold, warm)
        print(f"{name:<14}{cold:>10.3f}{warm:>10.3f}{rows / cold:>14,.0f}{rows / warm:>14,.0f}")
    for index, mode in enumerate(("cold", "warm")):
        ratio = figures["jupysql"][index] / figures["rest arrow"][index]
        label = f"REST + Arrow IPC vs JupySQL %sql ({mode})"
        print(f"{label:<50}{ratio:>7.2f}x  target ≥ 4.00x  {verdict(ratio >= 4.0)}")


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
    """The engine figures, cold and warm: medians, rows/s, memory, each target's PASS/MISS."""

    def median(contender: str, key: str) -> float:
        return statistics.median(r[key] for r in results[contender])

    print(
        f"\n{'contender':<14}{'cold s':>9}{'warm s':>9}{'rows/s cold':>13}{'rows/s warm':>13}"
        f"{'peak +MB':>10}{'peak RSS MB':>13}"
    )
    for contender in CONTENDERS:
        cold, warm = median(contender, "seconds"), median(contender, "warm_seconds")
        print(
            f"{contender:<14}{cold:>9.3f}{warm:>9.3f}{rows / cold:>13,.0f}{rows / warm:>13,.0f}"
            f"{median(contender, 'peak_growth') / 1e6:>10.0f}"
            f"{median(contender, 'peak_rss') / 1e6:>13.0f}"
        )
    for key, mode in (("seconds", "cold"), ("warm_seconds", "warm")):
        seconds = {c: median(c, key) for c in CONTENDERS}
        best_name = min(("adbc", "connectorx"), key=lambda c: seconds[c])
        engine = seconds["engine"]
        checks = [
            ("engine vs read_sql (speed-up)", seconds["read_sql"] / engine, 5.0),
            (f"engine vs best Arrow reader ({best_name})", seconds[best_name] / engine, 1.0),
            ("engine throughput vs COPY drain", seconds["copy drain"] / engine, 0.5),
        ]
        when = "first run in a fresh process" if mode == "cold" else "second run, same process"
        print(f"\n{mode} (every contender's {when}):")
        for label, ratio, target in checks:
            print(f"{label:<50}{ratio:>7.2f}x  target ≥ {target:.2f}x  {verdict(ratio >= target)}")
    memory = median("engine", "peak_growth") / median("adbc", "peak_growth")
    print()
    print(
        f"{'engine peak memory vs ADBC (cold run)':<50}{memory:>7.2f}x  target ≤ 1.10x  "
        f"{verdict(memory <= 1.10)}"
    )
    cached = median("engine", "cached_run") / median("engine", "uncached_run")
    print(
        f"{'cached repeat vs uncached run':<50}{cached:>7.3f}x  target ≤ 0.05x  "
        f"{verdict(cached <= 0.05)}"
    )
    bursts = [r["burst_executions"] for r in results["engine"]]
    ok = all(b == 1 for b in bursts) and all(r["burst_ok"] for r in results["engine"])
    print(
        f"{'8 identical concurrent runs: statements sent':<50}{max(bursts):>7d}   "
        f"target = 1      {verdict(ok)}"
    )


if __name__ == "__main__":
    main()

"""Benchmark: team-server authentication, measured in one run against one real server process.

Starts JupyterLab in a subprocess as a team server (``--AnalyticsExtension.multi_user=True``, a
fresh SQLite store, temporary ``JUPYTER_*`` folders, a known Jupyter token), with one account
created in the store before the start through ``AccountService`` (the one account-creation path),
and measures two things the Authentication issue sets targets for:

(a) Throughput of ``GET /api/user`` with ``Authorization: Bearer <access token>`` (a JWT from
    ``POST /api/auth/login``) against the baseline, the same GET with Jupyter's own token
    (``Authorization: token ...``). Interleaved rounds in ABBA order so drift on a noisy machine
    hits both alike, several concurrent keep-alive clients. Target: JWT >= 0.85x the token.
(b) Latency of ``GET /api/health`` (one request at a time, every 10 ms, as a load balancer
    would probe) while 4 clients log in back to back (each login verifies an argon2id hash in
    the server's password worker) against the same probe with the server idle. Idle and loaded
    windows alternate. Target: p99 under load <= 2x idle p99.

The login load runs in its own process, so its client-side work never delays the probe's event
loop (that would be measured as server latency). Login is limited to 20 attempts per client
address per 5 minutes, so the load would turn into cheap 429s after a second; the server is
started with ``--ServerApp.trust_xheaders=True``, as behind a reverse proxy, and each login
carries its own ``X-Forwarded-For`` address, as logins of many people through a proxy do. Every
login must answer 200: anything else is counted and reported.

    .venv/bin/python bench/auth.py           # under 2 minutes
    .venv/bin/python bench/auth.py --quick   # about 30 s, for a smoke check

The server (and its password worker) is stopped on exit, on Ctrl-C and on SIGTERM. The exit
status is 1 when any answer was not the expected one (a missed target alone is not an error:
the table says PASS or MISS).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import jupyter_server

from analytics_ext import __version__
from analytics_ext.auth.passwords import PasswordHasher
from analytics_ext.services.accounts import AccountService, NewAccount
from analytics_ext.services.activity import ActivityLog
from analytics_ext.store import Database, upgrade_schema

USERNAME = "bench-user"
PASSWORD = "violet tractor umbrella 42"
OWNER = "bench-owner"
JWT_TARGET = 0.85
HEALTH_TARGET = 2.0


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str  # with a trailing slash
    token: str
    pid: int
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_account(db_url: str) -> None:
    """The benchmark's account, written to the store before the server opens it."""
    db = Database(db_url)
    hasher = PasswordHasher()
    try:
        upgrade_schema(db)
        accounts = AccountService(db, ActivityLog(), hasher, asyncio.to_thread)
        account = NewAccount(username=USERNAME, password=PASSWORD, display_name="Bench User")
        asyncio.run(accounts.create(account))
    finally:
        hasher.close()
        db.dispose()


@contextmanager
def team_server(workdir: Path, db_url: str, timeout: float = 90) -> Iterator[Server]:
    """JupyterLab as a team server in its own session (Ctrl-C in the terminal reaches only this
    script, which then stops the server, instead of Jupyter's "shut down? (y/n)" prompt)."""
    port, token = _free_port(), secrets.token_hex(16)
    root = workdir / "notebooks"
    root.mkdir()
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_unauthenticated_access=False",
        "--ServerApp.trust_xheaders=True",
        "--ServerApp.jpserver_extensions=analytics_ext=True",
        "--AnalyticsExtension.multi_user=True",
        f"--AnalyticsExtension.db_url={db_url}",
        f"--LocalIdentityProvider.owner_username={OWNER}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(workdir / "config"),
        "JUPYTER_DATA_DIR": str(workdir / "data"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }
    log = workdir / "server.log"
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_until_healthy(url, process, log, timeout)
            yield Server(url=url, token=token, pid=process.pid, log=log)
        finally:
            _stop(process)


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (Jupyter shuts down cleanly, closing its password worker), then SIGKILL whatever
    is left of the server's process group."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


# --- measurements ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value below which ``fraction`` of the samples fall)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Throughput:
    name: str
    rates: list[float] = field(default_factory=list)  # requests/s per round
    requests: int = 0
    cpu_seconds: float = 0.0  # the server process's CPU time over all rounds
    errors: Counter[int] = field(default_factory=Counter)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / self.requests


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure_rate(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    into: Throughput,
    expect_username: str,
    server_pid: int,
) -> None:
    """``clients`` concurrent loops of GET for ``seconds``; counts only correct 200 answers,
    and the server's CPU time spent meanwhile."""
    ok = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal ok
        while time.perf_counter() < deadline:
            response = await client.get(url, headers=headers)
            if response.status_code == 200 and response.json()["username"] == expect_username:
                ok += 1
            else:
                into.errors[response.status_code] += 1

    cpu_before = process_cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    into.rates.append(ok / (time.perf_counter() - started))
    into.cpu_seconds += process_cpu_seconds(server_pid) - cpu_before
    into.requests += ok


async def jwt_vs_token(
    server: Server, access_token: str, clients: int, rounds: int, seconds: float
) -> tuple[Throughput, Throughput]:
    url = f"{server.url}api/user"
    token = Throughput("Authorization: token (Jupyter's)")
    jwt = Throughput("Authorization: Bearer <JWT>")
    plans = [
        (token, {"Authorization": f"token {server.token}"}, OWNER),
        (jwt, {"Authorization": f"Bearer {access_token}"}, USERNAME),
    ]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _result, headers, username in plans:  # warm up connections and caches, unmeasured
            warm_up = Throughput("warm-up")
            await _measure_rate(client, url, headers, clients, 0.3, warm_up, username, server.pid)
        for round_ in range(rounds):
            order = plans if round_ % 2 == 0 else plans[::-1]  # ABBA: drift hits both alike
            for result, headers, username in order:
                await _measure_rate(
                    client, url, headers, clients, seconds, result, username, server.pid
                )
    return token, jwt


async def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll a counter another process updates (no asyncio.Event crosses processes)."""
    async with asyncio.timeout(60):  # a stuck login load fails the run instead of hanging it
        while not condition():  # noqa: ASYNC110 -- nothing to await: the flag is cross-process
            await asyncio.sleep(0.005)


@dataclass
class LoginLoad:
    """The 4 concurrent login loops, in their own process, switched on and off by events."""

    go: Event
    quit: Event
    in_flight: Any  # multiprocessing.Value("i")
    results: Any  # multiprocessing.Queue
    process: multiprocessing.process.BaseProcess

    async def start(self) -> None:
        self.go.set()
        await _wait_for(lambda: self.in_flight.value > 0)

    async def pause(self) -> None:
        """Stop starting logins and wait until the last one answered: idle means idle."""
        self.go.clear()
        await _wait_for(lambda: self.in_flight.value == 0)

    def finish(self, timeout: float = 30) -> tuple[Counter[int], list[float]]:
        self.go.clear()
        self.quit.set()
        statuses, durations = self.results.get(timeout=timeout)
        self.process.join(timeout)
        return Counter(statuses), durations


def _login_load_main(
    url: str, clients: int, go: Event, quit_: Event, in_flight: Any, results: Any
) -> None:
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the parent cleans up
        results.put(asyncio.run(_login_loops(url, clients, go, quit_, in_flight)))


async def _login_loops(
    url: str, clients: int, go: Event, quit_: Event, in_flight: Any
) -> tuple[dict[int, int], list[float]]:
    statuses: Counter[int] = Counter()
    durations: list[float] = []
    serial = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def loop() -> None:
            nonlocal serial
            while not quit_.is_set():
                if not go.is_set():
                    await asyncio.sleep(0.005)
                    continue
                serial += 1
                address = f"10.{serial >> 16 & 255}.{serial >> 8 & 255}.{serial & 255}"
                with in_flight.get_lock():
                    in_flight.value += 1
                started = time.perf_counter()
                try:
                    response = await client.post(
                        f"{url}api/auth/login",
                        json={"username": USERNAME, "password": PASSWORD},
                        headers={"X-Forwarded-For": address},
                    )
                finally:
                    with in_flight.get_lock():
                        in_flight.value -= 1
                durations.append(time.perf_counter() - started)
                logged_in = response.status_code == 200 and "access_token" in response.json()
                statuses[200 if logged_in else response.status_code] += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return dict(statuses), durations


def start_login_load(url: str, clients: int) -> LoginLoad:
    context = multiprocessing.get_context("spawn")
    go, quit_ = context.Event(), context.Event()
    in_flight, results = context.Value("i", 0), context.Queue()
    process = context.Process(
        target=_login_load_main,
        args=(url, clients, go, quit_, in_flight, results),
        name="bench-login-load",
        daemon=True,
    )
    process.start()
    return LoginLoad(go, quit_, in_flight, results, process)


@dataclass
class Latency:
    name: str
    samples: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)


async def _probe(
    client: httpx.AsyncClient, url: str, seconds: float, interval: float, into: Latency
) -> None:
    """GET ``url`` one at a time, one every ``interval`` (at once if the last one was late)."""
    deadline = time.perf_counter() + seconds
    next_at = time.perf_counter()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        response = await client.get(url)
        into.samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            into.errors += 1
        next_at += interval
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            next_at = time.perf_counter()


async def health_under_logins(
    server: Server, load: LoginLoad, rounds: int, seconds: float, interval: float
) -> tuple[Latency, Latency, float]:
    url = f"{server.url}api/health"
    idle, loaded = Latency("idle"), Latency("4 logins hashing")
    loaded_seconds = 0.0
    async with httpx.AsyncClient(timeout=30) as client:
        await _probe(client, url, 0.3, interval, Latency("warm-up"))
        await load.start()  # warm up the login path too: the first logins are not measured
        await asyncio.sleep(0.5)
        await load.pause()
        for round_ in range(rounds):
            for loaded_window in (False, True) if round_ % 2 == 0 else (True, False):
                if loaded_window:
                    await load.start()
                    started = time.perf_counter()
                    await _probe(client, url, seconds, interval, loaded)
                    await load.pause()
                    loaded_seconds += time.perf_counter() - started
                else:
                    await _probe(client, url, seconds, interval, idle)
    return idle, loaded, loaded_seconds


async def login_once(server: Server) -> str:
    """An access token for the benchmark account through ``POST /api/auth/login``."""
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            f"{server.url}api/auth/login", json={"username": USERNAME, "password": PASSWORD}
        )
    if response.status_code != 200:
        raise RuntimeError(f"POST /api/auth/login answered {response.status_code}: {response.text}")
    return response.json()["access_token"]


# --- report ------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(
    args: argparse.Namespace,
    token: Throughput,
    jwt: Throughput,
    idle: Latency,
    loaded: Latency,
    logins: Counter[int],
    login_durations: list[float],
    loaded_seconds: float,
) -> bool:
    print(
        f"\n(a) GET /api/user, {args.clients} concurrent keep-alive clients, {args.rounds} rounds"
        f" x {args.seconds:g} s per credential, ABBA order"
    )
    print(
        f"{'credential':<34}{'req/s median':>13}{'min':>7}{'max':>7}{'requests':>10}"
        f"{'server CPU ms/req':>19}{'errors':>8}"
    )
    for r in (token, jwt):
        print(
            f"{r.name:<34}{r.median:>13.0f}{min(r.rates):>7.0f}{max(r.rates):>7.0f}"
            f"{r.requests:>10}{r.cpu_per_request * 1000:>19.3f}{sum(r.errors.values()):>8}"
        )
    # Each round measures both credentials back to back, so its ratio is the least disturbed by
    # other work on the machine; the median over rounds discards the rounds a burst hit.
    ratios = [j / t for j, t in zip(jwt.rates, token.rates, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"JWT/token per round: median {ratio:.2f}x (min {min(ratios):.2f}x, max "
        f"{max(ratios):.2f}x); server CPU per request token/JWT "
        f"{token.cpu_per_request / jwt.cpu_per_request:.2f}x"
    )

    ok_logins = logins.get(200, 0)
    print(
        f"\n(b) GET /api/health one at a time every {args.interval_ms:.0f} ms, {args.health_rounds}"
        f" rounds x {args.health_seconds:g} s idle and loaded, alternating"
    )
    print(f"{'condition':<20}{'samples':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for r in (idle, loaded):
        print(
            f"{r.name:<20}{len(r.samples):>9}{r.p50 * 1000:>9.2f}{r.p99 * 1000:>9.2f}"
            f"{max(r.samples) * 1000:>9.2f}{r.errors:>8}"
        )
    other = {status: n for status, n in logins.items() if status != 200}
    print(
        f"logins: {ok_logins} answered 200 ({ok_logins / loaded_seconds:.1f}/s while loaded), "
        f"median {statistics.median(login_durations) * 1000:.0f} ms, "
        f"p99 {percentile(login_durations, 0.99) * 1000:.0f} ms; other answers: {other or 'none'}"
    )
    p99_ratio = loaded.p99 / idle.p99
    p50_ratio = loaded.p50 / idle.p50

    clean = not (token.errors or jwt.errors or idle.errors or loaded.errors or other)
    rows = [
        ("JWT GET /api/user req/s vs Jupyter token", f"{ratio:.2f}x", f">= {JWT_TARGET:.2f}x",
         ratio >= JWT_TARGET),
        ("/api/health p99 under 4 logins vs idle", f"{p99_ratio:.2f}x", f"<= {HEALTH_TARGET:.2f}x",
         p99_ratio <= HEALTH_TARGET),
    ]  # fmt: skip
    print(f"\n{'target':<44}{'measured':>10}{'target':>11}  result")
    for name, measured, target, met in rows:
        print(f"{name:<44}{measured:>10}{target:>11}  {_verdict(met)}")
    print(f"(p50 under load vs idle: {p50_ratio:.2f}x; every answer as expected: {clean})")
    return clean


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {len(os.sched_getaffinity(0))} CPUs "
        f"(nproc), {platform.machine()}, Python {platform.python_version()}, "
        f"jupyter_server {jupyter_server.__version__}, analytics_ext {__version__}; "
        f"load average {load}"
    )


async def measure(server: Server, args: argparse.Namespace) -> bool:
    access_token = await login_once(server)
    token, jwt = await jwt_vs_token(server, access_token, args.clients, args.rounds, args.seconds)
    load = start_login_load(server.url, args.login_clients)
    try:
        idle, loaded, loaded_seconds = await health_under_logins(
            server, load, args.health_rounds, args.health_seconds, args.interval_ms / 1000
        )
        logins, durations = await asyncio.to_thread(load.finish)
    finally:
        load.quit.set()
        load.process.join(5)
        if load.process.is_alive():
            load.process.terminate()
    return report(args, token, jwt, idle, loaded, logins, durations, loaded_seconds)


def main() -> None:
    try:
        clean = run()
    except KeyboardInterrupt:  # the server was stopped on the way out
        print("interrupted; the server is stopped", file=sys.stderr)
        sys.exit(130)
    sys.exit(0 if clean else 1)


def run() -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 30 s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in (a)")
    parser.add_argument("--rounds", type=int, default=12, help="rounds per credential in (a)")
    parser.add_argument("--seconds", type=float, default=1.5, help="seconds per round in (a)")
    parser.add_argument("--login-clients", type=int, default=4, help="concurrent logins in (b)")
    parser.add_argument("--health-rounds", type=int, default=10, help="rounds in (b)")
    parser.add_argument("--health-seconds", type=float, default=2.0, help="window in (b)")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="health probe pacing")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.health_rounds, args.health_seconds = 4, 0.75, 4, 1.0

    # SIGTERM unwinds like Ctrl-C does, through the finally blocks that stop the server.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as scratch:
        workdir = Path(scratch)
        db_url = f"sqlite:///{workdir / 'store.sqlite'}"
        create_account(db_url)
        started = time.perf_counter()
        with team_server(workdir, db_url) as server:
            print(f"team server up in {time.perf_counter() - started:.1f} s at {server.url}")
            try:
                clean = asyncio.run(measure(server, args))
            except Exception:
                print(f"server log (tail):\n{_tail(server.log)}", file=sys.stderr)
                raise
    return clean


if __name__ == "__main__":
    main()

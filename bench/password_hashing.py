"""Benchmark: what password hashing does to the event loop, worker process vs threads vs idle.

Login hashing is expensive on purpose. What matters to everyone else on the server is whether
the event loop keeps its pace while logins hash. A ticker coroutine sleeps 10 ms at a time and
records how late each wake-up is, while 4 hashes run at once (4 people logging in together):

- idle: the ticker alone, for as long as the worker-process batches took (the baseline);
- worker process: ``analytics_ext.auth.passwords.PasswordHasher`` (argon2id at the chosen
  parameters in one ``nice`` +10 process, one lane);
- threads, argon2 defaults: a ``ThreadPoolExecutor`` running ``argon2.PasswordHasher()``
  (64 MiB, t=3, p=4), what one would write by hand, and what TOOLCHAIN.md warns about;
- threads, chosen params: the same threads with our parameters, to separate where hashing runs
  from how expensive it is.

    .venv/bin/python bench/password_hashing.py --rounds 10

Ratios are ``contender / idle`` of the worst and the 99th-percentile tick delay: 1.0x means the
loop did not notice the hashing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2

from analytics_ext.auth.passwords import PasswordHasher

TICK_S = 0.010
PASSWORD = "violet tractor umbrella 42"


@dataclass
class Result:
    name: str
    delays: list[float]
    batch_seconds: list[float]

    @property
    def worst(self) -> float:
        return max(self.delays)

    @property
    def p99(self) -> float:
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def _with_ticker(work: Callable[[], Awaitable[object]]) -> tuple[list[float], float]:
    """Run ``work`` while a ticker records how late each 10 ms sleep wakes up."""
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            delays.append(max(0.0, loop.time() - before - TICK_S))

    task = asyncio.create_task(ticker())
    await asyncio.sleep(TICK_S)  # let the ticker settle into its rhythm first
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    running = False
    await task
    return delays, elapsed


async def _rounds(name: str, rounds: int, work: Callable[[], Awaitable[object]]) -> Result:
    result = Result(name, [], [])
    for _ in range(rounds):
        delays, elapsed = await _with_ticker(work)
        result.delays.extend(delays)
        result.batch_seconds.append(elapsed)
    return result


async def _median_hash_seconds(hasher: PasswordHasher, repeat: int) -> tuple[float, float]:
    """Median of one hash at a time: raw argon2 in this process, and through the worker."""
    raw = argon2.PasswordHasher.from_parameters(hasher.parameters)
    in_process, via_worker = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        raw.hash(PASSWORD)
        in_process.append(time.perf_counter() - started)
        started = time.perf_counter()
        await hasher.hash(PASSWORD)
        via_worker.append(time.perf_counter() - started)
    return statistics.median(in_process), statistics.median(via_worker)


async def run(rounds: int, concurrency: int, repeat: int) -> None:
    hasher = PasswordHasher()
    started = time.perf_counter()
    status = await hasher.worker_status()
    cold_start = time.perf_counter() - started
    threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-argon2")
    loop = asyncio.get_running_loop()
    default_argon2 = argon2.PasswordHasher()
    chosen_argon2 = argon2.PasswordHasher.from_parameters(hasher.parameters)
    try:
        in_process, via_worker = await _median_hash_seconds(hasher, repeat)
        p = hasher.parameters
        d = default_argon2
        print(
            f"{os.cpu_count()} CPUs; argon2id m={p.memory_cost} KiB, t={p.time_cost}, "
            f"p={p.parallelism}; worker pid {status.pid} at niceness {status.niceness} "
            f"(started in {cold_start * 1000:.0f} ms)"
        )
        print(
            f"median of {repeat} single hashes: {in_process * 1000:.1f} ms in-process, "
            f"{via_worker * 1000:.1f} ms through the worker "
            f"(argon2 defaults m={d.memory_cost} KiB, t={d.time_cost}, p={d.parallelism})"
        )

        async def in_worker() -> None:
            await asyncio.gather(*(hasher.hash(PASSWORD) for _ in range(concurrency)))

        def in_threads(ph: argon2.PasswordHasher) -> Callable[[], Awaitable[object]]:
            async def work() -> None:
                await asyncio.gather(
                    *(loop.run_in_executor(threads, ph.hash, PASSWORD) for _ in range(concurrency))
                )

            return work

        worker = await _rounds("worker process (chosen params)", rounds, in_worker)
        per_batch = statistics.mean(worker.batch_seconds)

        async def idle() -> None:
            await asyncio.sleep(per_batch)

        results = [
            await _rounds("idle (no hashing)", rounds, idle),
            worker,
            await _rounds("threads, argon2 defaults", rounds, in_threads(default_argon2)),
            await _rounds("threads, chosen params", rounds, in_threads(chosen_argon2)),
        ]
    finally:
        hasher.close()
        threads.shutdown()

    base = results[0]
    print(
        f"\n{concurrency} concurrent hashes x {rounds} rounds; ticker every {TICK_S * 1000:.0f} ms"
    )
    print(
        f"{'contender':<32}{'batch ms':>9}{'ticks':>7}{'worst ms':>10}{'p99 ms':>8}"
        f"{'worst/idle':>12}{'p99/idle':>10}"
    )
    for r in results:
        print(
            f"{r.name:<32}{statistics.median(r.batch_seconds) * 1000:>9.0f}{len(r.delays):>7}"
            f"{r.worst * 1000:>10.1f}{r.p99 * 1000:>8.1f}"
            f"{r.worst / base.worst:>11.1f}x{r.p99 / base.p99:>9.1f}x"
        )
    print("batch ms: median wall time for all hashes of one round (how long the last login waits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=15, help="single hashes for the median")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.concurrency, args.repeat))


if __name__ == "__main__":
    main()

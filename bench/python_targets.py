#!/usr/bin/env python3
"""The Python package's performance targets (issue 14), measured in one run.

    python bench/python_targets.py [--rounds N]      (after pip install ./python)

1. 100,000 int32: unlocked.absdist_sum(a) with default arguments, and through
   a warm Pool(engine="lockfree-pool"), against numpy.abs(a - 50).sum().
2. sequential and the warm Pool against the CLI's in-process time for the
   same engine and placement (`unlocked run ... --json` samples): the Python
   call path should add at most 1 µs.
3. 64Mi int32: absdist_sum's throughput against the CLI's.
4. Two threads each calling absdist_sum(..., workers=1) on its own 64Mi array:
   their wall time against one call alone (the GIL is released: < 1.6×).
   At 64Mi the two calls share the memory bus (on a machine whose read
   bandwidth scales 1.36× from one thread to two, 1.47× is the floor).
5. The same with arrays that fit in each core's L2 (256Ki int32, 1 MiB),
   each thread making back-to-back calls (64Mi elements in all): what the
   GIL and the call path leave of two cores.

Python times are per call, from batches of 100 back-to-back calls (as the
CLI repeats a job), the compared models' batches interleaved; medians, and
the minimum too, the estimate a busy machine disturbs least.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import threading
import time
from pathlib import Path

import numpy

import unlocked
from unlocked import _library

CLI = Path(_library.library_path()).with_name("unlocked")


class Timing:
    """Median and minimum of single calls, in nanoseconds."""

    def __init__(self, samples: list[float]):
        self.median = statistics.median(samples)
        self.min = min(samples)

    def __str__(self) -> str:
        return f"{self.median / 1e3:8.2f} µs (min {self.min / 1e3:7.2f})"


def time_calls(calls: dict[str, callable], rounds: int, batch: int = 100) -> dict[str, Timing]:
    """Per-call time of batches of back-to-back calls (each model in its own
    steady state, as the CLI's repetitions are), the models' batches
    interleaved round by round so drift hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm-up: runtimes, calibration, caches
        for _ in range(batch):
            call()
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in calls.items():
            start = clock()
            for _ in range(batch):
                call()
            samples[name].append((clock() - start) / batch)
    return {name: Timing(values) for name, values in samples.items()}


def cli_timing(engine: str, size: int, reps: int, workers: int | None = None, pin: str = "none") -> Timing:
    """The CLI's in-process time of the same job (`unlocked run --json` samples)."""
    command = [str(CLI), "run", "--kernel", "absdist.sum", "--dtype", "i32", "--size", str(size),
               "--engine", engine, "--pin", pin, "--reps", str(reps), "--json"]
    if workers:
        command += ["--workers", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    return Timing(report["samples_ns"])


def two_threads(one, rounds: int = 9) -> tuple[list[float], list[float]]:
    """Seconds of one(0) alone and of one(0) and one(1) on two threads at
    once, ``rounds`` times each, alternating."""
    for k in range(2):
        one(k)
    alone, together = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        one(0)
        alone.append(time.perf_counter() - start)
        threads = [threading.Thread(target=one, args=(k,)) for k in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        together.append(time.perf_counter() - start)
    return alone, together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="batches of 100 calls per model (default 50)")
    rounds = parser.parse_args().rounds
    workers = unlocked.get_num_threads()
    rng = numpy.random.default_rng(1)
    a = rng.integers(0, 100, 100_000, dtype=numpy.int32)

    print(f"unlocked {unlocked.__version__}, numpy {numpy.__version__}, {workers} workers, CLI {CLI}")
    # Pinned like the CLI's default placement: an unbound pool's spinning worker
    # may share a CPU with the caller and starve it.
    with unlocked.Pool(engine="lockfree-pool", workers=workers, pin="compact") as pool:
        times = time_calls({
            "numpy": lambda: numpy.abs(a - 50).sum(),
            "absdist_sum": lambda: unlocked.absdist_sum(a),
            "sequential": lambda: unlocked.absdist_sum(a, engine="sequential", workers=1),
            "pool": lambda: pool.absdist_sum(a),
        }, rounds)
    chosen = unlocked.last_call().engine
    numpy_time, default, warm = times["numpy"], times["absdist_sum"], times["pool"]
    print("\n1. 100,000 int32, per call")
    print(f"   numpy.abs(a - 50).sum()     {numpy_time}")
    print(f"   unlocked.absdist_sum(a)     {default}   {numpy_time.median / default.median:5.1f}× numpy "
          f"(min {numpy_time.min / default.min:.1f}×; target ≥ 40×; auto chose {chosen})")
    print(f"   Pool(lockfree-pool), warm   {warm}   {numpy_time.median / warm.median:5.1f}× numpy "
          f"(min {numpy_time.min / warm.min:.1f}×; target ≥ 50×)")

    # The same engine and placement on both sides, so only the call path differs
    # (auto may choose differently in the two processes: it is not compared).
    cli_sequential = cli_timing("sequential", 100_000, rounds * 100)
    cli_pool = cli_timing("lockfree-pool", 100_000, rounds * 100, workers, pin="compact")
    print("\n2. against the CLI's in-process time for the same engine and placement, same size")
    for name, cli, python in (("sequential", cli_sequential, times["sequential"]), ("lockfree-pool", cli_pool, warm)):
        print(f"   {name:14} CLI {cli}   Python adds {(python.median - cli.median) / 1e3:+.2f} µs "
              f"(min {(python.min - cli.min) / 1e3:+.2f} µs; target ≤ 1 µs)")

    big = [numpy.full(64 << 20, 7, dtype=numpy.int32) for _ in range(2)]
    large = time_calls({"absdist_sum": lambda: unlocked.absdist_sum(big[0])}, 15, batch=1)["absdist_sum"]
    cli_large = cli_timing("auto", 64 << 20, 15)
    size = big[0].nbytes
    print("\n3. 64Mi int32, auto")
    print(f"   CLI {size / cli_large.median:6.2f} GB/s   Python {size / large.median:6.2f} GB/s   "
          f"{cli_large.median / large.median:.2f}× the CLI's throughput "
          f"(min {cli_large.min / large.min:.2f}×; target ≥ 0.9×)")

    alone, together = two_threads(lambda k: unlocked.absdist_sum(big[k], engine="sequential", workers=1))
    ratio = statistics.median(together) / statistics.median(alone)
    print("\n4. two threads, each absdist_sum(its own 64Mi int32, engine='sequential', workers=1)")
    print(f"   one call {statistics.median(alone) * 1e3:.2f} ms, both threads {statistics.median(together) * 1e3:.2f} ms: "
          f"{ratio:.2f}× one call (target < 1.6×; 2.0× would be serialised)")

    small = [numpy.full(256 << 10, 7, dtype=numpy.int32) for _ in range(2)]
    def calls(k: int) -> None:
        for _ in range(256):
            unlocked.absdist_sum(small[k], engine="sequential", workers=1)

    alone, together = two_threads(calls)
    ratio = statistics.median(together) / statistics.median(alone)
    print("\n5. two threads, each 256 back-to-back absdist_sum(its own 256Ki int32, in L2, engine='sequential', workers=1)")
    print(f"   one thread {statistics.median(alone) * 1e3:.2f} ms, both threads {statistics.median(together) * 1e3:.2f} ms: "
          f"{ratio:.2f}× one thread (min {min(together) / min(alone):.2f}×; target < 1.6×)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The Python package's performance targets (issue 14), measured in one run.

    python bench/python_targets.py [--reps N]      (after pip install ./python)

1. 100,000 int32: unlocked.absdist_sum(a) with default arguments, and through
   a warm Pool(engine="lockfree-pool"), against numpy.abs(a - 50).sum().
2. The same calls against the CLI's in-process time for the same engine and
   placement (`unlocked run ... --json`, time_median_ns): the Python call path
   should add at most 1 µs.
3. 64Mi int32: absdist_sum's throughput against the CLI's.
4. Two threads each calling absdist_sum(..., workers=1) on its own 64Mi array:
   their wall time against one call alone (the GIL is released: < 1.6×).

Every Python time is the median of single calls, each timed with
perf_counter_ns, the calls of the compared models interleaved.
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


def median_call_ns(calls: dict[str, callable], reps: int) -> dict[str, float]:
    """Median wall time of single calls, the models interleaved call by call."""
    samples: dict[str, list[int]] = {name: [] for name in calls}
    for name, call in calls.items():  # warm-up: runtimes, calibration, caches
        for _ in range(20):
            call()
    clock = time.perf_counter_ns
    for _ in range(reps):
        for name, call in calls.items():
            start = clock()
            call()
            samples[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def cli_median_ns(engine: str, size: int, reps: int, workers: int | None = None) -> float:
    command = [str(CLI), "run", "--kernel", "absdist.sum", "--dtype", "i32", "--size", str(size),
               "--engine", engine, "--pin", "none", "--reps", str(reps), "--json"]
    if workers:
        command += ["--workers", str(workers)]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return float(report["time_median_ns"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="calls per model at 100,000 (default 2000)")
    reps = parser.parse_args().reps
    workers = unlocked.get_num_threads()
    rng = numpy.random.default_rng(1)
    a = rng.integers(0, 100, 100_000, dtype=numpy.int32)

    print(f"unlocked {unlocked.__version__}, numpy {numpy.__version__}, {workers} workers, CLI {CLI}")
    with unlocked.Pool(engine="lockfree-pool", workers=workers) as pool:
        times = median_call_ns({
            "numpy": lambda: numpy.abs(a - 50).sum(),
            "absdist_sum": lambda: unlocked.absdist_sum(a),
            "pool": lambda: pool.absdist_sum(a),
        }, reps)
    chosen = unlocked.last_call().engine
    print("\n1. 100,000 int32, median per call")
    print(f"   numpy.abs(a - 50).sum()        {times['numpy'] / 1e3:9.2f} µs")
    print(f"   unlocked.absdist_sum(a)        {times['absdist_sum'] / 1e3:9.2f} µs   "
          f"{times['numpy'] / times['absdist_sum']:6.1f}× numpy (target ≥ 40×; auto chose {chosen})")
    print(f"   Pool(lockfree-pool), warm      {times['pool'] / 1e3:9.2f} µs   "
          f"{times['numpy'] / times['pool']:6.1f}× numpy (target ≥ 50×)")

    cli_auto = cli_median_ns("auto", 100_000, reps)
    cli_pool = cli_median_ns("lockfree-pool", 100_000, reps, workers)
    print("\n2. against the CLI's in-process time (unlocked run --pin none), same size")
    print(f"   auto           CLI {cli_auto / 1e3:7.2f} µs   Python {times['absdist_sum'] / 1e3:7.2f} µs   "
          f"difference {(times['absdist_sum'] - cli_auto) / 1e3:+.2f} µs (target ≤ 1 µs)")
    print(f"   lockfree-pool  CLI {cli_pool / 1e3:7.2f} µs   Python {times['pool'] / 1e3:7.2f} µs   "
          f"difference {(times['pool'] - cli_pool) / 1e3:+.2f} µs (target ≤ 1 µs)")

    big = [numpy.full(64 << 20, 7, dtype=numpy.int32) for _ in range(2)]
    large = median_call_ns({"absdist_sum": lambda: unlocked.absdist_sum(big[0])}, 15)["absdist_sum"]
    cli_large = cli_median_ns("auto", 64 << 20, 15)
    bytes_moved = big[0].nbytes
    print("\n3. 64Mi int32, auto")
    print(f"   CLI {bytes_moved / cli_large:6.2f} GB/s   Python {bytes_moved / large:6.2f} GB/s   "
          f"{cli_large / large:.2f}× the CLI's throughput (target ≥ 0.9×)")

    def one(k: int) -> None:
        unlocked.absdist_sum(big[k], engine="sequential", workers=1)

    for k in range(2):
        one(k)
    alone, together = [], []
    for _ in range(9):
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
    ratio = statistics.median(together) / statistics.median(alone)
    print("\n4. two threads, each absdist_sum(its own 64Mi int32, engine='sequential', workers=1)")
    print(f"   one call {statistics.median(alone) * 1e3:.2f} ms, both threads {statistics.median(together) * 1e3:.2f} ms: "
          f"{ratio:.2f}× one call (target < 1.6×; 2.0× would be serialised)")


if __name__ == "__main__":
    main()

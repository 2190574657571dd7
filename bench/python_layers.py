#!/usr/bin/env python3
"""Where the Python call path's microseconds go, layer by layer, on one runtime.

    python bench/python_layers.py [--size N] [--rounds R]   (after pip install ./python; needs cc)

For each engine, batches of back-to-back calls of the same absdist.sum job,
the layers' batches interleaved round by round so load on a shared machine
hits them alike:

  engine    the engine's own time (unlocked_result.nanoseconds, what the CLI reports)
  C API     unlocked_run_call in a C loop (a helper compiled here with cc)
  ctypes    the ctypes prototype of unlocked_run_call on a pre-packed call block
  fastcall  unlocked._fastcall.reduce, the package's C fast path
  Python    the public call: unlocked.absdist_sum(a, engine=..., workers=...) or
            Pool.absdist_sum(a)
  engine under Python   the engine's own time again, in a batch of fastcall
            calls: when it exceeds the first column, the job itself runs
            slower when Python drives it (the gaps between calls), which no
            call-path saving can recover

Each column's "+" is what that layer adds over the one before (fastcall and
ctypes are both measured against the C API). Medians of per-call
nanoseconds, and the minima.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy

import unlocked
from unlocked import _fastcall, _library

HEADER_DIR = Path(__file__).resolve().parent.parent / "Sources" / "CUnlockedAPI" / "include"
LOOP_C = r"""
#include <time.h>
#include "unlocked.h"
static clockid_t clock_id;
static double now(void) { struct timespec t; clock_gettime(clock_id, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
/* Per-call ns of `reps` back-to-back calls on clock `clock`; the engine's mean ns in *engine. */
double loop(int (*run)(unlocked_call *), unlocked_call *call, int reps, double *engine, int clock) {
    clock_id = (clockid_t)clock;
    double inner = 0, start = now();
    for (int i = 0; i < reps; i++) {
        if (run(call)) return -1;
        inner += (double)call->result.nanoseconds;
    }
    *engine = inner / reps;
    return (now() - start) / reps;
}
"""


def c_loop():
    """The C helper, built in a temporary directory (the library is passed in
    as a function pointer: ctypes loads it RTLD_LOCAL)."""
    directory = Path(tempfile.mkdtemp())
    (directory / "loop.c").write_text(LOOP_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-I", str(HEADER_DIR), str(directory / "loop.c"),
                    "-o", str(directory / "loop.so")], check=True)
    loop = ctypes.CDLL(str(directory / "loop.so")).loop
    loop.restype = ctypes.c_double
    loop.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_int]
    return loop


def measure(loop, engine: str, runtime: _library.Runtime, a: numpy.ndarray, public, rounds: int,
            cpu: bool, batch: int = 200) -> None:
    """Every layer on ``runtime``, the one ``public`` calls through (a second
    runtime's spinning workers would compete with the first's)."""
    kernel = _library.kernel_address("absdist.sum")
    _library.pack_call(runtime.call, 4, _library.I32, kernel, a.__array_interface__["data"][0], a.size, 50, 50.0, 0, 0, 0)
    run_address = ctypes.cast(_library.run_call, ctypes.c_void_p).value
    pointer, run_call, fast, address = runtime.pointer, _library.run_call, _fastcall.reduce, runtime.address
    engine_ns = ctypes.c_double()
    samples: dict[str, list[float]] = {name: [] for name in ("engine", "C API", "ctypes", "fastcall", "Python",
                                                             "engine under Python")}
    result = runtime.call.result
    clock, clock_id = (time.thread_time_ns, time.CLOCK_THREAD_CPUTIME_ID) if cpu else \
        (time.perf_counter_ns, time.CLOCK_MONOTONIC)
    for round_ in range(rounds + 3):  # the first three warm up
        c_api = loop(run_address, pointer, batch, ctypes.byref(engine_ns), clock_id)
        start = clock()
        for _ in range(batch):
            run_call(pointer)
        through_ctypes = (clock() - start) / batch
        start = clock()
        for _ in range(batch):
            fast(address, kernel, a, 50)
        through_fastcall = (clock() - start) / batch
        start = clock()
        for _ in range(batch):
            public()
        through_python = (clock() - start) / batch
        inner = 0
        for _ in range(batch):
            fast(address, kernel, a, 50)
            inner += result.nanoseconds
        if round_ >= 3:
            for name, value in zip(samples, (engine_ns.value, c_api, through_ctypes, through_fastcall, through_python,
                                             inner / batch)):
                samples[name].append(value)
    median = {name: statistics.median(values) for name, values in samples.items()}
    low = {name: min(values) for name, values in samples.items()}
    before = {"engine": None, "C API": "engine", "ctypes": "C API", "fastcall": "C API", "Python": "fastcall",
              "engine under Python": "engine"}
    cells = []
    for name, base in before.items():
        added = "" if base is None else f" (+{median[name] - median[base]:.0f})"
        cells.append(f"{name} {median[name]:.0f}{added}")
    print(f"{engine:14} {', '.join(cells)} ns; minima {' / '.join(f'{low[n]:.0f}' for n in samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="int32 elements (default 100,000)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds of 200-call batches (default 30)")
    parser.add_argument("--cpu", action="store_true",
                        help="sequential only, on the calling thread's CPU clock: on a busy machine the time others "
                             "take the CPU is left out (the engine column stays wall time)")
    options = parser.parse_args()
    a = numpy.random.default_rng(1).integers(0, 100, options.size, dtype=numpy.int32)
    loop = c_loop()
    workers = unlocked.get_num_threads()
    print(f"{options.size} int32, absdist.sum; per call, medians of {options.rounds} batches")
    unlocked.absdist_sum(a, engine="sequential", workers=1)
    measure(loop, "sequential", unlocked._local.__dict__[("sequential", 1, None)], a,
            lambda: unlocked.absdist_sum(a, engine="sequential", workers=1), options.rounds, options.cpu)
    if options.cpu:
        return
    with unlocked.Pool(engine="lockfree-pool", workers=workers) as pool:
        measure(loop, f"lockfree-pool/{workers}", pool._runtime, a, lambda: pool.absdist_sum(a), options.rounds, False)


if __name__ == "__main__":
    main()

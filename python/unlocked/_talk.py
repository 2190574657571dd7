"""The PyCon US 2024 talk's table, measured in this interpreter.

Every model sums ``abs(x - 50)`` over the same int32 data (uniform in
[0, 100), as in the talk) at two sizes, and its result is checked against
numpy's exact sum. The Python models run the talk's loop body over the numpy
array, accumulated so the result can be checked.

All models are started first (their start-up is timed then), and their calls
are interleaved: each round runs every model once in its own shuffled order,
so a noisy neighbour or a frequency change hits them alike. Fast calls are
timed in back-to-back batches of about 2 ms, as timeit does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

import numpy

import unlocked

try:  # CPython 3.13+: interpreters with their own GIL (3.14's concurrent.interpreters builds on it)
    import _interpreters
except ImportError:
    _interpreters = None


def simple_abs_range(vec) -> int:
    """The talk's loop body, summed (in int64, like the data's numpy scalars)."""
    total = numpy.int64(0)
    for x in vec:
        total += abs(x - 50)
    return int(total)


def _noop(_):
    return None


@dataclass
class Model:
    """One row: what the model is, what starting it cost, and per size the call to time."""
    name: str
    execution: str
    exchange: str = "none"
    startup: float | None = None                       # seconds; None: nothing to start
    calls: dict[int, Callable[[], int]] = field(default_factory=dict)
    moves: dict[int, Callable[[], int]] = field(default_factory=dict)   # processes: only move the data
    unavailable: str | None = None                     # why it cannot run here
    detail: Callable[[], str] | None = None            # for the verdict, read after the runs
    times: dict[int, float] = field(default_factory=dict)
    cpu_times: dict[int, float] = field(default_factory=dict)  # this process's CPU time per call
    move_times: dict[int, float] = field(default_factory=dict)
    results: dict[int, int] = field(default_factory=dict)


def _timed_start(model: Model, start: Callable[[], object]):
    began = time.perf_counter()
    value = start()
    model.startup = time.perf_counter() - began
    return value


def plain_loop(data) -> Model:
    model = Model("plain loop", "sequential")
    model.calls = {n: (lambda a=a: simple_abs_range(a)) for n, a in data.items()}
    return model


def f_threaded(data) -> Model:
    """The talk's f_threaded: 100 threads over numpy.split(a, 100), started per call."""
    model = Model("threads ×100 (talk)", "GIL-bound", "shared")

    def run(a) -> int:
        totals: list[int] = []
        threads = [threading.Thread(target=lambda block=block: totals.append(simple_abs_range(block)))
                   for block in numpy.array_split(a, 100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(totals)

    def start_100() -> None:
        threads = [threading.Thread(target=_noop, args=(None,)) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    _timed_start(model, start_100)  # what every call pays before any work
    model.calls = {n: (lambda a=a: run(a)) for n, a in data.items()}
    return model


def thread_pool(data, workers: int, stack: ExitStack) -> Model:
    model = Model("ThreadPoolExecutor", "GIL-bound", "shared")

    def start() -> ThreadPoolExecutor:
        executor = stack.enter_context(ThreadPoolExecutor(workers))
        list(executor.map(_noop, range(workers)))
        return executor

    executor = _timed_start(model, start)
    blocks = {n: numpy.array_split(a, workers) for n, a in data.items()}
    model.calls = {n: (lambda b=b: sum(executor.map(simple_abs_range, b))) for n, b in blocks.items()}
    return model


def coroutines(data, stack: ExitStack) -> Model:
    model = Model("asyncio ×100", "concurrent", "shared")

    async def block(vec) -> int:
        return simple_abs_range(vec)

    async def gather(a) -> int:
        return sum(await asyncio.gather(*(block(b) for b in numpy.array_split(a, 100))))

    loop = _timed_start(model, asyncio.new_event_loop)
    stack.callback(loop.close)
    model.calls = {n: (lambda a=a: loop.run_until_complete(gather(a))) for n, a in data.items()}
    return model


def processes(data, method: str, workers: int, stack: ExitStack) -> Model:
    """multiprocessing: start-up until every worker answered; each call pickles
    the chunks to the workers, and the move alone is timed with a call that
    only takes their length."""
    model = Model(f"mp.Pool {method}", "parallel")
    if method not in multiprocessing.get_all_start_methods():
        model.unavailable = f"start method {method} not on this platform"
        return model

    def start():
        pool = stack.enter_context(multiprocessing.get_context(method).Pool(workers))
        pool.map(_noop, range(workers), chunksize=1)
        return pool

    pool = _timed_start(model, start)
    chunks = {n: numpy.array_split(a, workers) for n, a in data.items()}
    moved = sum(len(pickle.dumps(chunk)) for chunk in chunks[max(data)])
    model.exchange = f"pickle {_bytes(moved)}"
    model.calls = {n: (lambda c=c: sum(pool.map(simple_abs_range, c))) for n, c in chunks.items()}
    model.moves = {n: (lambda c=c: sum(pool.map(len, c))) for n, c in chunks.items()}
    return model


def subinterpreters(data, workers: int, stack: ExitStack) -> Model:
    model = Model("sub-interpreters", "parallel", "shared buffer")
    if _interpreters is None:
        model.unavailable = f"not in this Python ({sys.version.split()[0]}; 3.13+ has _interpreters)"
        return model
    # Each interpreter has its own GIL. numpy cannot load in one, so its chunk
    # arrives as a shared memoryview (not a copy) and the total leaves through another.
    code = ("xs = memoryview(data).cast('B').cast('i')\n"
            "total = 0\n"
            "for x in xs: total += abs(x - 50)\n"
            "memoryview(out).cast('B').cast('q')[0] = total\n")

    def start() -> list[int]:
        ids = [_interpreters.create() for _ in range(workers)]
        for interpreter in ids:
            stack.callback(_interpreters.destroy, interpreter)
            _interpreters.exec(interpreter, "import _interpreters")
        return ids

    ids = _timed_start(model, start)

    def run(a) -> int:
        chunks = numpy.array_split(a, workers)
        outs = [bytearray(8) for _ in ids]
        failures: list[object] = []

        def work(k: int) -> None:
            failure = _interpreters.exec(ids[k], code, shared={"data": memoryview(chunks[k]), "out": memoryview(outs[k])})
            if failure:
                failures.append(failure)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise RuntimeError(f"sub-interpreter failed: {failures[0]}")
        return sum(int.from_bytes(out, "little", signed=True) for out in outs)

    model.calls = {n: (lambda a=a: run(a)) for n, a in data.items()}
    return model


def vectorized(data) -> Model:
    model = Model("numpy", "vectorized")
    model.calls = {n: (lambda a=a: int(numpy.abs(a - 50).sum())) for n, a in data.items()}
    return model


def unlocked_auto(data) -> Model:
    model = Model("Unlocked auto", "parallel", "in place")
    # What the first call on a thread pays: its runtime (topology, workers, calibration).
    _timed_start(model, lambda: unlocked.absdist_sum(data[min(data)][:1]))
    chosen: dict[int, str] = {}

    def remember(n: int, a) -> int:
        value = unlocked.absdist_sum(a)
        chosen[n] = unlocked.last_call().engine
        return value

    model.calls = {n: (lambda n=n, a=a: remember(n, a)) for n, a in data.items()}
    model.detail = lambda: "auto chose " + " / ".join(chosen[n] for n in sorted(chosen))
    return model


def unlocked_pool(data, workers: int, stack: ExitStack) -> Model:
    model = Model("Unlocked lockfree-pool", "parallel", "in place")
    pool = _timed_start(model, lambda: stack.enter_context(unlocked.Pool(engine="lockfree-pool", workers=workers)))
    model.calls = {n: (lambda a=a: pool.absdist_sum(a)) for n, a in data.items()}
    return model


# A sample of a fast call is this many seconds of back-to-back calls (like
# timeit's autorange), so it measures the call, not the cache misses and
# wake-ups that one isolated microsecond call would meet between the others.
SAMPLE_SECONDS = 0.002


def measure(models: list[Model], sizes: list[int], rounds: dict[int, int], deadline: float,
            say: Callable[[str], None]) -> dict[int, int]:
    """Runs every call for ``rounds[size]`` samples, interleaved: each round
    runs every model once in its own shuffled order. Untimed warm-up calls
    first (the small size; the large one too for calls fast at the small)
    decide how many back-to-back calls make one sample. A round that would
    end after ``deadline`` (perf_counter) is not started, but every size gets
    one. Returns the rounds run per size."""
    small, large = sizes

    def entries(n: int):
        found = [(m, "call", m.calls[n]) for m in models if not m.unavailable]
        return found + [(m, "move", m.moves[n]) for m in models if m.moves]

    def repeats(seconds: float) -> int:
        return max(1, min(1000, int(SAMPLE_SECONDS / max(seconds, 1e-7))))

    batch: dict[tuple[str, int, str], int] = {}
    say("warm-up")
    for model, what, call in entries(small):
        call()  # first calls may set things up
        began = time.perf_counter()
        call()
        batch[(model.name, small, what)] = repeats(time.perf_counter() - began)
    for model, what, call in entries(large):
        if batch[(model.name, small, what)] > 1:
            call()
            began = time.perf_counter()
            call()
            batch[(model.name, large, what)] = repeats(time.perf_counter() - began)
        else:
            batch[(model.name, large, what)] = 1

    samples: dict[tuple[str, int, str], list[float]] = {}
    done = {n: 0 for n in sizes}
    for n in sizes:
        for round_number in range(1, rounds[n] + 1):
            began_round = time.perf_counter()
            if round_number > 1 and began_round + last_round > deadline:
                break
            calls = entries(n)
            random.Random(round_number * 7919 + n).shuffle(calls)
            say(f"round {round_number} of {rounds[n]} at {n:,}")
            for model, what, call in calls:
                count = batch[(model.name, n, what)]
                cpu = time.process_time()
                began = time.perf_counter()
                for _ in range(count):
                    value = call()
                elapsed = time.perf_counter() - began
                cpu = time.process_time() - cpu
                if what == "call":
                    model.results[n] = value
                samples.setdefault((model.name, n, what), []).append(elapsed / count)
                samples.setdefault((model.name, n, what + " cpu"), []).append(cpu / count)
            last_round = time.perf_counter() - began_round
            done[n] = round_number
    for model in models:
        for n in sizes:
            if not model.unavailable:
                model.times[n] = statistics.median(samples[(model.name, n, "call")])
                model.cpu_times[n] = statistics.median(samples[(model.name, n, "call cpu")])
            if model.moves:
                model.move_times[n] = statistics.median(samples[(model.name, n, "move")])
    return done


def _seconds(s: float | None) -> str:
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            value = s / scale
            return f"{value:.2g}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{s * 1e9:.0f}ns"


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.2g}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{n}B"


def _ratio(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


def _size(n: int) -> str:
    return f"{n >> 20}Mi" if n % (1 << 20) == 0 else f"{n >> 10}Ki" if n % 1024 == 0 else f"{n:,}"


WIDTHS = (22, 10, 8, 18, 8, 8, 6, 6)


def table(models: list[Model], sizes: list[int]) -> list[str]:
    """The table: 100 columns at most."""
    small, large = sizes
    loop = models[0]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS))).rstrip()

    lines = [line(("model", "execution", "start-up", "exchange", _size(small), _size(large), "×loop", "×loop")),
             "  ".join("-" * w for w in WIDTHS)]
    for m in models:
        if m.unavailable:
            lines.append(line((m.name, m.execution, "", m.unavailable)))
            continue
        exchange = f"{m.exchange} {_seconds(m.move_times[large])}" if m.moves else m.exchange
        lines.append(line((m.name, m.execution, _seconds(m.startup), exchange, _seconds(m.times[small]),
                           _seconds(m.times[large]), _ratio(loop.times[small] / m.times[small]),
                           _ratio(loop.times[large] / m.times[large]))))
    return lines


def verdicts(models: list[Model], sizes: list[int], exact: dict[int, int], workers: int) -> list[str]:
    """One line per row, from the numbers above it."""
    small, large = sizes
    loop = models[0]
    numpy_row = next(m for m in models if m.name == "numpy")
    lines = []
    for m in models:
        if m.unavailable:
            lines.append(f"{m.name}: {m.unavailable}.")
            continue
        wrong = [n for n in sizes if m.results[n] != exact[n]]
        if wrong:
            n = wrong[0]
            lines.append(f"{m.name}: WRONG RESULT at {_size(n)}: {m.results[n]} instead of {exact[n]}.")
            continue
        speed = {n: loop.times[n] / m.times[n] for n in sizes}
        if m is loop:
            lines.append(f"plain loop: the reference, {_seconds(m.times[large] / large)} per element "
                         "(each element a boxed numpy scalar).")
        elif m.execution == "GIL-bound":
            # CPU time is the work done, whatever else runs on the machine; the clock is what a user waits.
            cpu = m.cpu_times[small] / loop.cpu_times[small]
            cause = "the GIL runs one thread at a time"
            if "100" in m.name:
                cause += ", and starting 100 threads costs more than their work"
            if speed[small] < 1:
                lines.append(f"{m.name}: {_ratio(1 / speed[small])}× slower than the loop at {_size(small)} "
                             f"({_ratio(cpu)}× its CPU time) — the talk's finding, reproduced: {cause}.")
            elif cpu > 1:
                lines.append(f"{m.name}: {_ratio(cpu)}× the loop's CPU time at {_size(small)}, the talk's finding, "
                             f"but by the clock {speed[small]:.2f}× as fast on this run: other programs keep the "
                             f"CPUs busy and the scheduler gives the threads more turns than the one loop.")
            else:
                lines.append(f"{m.name}: {_ratio(speed[small])}× the loop at {_size(small)} by the clock and "
                             f"{_ratio(cpu)}× its CPU time: the talk's finding is NOT reproduced on this run.")
        elif m.execution == "concurrent":
            lines.append(f"{m.name}: {_ratio(speed[small])}× the loop: concurrent, not parallel — one thread "
                         "interleaves the coroutines, and this loop never waits.")
        elif m.moves:
            share = m.move_times[large] / m.times[large]
            lines.append(f"{m.name}: {_ratio(speed[large])}× the loop at {_size(large)} on {workers} workers, after "
                         f"{_seconds(m.startup)} to start them; moving the data is {share:.0%} of a call.")
        elif m.name == "sub-interpreters":
            lines.append(f"sub-interpreters: {_ratio(speed[large])}× the loop at {_size(large)} with a GIL each, "
                         f"{_seconds(m.startup)} to start {workers}; chunks are shared, not copied.")
        elif m is numpy_row:
            lines.append(f"numpy: {_ratio(speed[small])}× the loop at {_size(small)}: vectorized C on one core, with "
                         "a temporary array per call.")
        else:
            over_numpy = {n: numpy_row.times[n] / m.times[n] for n in sizes}
            detail = f" ({m.detail()})" if m.detail else ""
            lines.append(f"{m.name}: {_ratio(over_numpy[small])}× numpy at {_size(small)} and "
                         f"{_ratio(over_numpy[large])}× at {_size(large)}, {_ratio(speed[large])}× the loop; the GIL "
                         f"is released and the array read in place{detail}.")
    return lines


def main(quick: bool, size_large: int | None, progress: bool) -> list[str]:
    small = 100_000
    large = size_large or ((1 << 19) if quick else (4 << 20))
    if large <= small:
        raise ValueError(f"--size-large {large}: must exceed {small:,}, the talk's size")
    sizes = [small, large]
    rounds = {small: 3 if quick else 7, large: 2 if quick else 3}
    workers = unlocked.get_num_threads()
    rng = numpy.random.default_rng(2024)
    data = {n: rng.integers(0, 100, n, dtype=numpy.int32) for n in sizes}
    exact = {n: int(numpy.abs(a.astype(numpy.int64) - 50).sum()) for n, a in data.items()}

    def say(text: str) -> None:
        if progress:
            print(f"\r\033[Kpython -m unlocked: {text} ...", end="", file=sys.stderr, flush=True)

    deadline = time.perf_counter() + (20 if quick else 60) - 5  # minus the time to stop the models
    with ExitStack() as stack:
        say("starting the models")
        models = [plain_loop(data), f_threaded(data), thread_pool(data, workers, stack), coroutines(data, stack)]
        models += [processes(data, method, workers, stack) for method in ("fork", "forkserver", "spawn")]
        models += [subinterpreters(data, workers, stack), vectorized(data), unlocked_auto(data),
                   unlocked_pool(data, workers, stack)]
        done = measure(models, sizes, rounds, deadline, say)
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    cpus = len(os.sched_getaffinity(0))
    lines = [f"abs(x - 50) summed over {small:,} and {large:,} int32 in [0, 100), centre 50; "
             f"{workers} workers where parallel.",
             f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, unlocked {unlocked.__version__}; "
             f"per call, medians of {done[small]} and {done[large]} interleaved rounds."]
    if load > cpus:
        lines.append(f"Load average {load:.1f} on {cpus} CPUs: the machine is busy, and times are noisy.")
    if done != rounds:
        lines.append(f"Rounds were cut to stay within {20 if quick else 60} s (asked {rounds[small]} and {rounds[large]}).")
    lines.append("")
    lines += table(models, sizes)
    lines.append("")
    lines += verdicts(models, sizes, exact, workers)
    return lines

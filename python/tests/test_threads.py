"""Calls release the GIL; a Pool refuses a second thread instead of racing it."""

from __future__ import annotations

import os
import threading
import time

import numpy
import pytest

import unlocked


def test_two_threads_calls_overlap_in_time():
    # Each thread has its own large array and (module functions keep one
    # runtime per thread) its own runtime. The library reports when each job
    # began and how long it ran: had the first call held the GIL, the second
    # could not have entered the library before the first left it.
    arrays = [numpy.full(64 << 20, 7, dtype=numpy.int32) for _ in range(2)]
    barrier = threading.Barrier(2)
    calls: list[unlocked.CallInfo | None] = [None, None]
    results = [0, 0]

    def call(k: int) -> None:
        unlocked.absdist_sum(arrays[k][:16], engine="sequential", workers=1)  # runtime made before the race
        barrier.wait()
        results[k] = unlocked.absdist_sum(arrays[k], engine="sequential", workers=1)
        calls[k] = unlocked.last_call(engine="sequential", workers=1)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [43 * (64 << 20)] * 2
    a, b = calls
    overlap = min(a.started + a.seconds, b.started + b.seconds) - max(a.started, b.started)
    shorter = min(a.seconds, b.seconds)
    assert overlap > 0.5 * shorter, f"the calls overlapped {overlap * 1e3:.2f} ms of {shorter * 1e3:.2f} ms"


def test_a_busy_pool_refuses_another_thread():
    big = numpy.ones(128 << 20, dtype=numpy.int32)
    with unlocked.Pool(engine="sequential", workers=1) as pool:
        inside = threading.Event()
        done = threading.Event()

        def long_calls() -> None:
            for _ in range(20):
                if done.is_set():
                    break
                inside.set()
                pool.absdist_sum(big)

        thread = threading.Thread(target=long_calls)
        thread.start()
        inside.wait()
        refused = None
        deadline = time.monotonic() + 30
        while refused is None and thread.is_alive() and time.monotonic() < deadline:
            try:
                pool.absdist_sum(big[:4])
            except RuntimeError as error:
                refused = error
        done.set()
        thread.join()
    assert refused is not None and "Pool busy" in str(refused)


def test_module_functions_keep_a_runtime_per_thread():
    seen: list[int] = []

    def call() -> None:
        unlocked.absdist_sum(numpy.arange(10, dtype=numpy.int32))
        seen.append(id(unlocked._thread_runtime("auto", None, None)))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 3


def test_a_closed_pool_leaves_the_thread_its_cpus():
    # A pinned Pool pins its calling thread (worker 0) while it lives; module
    # functions called meanwhile keep an unpinned runtime on the same thread,
    # which must not keep that pin once the Pool is closed (else every thread
    # and process this one starts later would be confined to one CPU).
    allowed = os.sched_getaffinity(0)
    a = numpy.arange(100_000, dtype=numpy.int32)
    result: list[set[int]] = []

    def calls() -> None:
        with unlocked.Pool(engine="lockfree-pool", workers=min(2, len(allowed)), pin="compact") as pool:
            pool.absdist_sum(a)
            unlocked.absdist_sum(a, engine="sequential", workers=1)
            result.append(os.sched_getaffinity(0))
        unlocked.absdist_sum(a, engine="sequential", workers=1)
        result.append(os.sched_getaffinity(0))

    thread = threading.Thread(target=calls)  # pins a thread of its own, not pytest's
    thread.start()
    thread.join()
    assert len(result[0]) == 1 and result[0] <= allowed
    assert result[1] == allowed

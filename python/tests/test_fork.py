"""A runtime warmed up before fork() works in the children (multiprocessing's
fork method): the children start workers of their own, nothing deadlocks."""

from __future__ import annotations

import multiprocessing

import numpy

import unlocked

DATA = numpy.random.default_rng(7).integers(0, 100, 1 << 20, dtype=numpy.int32)
EXPECTED = int(numpy.abs(DATA.astype(numpy.int64) - 50).sum())
POOLS: dict[str, unlocked.Pool] = {}


def in_child(engine: str) -> tuple[int, int]:
    return unlocked.absdist_sum(DATA), POOLS[engine].absdist_sum(DATA)


def test_fork_children_use_inherited_runtimes():
    assert unlocked.absdist_sum(DATA) == EXPECTED  # this thread's runtime is warm
    for engine in ("lockfree-pool", "auto", "processes-shm"):
        POOLS[engine] = unlocked.Pool(engine=engine, workers=2)
        assert POOLS[engine].absdist_sum(DATA) == EXPECTED
    try:
        with multiprocessing.get_context("fork").Pool(2) as children:
            pending = children.map_async(in_child, ["lockfree-pool", "auto", "processes-shm"] * 2)
            results = pending.get(timeout=120)  # a deadlock fails here instead of hanging
        assert results == [(EXPECTED, EXPECTED)] * 6
        # The parent's workers were left alone.
        for pool in POOLS.values():
            assert pool.absdist_sum(DATA) == EXPECTED
    finally:
        for pool in POOLS.values():
            pool.close()

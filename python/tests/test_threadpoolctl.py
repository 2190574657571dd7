"""threadpoolctl sees libunlocked and its limits reach runtimes that follow the default."""

from __future__ import annotations

import numpy
import threadpoolctl

import unlocked


def test_threadpoolctl_lists_and_limits_unlocked():
    infos = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "unlocked"]
    assert len(infos) == 1
    assert infos[0]["num_threads"] == unlocked.get_num_threads()
    assert infos[0]["version"] == unlocked.__version__
    before = unlocked.get_num_threads()
    a = numpy.arange(1 << 20, dtype=numpy.int32)
    with unlocked.Pool(engine="lockfree-pool") as pool:  # workers=None: follows the limit
        pool.absdist_sum(a)
        assert pool.last_call.workers == before
        with threadpoolctl.threadpool_limits(limits=1, user_api="unlocked"):
            assert unlocked.get_num_threads() == 1
            assert pool.absdist_sum(a) == int(numpy.abs(a.astype(numpy.int64) - 50).sum())
            assert pool.last_call.workers == 1
        assert unlocked.get_num_threads() == before
        pool.absdist_sum(a)
        assert pool.last_call.workers == before


def test_plain_limits_reach_unlocked_too():
    with threadpoolctl.threadpool_limits(1):
        assert unlocked.get_num_threads() == 1

"""The reductions' C fast path (unlocked._fastcall): it takes exactly the
common case, gives what the general ctypes path gives, and hands everything
else back (None) so the general path runs or refuses it."""

from __future__ import annotations

import numpy
import pytest

import unlocked
from unlocked import _fastcall, _library

SUM = _library.kernel_address("absdist.sum")
STREAM = _library.kernel_address("stream.sum")


@pytest.fixture(scope="module")
def runtime():
    runtime = _library.Runtime("sequential", 1, None, None)
    yield runtime
    runtime.close()


def general(center):
    """The same centre as a numpy scalar, which only the general path takes."""
    return numpy.int64(center) if isinstance(center, int) else numpy.float64(center)


@pytest.mark.parametrize("dtype", [numpy.int32, numpy.int64, numpy.float32, numpy.float64])
def test_common_case_is_taken(runtime, dtype, rng):
    a = (rng.random(1001) * 100).astype(dtype)
    center = 50 if a.dtype.kind == "i" else 50.5
    value = _fastcall.reduce(runtime.address, SUM, a, center)
    assert value is not None and type(value) is (int if a.dtype.kind == "i" else float)
    assert value == unlocked.absdist_sum(a, general(center))
    read_only = a.reshape(7, 11, 13)
    read_only.flags.writeable = False
    assert _fastcall.reduce(runtime.address, SUM, read_only, center) == value
    assert _fastcall.reduce(runtime.address, SUM, a[:0], center) == 0
    assert _fastcall.reduce(runtime.address, SUM, a[3:4].reshape(()), center) == abs(a[3].item() - center)
    if a.dtype.kind == "f":  # an int centre is a real number too
        assert _fastcall.reduce(runtime.address, SUM, a, 50) == unlocked.absdist_sum(a, 50.0)


@pytest.mark.parametrize("a,center", [
    (numpy.arange(10, dtype=numpy.int32)[::2], 5),            # not C-contiguous
    (numpy.arange(10, dtype=">i4"), 5),                       # not native byte order
    (numpy.arange(10, dtype=numpy.uint32), 5),                # another dtype
    (numpy.arange(10, dtype=numpy.int16), 5),
    (list(range(10)), 5),                                     # not an array
    (memoryview(numpy.arange(10, dtype=numpy.int32)), 5),
    (numpy.arange(10, dtype=numpy.int32), numpy.int32(5)),    # centre not an exact int
    (numpy.arange(10, dtype=numpy.int32), 5.0),
    (numpy.arange(10, dtype=numpy.int32), True),
    (numpy.arange(10, dtype=numpy.int32), 2 ** 31),           # centre out of range
    (numpy.arange(10, dtype=numpy.int64), -2 ** 63 - 1),
    (numpy.arange(10, dtype=numpy.float64), 10 ** 400),       # too large for a double
    (numpy.arange(10, dtype=numpy.float64), "5"),
])
def test_everything_else_is_handed_back(runtime, a, center):
    assert _fastcall.reduce(runtime.address, SUM, a, center) is None


@pytest.mark.parametrize("values,center,kernel", [
    ([2 ** 63 - 1] * 3, -2 ** 63, SUM),            # 3 · (2^64 − 1): above 64 bits
    ([-2 ** 63] * 3, None, STREAM),                # −3 · 2^63: below −2^64
    ([-2 ** 63, 2 ** 63 - 1, -5], None, STREAM),   # −6: high word all ones
    ([2 ** 63 - 1] * 2 + [1], None, STREAM),       # 2^64 − 1 exactly
])
def test_128_bit_results_match_the_general_path(runtime, values, center, kernel):
    a = numpy.array(values, dtype=numpy.int64)
    fast = _fastcall.reduce(runtime.address, kernel, a, 0 if center is None else center)
    exact = sum(values) if center is None else sum(abs(v - center) for v in values)
    assert type(fast) is int and fast == exact
    if kernel == SUM:
        assert unlocked.absdist_sum(a, general(center)) == exact
    else:
        assert unlocked.stream_sum(a) == exact


def test_library_errors_become_the_usual_exceptions(runtime):
    with pytest.raises(ValueError, match="no.such"):
        _fastcall.reduce(runtime.address, _library.kernel_address("no.such"), numpy.zeros(4, numpy.int32), 0)


@pytest.mark.parametrize("engine", ["sequential", "lockfree-pool"])
def test_repeated_calls_follow_the_callers_arrays(engine, rng):
    """The C API reuses its job buffer while the caller passes the same memory:
    new contents, another array of the same size, and a prefix of the same
    memory must each be read afresh."""
    a = rng.integers(0, 100, 10_000, dtype=numpy.int32)
    b = rng.integers(0, 100, 10_000, dtype=numpy.int32)
    with unlocked.Pool(engine=engine, workers=2) as pool:
        for array in (a, a, b, a[:5000], a):
            assert pool.absdist_sum(array) == int(numpy.abs(array.astype(numpy.int64) - 50).sum())
        a[:] = 99
        assert pool.absdist_sum(a) == 49 * a.size
        out = numpy.empty(a.size, numpy.uint32)
        for array in (a, b):
            pool.absdist_map(array, 50, out)
            assert numpy.array_equal(out, numpy.abs(array.astype(numpy.int64) - 50))

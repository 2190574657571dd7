"""Results are exact (integers) or within the documented bound (floats), for
every dtype, extreme values, shapes, engines and the map kernel."""

from __future__ import annotations

import math

import numpy
import pytest

import unlocked

INT_TYPES = (numpy.int32, numpy.int64)
FLOAT_TYPES = (numpy.float32, numpy.float64)


def exact_absdist(a: numpy.ndarray, center: int) -> int:
    """Σ|x − c| in Python integers: no width can overflow."""
    return sum(abs(int(x) - center) for x in a.ravel().tolist())


def float_reference(a: numpy.ndarray, center: float) -> tuple[float, float]:
    """The exactly rounded sum of the once-rounded distances, and the documented bound."""
    distances = numpy.abs(a - a.dtype.type(center)).astype(numpy.float64)
    exact = math.fsum(distances.ravel().tolist())
    return exact, (a.size - 1) * 2.0 ** -53 * exact


def extremes(dtype) -> numpy.ndarray:
    info = numpy.iinfo(dtype)
    return numpy.array([info.min, info.max, info.min, -1, 0, 1, info.max, info.min + 1, info.max - 1] * 111, dtype=dtype)


@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("engine", ["auto", "sequential", "lockfree-pool", "processes-shm"])
def test_integer_sums_are_exact_python_ints(dtype, engine, rng):
    info = numpy.iinfo(dtype)
    for a, center in [(rng.integers(0, 100, 100_003, dtype=dtype), 50),
                      (extremes(dtype), info.max), (extremes(dtype), info.min), (extremes(dtype), 0)]:
        result = unlocked.absdist_sum(a, center, engine=engine, workers=2)
        assert type(result) is int
        assert result == exact_absdist(a, center)


def test_int64_extremes_exceed_64_bits():
    a = numpy.full(1000, numpy.iinfo(numpy.int64).min, dtype=numpy.int64)
    result = unlocked.absdist_sum(a, numpy.iinfo(numpy.int64).max)
    assert result == 1000 * (2 ** 64 - 1) and result > 2 ** 64


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_stream_sum_is_exact_and_signed(dtype):
    info = numpy.iinfo(dtype)
    a = numpy.array([info.min] * 5000 + [info.max] * 100, dtype=dtype)
    result = unlocked.stream_sum(a, engine="lockfree-pool", workers=2)
    assert type(result) is int and result == 5000 * int(info.min) + 100 * int(info.max) < 0


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
@pytest.mark.parametrize("engine", ["auto", "lockfree-pool"])
def test_float_sums_within_bound(dtype, engine, rng):
    a = (rng.standard_normal(250_001) * 1e3).astype(dtype)
    a[:3] = [numpy.finfo(dtype).max / 4, -numpy.finfo(dtype).max / 4, 0.0]
    for center in (50, -0.25, 1e3):
        exact, bound = float_reference(a, center)
        result = unlocked.absdist_sum(a, center, engine=engine, workers=2)
        assert type(result) is float
        assert abs(result - exact) <= bound
    assert unlocked.stream_sum(numpy.array([1.5, -2.25], dtype=dtype)) == -0.75


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_nan_propagates(dtype):
    a = numpy.array([1.0, numpy.nan, 3.0], dtype=dtype)
    assert math.isnan(unlocked.absdist_sum(a))
    assert numpy.isnan(unlocked.absdist_map(a)[1])


def test_any_shape_is_read_in_c_order(rng):
    a = rng.integers(-1000, 1000, (7, 11, 13), dtype=numpy.int64)
    assert unlocked.absdist_sum(a, 3) == exact_absdist(a, 3)
    zero_d = numpy.array(7, dtype=numpy.int32)
    assert unlocked.absdist_sum(zero_d, 50) == 43


def test_empty_arrays():
    for dtype in INT_TYPES + FLOAT_TYPES:
        empty = numpy.empty(0, dtype)
        assert unlocked.absdist_sum(empty) == 0
        assert unlocked.absdist_map(empty).shape == (0,)


def test_read_only_input_is_read_in_place(rng):
    a = rng.integers(0, 100, 10_000, dtype=numpy.int32)
    a.flags.writeable = False
    assert unlocked.absdist_sum(a) == exact_absdist(a, 50)


@pytest.mark.parametrize("dtype,distance", [(numpy.int32, numpy.uint32), (numpy.int64, numpy.uint64),
                                            (numpy.float32, numpy.float32), (numpy.float64, numpy.float64)])
def test_map_equals_numpy(dtype, distance, rng):
    if numpy.issubdtype(dtype, numpy.integer):
        info = numpy.iinfo(dtype)
        a = numpy.concatenate([rng.integers(info.min, info.max, 100_002, dtype=dtype, endpoint=True),
                               extremes(dtype)]).reshape(-1, 3)
        center = int(info.min) + 12345
        expected = numpy.array([abs(int(x) - center) for x in a.ravel().tolist()], dtype=distance).reshape(a.shape)
    else:
        a = (rng.standard_normal(300_003) * 1e6).astype(dtype).reshape(3, -1)
        center = 0.1
        expected = numpy.abs(a - dtype(center))
    for engine in ("auto", "lockfree-pool", "processes-pipe"):
        result = unlocked.absdist_map(a, center, engine=engine, workers=2)
        assert result.dtype == distance and result.shape == a.shape
        numpy.testing.assert_array_equal(result, expected)


def test_map_writes_into_out_without_copying(rng):
    a = rng.integers(0, 100, 50_000, dtype=numpy.int32)
    out = numpy.zeros(50_000, dtype=numpy.uint32)
    returned = unlocked.absdist_map(a, 50, out=out)
    assert returned is out
    numpy.testing.assert_array_equal(out, numpy.abs(a.astype(numpy.int64) - 50).astype(numpy.uint32))


def test_map_in_place_over_its_own_input(rng):
    a = rng.standard_normal(10_000)
    expected = numpy.abs(a - 2.0)
    unlocked.absdist_map(a, 2.0, out=a)
    numpy.testing.assert_array_equal(a, expected)


def test_pool_keeps_one_runtime_and_matches(rng):
    a = rng.integers(0, 100, 1 << 20, dtype=numpy.int32)
    expected = exact_absdist(a, 50)
    with unlocked.Pool(engine="lockfree-pool", workers=2) as pool:
        for _ in range(5):
            assert pool.absdist_sum(a) == expected
        assert pool.last_call.engine == "lockfree-pool" and pool.last_call.workers == 2
        numpy.testing.assert_array_equal(pool.absdist_map(a[:100]), numpy.abs(a[:100] - 50).astype(numpy.uint32))
        assert pool.stream_sum(a) == int(a.sum(dtype=numpy.int64))
    with pytest.raises(ValueError, match="closed"):
        pool.absdist_sum(a)


@pytest.mark.parametrize("engine", unlocked.ENGINES)
def test_every_engine_gives_the_same_result(engine, rng):
    a = rng.integers(-(2 ** 31), 2 ** 31 - 1, 200_000, dtype=numpy.int32)
    with unlocked.Pool(engine=engine, workers=2) as pool:
        assert pool.absdist_sum(a, 7) == exact_absdist(a, 7)


def test_topology_names_the_allowed_cpus():
    topology = unlocked.topology()
    assert topology["context"]["allowed_cpus"] and topology["topology"]["pus"]
    assert 1 <= unlocked.get_num_threads() <= topology["context"]["allowed_cores"]

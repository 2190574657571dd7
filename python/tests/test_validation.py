"""Bad input is refused with TypeError/ValueError naming what was given and
what is accepted: never a crash, never a silent copy or conversion."""

from __future__ import annotations

import numpy
import pytest

import unlocked

A = numpy.arange(100, dtype=numpy.int32)


@pytest.mark.parametrize("given,named", [([1, 2, 3], "list"), ("abc", "str"), (None, "NoneType"), (b"\x00" * 8, "bytes"),
                                         (memoryview(A), "memoryview"), (3, "int")])
def test_non_arrays_are_refused(given, named):
    with pytest.raises(TypeError, match=rf"got {named}.*never converts"):
        unlocked.absdist_sum(given)


@pytest.mark.parametrize("dtype", [numpy.uint8, numpy.int16, numpy.uint32, numpy.uint64, numpy.float16, numpy.bool_,
                                   numpy.complex128, object, ">i4", ">f8", "U3"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(TypeError, match=r"is not accepted \(accepted: int32, int64, float32 or float64"):
        unlocked.absdist_sum(numpy.zeros(4, dtype=dtype))
    with pytest.raises(TypeError, match="not accepted"):
        unlocked.absdist_map(numpy.zeros(4, dtype=dtype))


def test_structured_dtype_is_refused():
    with pytest.raises(TypeError, match="not accepted"):
        unlocked.stream_sum(numpy.zeros(4, dtype=[("x", numpy.int32), ("y", numpy.int32)]))


@pytest.mark.parametrize("view", [A[::2], numpy.asfortranarray(A.reshape(10, 10)), A.reshape(10, 10).T,
                                  A.reshape(10, 10)[:, :5]])
def test_non_contiguous_views_are_refused(view):
    with pytest.raises(ValueError, match=r"not C-contiguous.*ascontiguousarray"):
        unlocked.absdist_sum(view)


def test_out_must_fit_exactly():
    with pytest.raises(TypeError, match=r"dtype int32 is not accepted \(accepted: uint32"):
        unlocked.absdist_map(A, out=numpy.empty(100, numpy.int32))
    with pytest.raises(ValueError, match=r"shape \(99,\) differs"):
        unlocked.absdist_map(A, out=numpy.empty(99, numpy.uint32))
    with pytest.raises(ValueError, match="not C-contiguous"):
        unlocked.absdist_map(A, out=numpy.empty(200, numpy.uint32)[::2])
    read_only = numpy.empty(100, numpy.uint32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        unlocked.absdist_map(A, out=read_only)
    with pytest.raises(TypeError, match="got list"):
        unlocked.absdist_map(A, out=[0] * 100)


@pytest.mark.parametrize("center,error,text", [
    (50.5, ValueError, r"center 50\.5: not a whole number \(accepted for int32 arrays: integers in \[-2147483648, 2147483647\]\)"),
    (2 ** 31, ValueError, r"center 2147483648: out of range for int32"),
    ("50", TypeError, r"center '50': not a number"),
    (True, TypeError, r"center True: not a number"),
    (float("nan"), ValueError, "not a whole number"),
    (None, TypeError, "not a number"),
])
def test_bad_centres_for_integer_arrays(center, error, text):
    with pytest.raises(error, match=text):
        unlocked.absdist_sum(A, center)


def test_centre_types_that_are_accepted():
    assert unlocked.absdist_sum(A, 50.0) == unlocked.absdist_sum(A, numpy.int64(50)) == unlocked.absdist_sum(A, 50)
    assert unlocked.absdist_sum(A.astype(numpy.int64), -(2 ** 63)) == sum(x + 2 ** 63 for x in range(100))
    f = A.astype(numpy.float64)
    assert unlocked.absdist_sum(f, 49.5) == unlocked.absdist_sum(f, numpy.float32(49.5)) == 2500.0
    with pytest.raises(TypeError, match="not a real number"):
        unlocked.absdist_sum(f, 1j)


@pytest.mark.parametrize("kwargs,error,text", [
    ({"engine": "threads"}, ValueError, r'engine "threads": unknown \(accepted: sequential, spawn'),
    ({"engine": 3}, TypeError, "engine 3: expected a str"),
    ({"workers": 0}, ValueError, r"workers 0: accepted 1\.\.\.4096"),
    ({"workers": "2"}, TypeError, "workers '2': expected an int"),
    ({"workers": True}, TypeError, "expected an int"),
    ({"pin": "everywhere"}, ValueError, r"pin everywhere: .*accepted"),
    ({"pin": "compact", "workers": 4096}, ValueError, r'use pin "none" to share CPUs'),
])
def test_bad_options(kwargs, error, text):
    with pytest.raises(error, match=text) as caught:
        unlocked.absdist_sum(A, **kwargs)
    assert "--" not in str(caught.value)


def test_bad_pool_options():
    with pytest.raises(ValueError, match="memory on-the-moon: not a memory policy"):
        unlocked.Pool(memory="on-the-moon")
    with pytest.raises(ValueError, match="unknown"):
        unlocked.Pool(engine="gpu")


def test_unknown_kernel_lists_what_exists():
    with unlocked.Pool(engine="sequential") as pool, pytest.raises(
            ValueError, match=r"kernel absdist\.prod: unknown kernel \(accepted: absdist\.sum, absdist\.map, stream\.sum\)"):
        pool.run("absdist.prod", A)
    with pytest.raises(TypeError, match="kernel 7: expected a str"):
        unlocked.run(7, A)
    with pytest.raises(ValueError, match="reduction and writes no array"):
        unlocked.run("absdist.sum", A, out=numpy.empty(100, numpy.uint32))


def test_set_num_threads_refuses_nonsense():
    with pytest.raises(ValueError, match=r"unlocked_set_num_threads\(0\): accepted 1\.\.\.4096"):
        unlocked.set_num_threads(0)
    with pytest.raises(TypeError, match="expected an int"):
        unlocked.set_num_threads(2.0)


def test_refusals_copy_nothing_and_leave_input_alone():
    a = numpy.arange(10, dtype=numpy.int16)
    before = a.copy()
    with pytest.raises(TypeError):
        unlocked.absdist_map(a)
    numpy.testing.assert_array_equal(a, before)

"""Unlocked from Python: ``abs(x - c)`` over numpy arrays on every core.

The kernels run in libunlocked (vectorized C under a Swift host that pins
workers and places memory) with the GIL released for the whole call, so
other Python threads run meanwhile. Arrays are used in place, never copied:
C-contiguous ``int32``, ``int64``, ``float32`` or ``float64`` of any shape,
read in C order. Anything else is refused with ``TypeError``/``ValueError``.

>>> import numpy, unlocked
>>> a = numpy.random.randint(0, 100, 100_000).astype(numpy.int32)
>>> unlocked.absdist_sum(a) == int(numpy.abs(a.astype(numpy.int64) - 50).sum())
True
>>> with unlocked.Pool(engine="lockfree-pool", workers=2) as pool:
...     total = pool.absdist_sum(a)    # the workers stay warm between calls

Module functions keep one runtime per thread and per (engine, workers, pin),
created on first use. ``workers=None`` follows ``get_num_threads()``, which
``set_num_threads`` and threadpoolctl's ``threadpool_limits`` change.
"""

from __future__ import annotations

import numbers
import threading
from typing import NamedTuple

import numpy

from . import _fastcall, _library
from ._library import ABI_VERSION, UnlockedError

__all__ = [
    "absdist_sum", "absdist_map", "stream_sum", "run", "topology", "Pool", "CallInfo", "last_call", "UnlockedError",
    "get_num_threads", "set_num_threads", "ENGINES", "ABI_VERSION", "__version__",
]

__version__: str = _library.get_version().decode()

#: Engines a runtime can be built on (see the repository's README).
ENGINES = ("auto", "sequential", "spawn", "gil", "locked-pool", "lockfree-pool", "tasks", "gcd",
           "processes-shm", "processes-pipe")

_ACCEPTED = "int32, int64, float32 or float64 in native byte order"
_CODES = {numpy.dtype(numpy.int32): _library.I32, numpy.dtype(numpy.int64): _library.I64,
          numpy.dtype(numpy.float32): _library.F32, numpy.dtype(numpy.float64): _library.F64}
_NUMPY_TYPES = {_library.I32: numpy.dtype(numpy.int32), _library.I64: numpy.dtype(numpy.int64),
                _library.F32: numpy.dtype(numpy.float32), _library.F64: numpy.dtype(numpy.float64),
                _library.U32: numpy.dtype(numpy.uint32), _library.U64: numpy.dtype(numpy.uint64)}
# Centres accepted for integer arrays, indexed by dtype code (I32 = 1, I64 = 2).
_CENTER_LOW = (0, -(1 << 31), -(1 << 63))
_CENTER_HIGH = (0, (1 << 31) - 1, (1 << 63) - 1)
_ABSDIST_SUM = _library.kernel_address("absdist.sum")
_ABSDIST_MAP = _library.kernel_address("absdist.map")
_STREAM_SUM = _library.kernel_address("stream.sum")

_ndarray = numpy.ndarray
_from_buffer = _library.ctypes.c_char.from_buffer
_addressof = _library.ctypes.addressof


def _array(a, name: str) -> tuple[int, int]:
    """(dtype code, address) of an array the kernels may read in place."""
    if not isinstance(a, _ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray ({_ACCEPTED}, C-contiguous), got {type(a).__name__}; "
                        "Unlocked never converts: pass numpy.asarray(...) of an accepted dtype yourself")
    code = _CODES.get(a.dtype)
    if code is None:
        raise TypeError(f"{name}: dtype {a.dtype.str} ({a.dtype}) is not accepted (accepted: {_ACCEPTED}); "
                        f"convert explicitly, e.g. {name}.astype(numpy.int64)")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name}: array of shape {a.shape} with strides {a.strides} is not C-contiguous "
                         f"(accepted: C-contiguous arrays, read in place); numpy.ascontiguousarray({name}) copies it")
    try:
        return code, _addressof(_from_buffer(a))
    except (TypeError, ValueError):  # read-only or empty: the slower, general way
        return code, a.__array_interface__["data"][0]


def _output(out, name: str, shape: tuple, code: int) -> int:
    """The address of ``out``, checked to take ``shape`` elements of type ``code`` in place."""
    expected = _NUMPY_TYPES[code]
    if not isinstance(out, _ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray of {expected} or None, got {type(out).__name__}")
    if out.dtype != expected:
        raise TypeError(f"{name}: dtype {out.dtype} is not accepted (accepted: {expected}, the kernel's output type)")
    if out.shape != shape:
        raise ValueError(f"{name}: shape {out.shape} differs from the input's {shape} (accepted: the same shape)")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name}: array with strides {out.strides} is not C-contiguous (accepted: C-contiguous arrays, "
                         "written in place)")
    if not out.flags.writeable:
        raise ValueError(f"{name}: the array is read-only (accepted: writeable arrays)")
    try:
        return _addressof(_from_buffer(out))
    except ValueError:  # empty
        return out.__array_interface__["data"][0]


def _center(center, code: int) -> tuple[int, float]:
    """(center_int, center_float) for arrays of type ``code``."""
    kind = type(center)
    if code in (_library.I32, _library.I64):
        low, high = _CENTER_LOW[code], _CENTER_HIGH[code]
        if kind is int:
            value = center
        elif kind is not bool and isinstance(center, numbers.Integral):
            value = int(center)
        elif kind is not bool and isinstance(center, numbers.Real) and float(center).is_integer():
            value = int(center)
        else:
            name = _NUMPY_TYPES[code]
            if kind is bool or not isinstance(center, numbers.Real):
                raise TypeError(f"center {center!r}: not a number (accepted for {name} arrays: integers in [{low}, {high}])")
            raise ValueError(f"center {center!r}: not a whole number (accepted for {name} arrays: integers in [{low}, {high}])")
        if not low <= value <= high:
            raise ValueError(f"center {center!r}: out of range for {_NUMPY_TYPES[code]} arrays "
                             f"(accepted: integers in [{low}, {high}])")
        return value, float(value)
    if kind is float:
        return 0, center
    if kind is not bool and isinstance(center, numbers.Real):
        try:
            return 0, float(center)
        except OverflowError:
            raise ValueError(f"center {center!r}: too large for a double (accepted: real numbers)") from None
    raise TypeError(f"center {center!r}: not a real number (accepted for {_NUMPY_TYPES[code]} arrays: int or float)")


def _options(engine, workers, pin, memory=None) -> int:
    """Checks the runtime options' types; returns the C worker count (0: follow get_num_threads)."""
    if not isinstance(engine, str):
        raise TypeError(f"engine {engine!r}: expected a str (accepted: {', '.join(ENGINES)})")
    for name, value in (("pin", pin), ("memory", memory)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} {value!r}: expected a str or None")
    if workers is None:
        return 0
    if type(workers) is bool or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers {workers!r}: expected an int from 1 to 4096 or None (follow get_num_threads())")
    if not 1 <= workers <= 4096:
        raise ValueError(f"workers {workers}: accepted 1...4096, or None to follow get_num_threads()")
    return int(workers)


_local = threading.local()


def _thread_runtime(engine: str, workers, pin) -> _library.Runtime:
    """This thread's runtime for these options, created on first use."""
    try:
        return _local.__dict__[(engine, workers, pin)]
    except (KeyError, TypeError):  # none yet, or an unhashable option that _options names
        pass
    runtime = _library.Runtime(engine, _options(engine, workers, pin), pin, None)
    _local.__dict__[(engine, workers, pin)] = runtime
    return runtime


_fastcall.bind(_library.ctypes.cast(_library.run_call, _library.c_void_p).value, _ndarray, _library.error)
_fast_reduce = _fastcall.reduce
_pack_call = _library.pack_call
_run_call = _library.run_call
_unpack_result = _library.unpack_result
_RESULT_AT = _library.RESULT_AT


def _reduce(runtime: _library.Runtime, kernel: int, a, center):
    """A reduction over ``a``. The common case (a C-contiguous array of an
    accepted dtype, an int or float centre in range) is one call into
    ``_fastcall``; it returns None for anything else, which the general path
    either runs or refuses with the reason. (absdist_sum and Pool.absdist_sum
    spell the same two lines inline: a Python frame costs 0.1 µs.)"""
    value = _fast_reduce(runtime.address, kernel, a, center)
    return _reduce_general(runtime, kernel, a, center) if value is None else value


def _reduce_general(runtime: _library.Runtime, kernel: int, a, center):
    """A reduction through ctypes: any centre ``_center`` accepts, or the error."""
    code, address = _array(a, "a")
    center_int, center = _center(center, code)
    call = runtime.call
    _pack_call(call, 4, code, kernel, address, a.size, center_int, center, 0, 0, 0)
    status = _run_call(runtime.pointer)
    if status:
        raise _library.error(status)
    kind, lo, hi, f = _unpack_result(call, _RESULT_AT)
    if kind == _library.VALUE_UINT128:
        return lo | hi << 64 if hi else lo
    if kind == _library.VALUE_INT128:
        value = lo | hi << 64
        return value - (1 << 128) if hi >> 63 else value
    return f


def _map(runtime: _library.Runtime, kernel: int, a, center, out, output_code: int | None = None):
    """Runs a map kernel; ``output_code`` None means absdist's distance type of ``a``."""
    code, address = _array(a, "a")
    center_int, center_float = _center(center, code)
    if output_code is None:
        output_code = _DISTANCE_TYPES[code]
    if out is None:
        out = numpy.empty(a.shape, _NUMPY_TYPES[output_code])
    output = _output(out, "out", a.shape, output_code)
    _pack_call(runtime.call, 4, code, kernel, address, a.size, center_int, center_float, output, out.size, output_code)
    status = _run_call(runtime.pointer)
    if status:
        raise _library.error(status)
    return out


_DISTANCE_TYPES = {_library.I32: _library.U32, _library.I64: _library.U64,
                   _library.F32: _library.F32, _library.F64: _library.F64}


def _run_named(runtime: _library.Runtime, kernel: str, a, center, plugin, out):
    if not isinstance(kernel, str):
        raise TypeError(f"kernel {kernel!r}: expected a str such as 'absdist.sum' or 'sqdist:sqdist.sum'")
    if plugin is not None:
        runtime.load_plugin(plugin)
    code, _ = _array(a, "a")
    kind, output_code, _ = runtime.query(kernel, code)
    address = _library.kernel_address(kernel)
    if kind == _library.KIND_MAP:
        return _map(runtime, address, a, center, out, output_code)
    if out is not None:
        raise ValueError(f"out: kernel {kernel} is a reduction and writes no array (accepted: None)")
    return _reduce(runtime, address, a, center)


def absdist_sum(a: numpy.ndarray, center: int | float = 50, *, engine: str = "auto", workers: int | None = None,
                pin: str | None = None) -> int | float:
    """Σ |a[i] − center| over every element of ``a``.

    Args:
        a: a C-contiguous numpy array of int32, int64, float32 or float64, any
            shape (read in C order, in place: never copied).
        center: the c in |x − c|. For integer arrays an integer within the
            array type's range (a whole float such as 50.0 is accepted); for
            float arrays any real number.
        engine: how to go parallel: "auto" (one call on this thread, or the
            lock-free pool when the calibrated estimate says it is faster),
            "lockfree-pool", "sequential", ... (``unlocked.ENGINES``).
        workers: worker count; None follows ``get_num_threads()`` (and so
            threadpoolctl).
        pin: CPU binding of the workers: None (no thread is bound), "compact",
            "spread", "numa:K" or an OS CPU list such as "0-3".

    Returns:
        For integer arrays a Python ``int``, exact at any size: distances are
        summed in 128 bits, so nothing wraps (|INT32_MIN − INT32_MAX| counts as
        4294967295). For float arrays a ``float`` accumulated in double; the
        summation order depends on the instruction set and the workers, and
        the result is within (n − 1) · 2⁻⁵³ · Σ|a[i] − c| of the exact sum
        (NaN if any element is NaN).

    The GIL is released for the whole call. Raises ``TypeError`` for a
    non-array, another dtype or a non-numeric centre, ``ValueError`` for
    non-contiguous views and out-of-range centres or options.
    """
    try:  # this thread's runtime, looked up inline: the call path is the product
        runtime = _local.__dict__[(engine, workers, pin)]
    except (KeyError, TypeError):
        runtime = _thread_runtime(engine, workers, pin)
    value = _fast_reduce(runtime.address, _ABSDIST_SUM, a, center)
    return _reduce_general(runtime, _ABSDIST_SUM, a, center) if value is None else value


def absdist_map(a: numpy.ndarray, center: int | float = 50, out: numpy.ndarray | None = None, *, engine: str = "auto",
                workers: int | None = None, pin: str | None = None) -> numpy.ndarray:
    """|a − center| element by element, as an array of ``a``'s shape.

    Integer distances are unsigned so they never overflow: int32 input gives
    uint32, int64 gives uint64; float32 and float64 keep their type (each
    distance rounded once; NaN gives NaN). With ``out`` (C-contiguous,
    writeable, of exactly that dtype and ``a``'s shape) the result is
    written there in place and ``out`` returned; otherwise a new array.
    ``out`` may be ``a``'s own memory viewed as the output type (the same
    elements), not a partial overlap. Other arguments as ``absdist_sum``.
    """
    return _map(_thread_runtime(engine, workers, pin), _ABSDIST_MAP, a, center, out)


def stream_sum(a: numpy.ndarray, *, engine: str = "auto", workers: int | None = None,
               pin: str | None = None) -> int | float:
    """Σ a[i]: the read-bandwidth probe. Exact signed ``int`` for integer
    arrays (128-bit accumulation), ``float`` (double accumulation, same bound
    as ``absdist_sum``) for float arrays. Other arguments as ``absdist_sum``."""
    return _reduce(_thread_runtime(engine, workers, pin), _STREAM_SUM, a, 0)


def run(kernel: str, a: numpy.ndarray, center: int | float = 50, *, plugin: str | None = None,
        out: numpy.ndarray | None = None, engine: str = "auto", workers: int | None = None,
        pin: str | None = None):
    """Runs kernel ``kernel`` by name: a built-in one ("absdist.sum",
    "absdist.map", "stream.sum") or one of the plugin at path ``plugin``
    (a shared object built against unlocked_plugin.h, loaded once per
    runtime). Built-in kernels win a name clash; "plugin:kernel" names one
    plugin's kernel.

    Returns a reduction's value (``int`` for 128-bit integer accumulators,
    ``float`` otherwise) or, for map kernels, the output array (``out`` if
    given, checked against the kernel's output type and ``a``'s shape).
    """
    return _run_named(_thread_runtime(engine, workers, pin), kernel, a, center, plugin, out)


def topology() -> dict:
    """This machine as hwloc sees it and the CPUs this process may use: the
    JSON object of ``unlocked topo --json`` (keys "topology" and "context")."""
    return _library.topology_json()


def get_num_threads() -> int:
    """The default worker count (``workers=None``): the allowed cores
    (affinity, cgroup cpuset and CPU quota honoured) unless set."""
    return _library.get_num_threads()


def set_num_threads(n: int) -> None:
    """Sets the default worker count for the whole process (1...4096).
    Runtimes that follow it restart their workers on their next call."""
    if type(n) is bool or not isinstance(n, numbers.Integral):
        raise TypeError(f"n {n!r}: expected an int from 1 to 4096")
    _library.set_num_threads(int(n))


class CallInfo(NamedTuple):
    """How one call ran (``Pool.last_call``, ``unlocked.last_call``)."""
    engine: str     # the engine that ran it; "auto" names its choice
    workers: int    # that engine's workers
    started: float  # when the job began inside the library, on the time.monotonic() clock
    seconds: float  # from then until the result was ready

    @classmethod
    def of(cls, result: _library.Result) -> CallInfo:
        return cls(result.engine.decode(), result.workers, result.started_ns * 1e-9, result.nanoseconds * 1e-9)


def last_call(*, engine: str = "auto", workers: int | None = None, pin: str | None = None) -> CallInfo | None:
    """How this thread's last module-level call with these options ran, or
    None if it made none. (Module functions keep one runtime per thread and
    options; this reads that runtime's last result.)"""
    runtime = _local.__dict__.get((engine, workers, pin))
    if runtime is None or not runtime.last_result().engine:
        return None
    return CallInfo.of(runtime.last_result())


class Pool:
    """A runtime of your own whose workers stay started ("warm") between
    calls, closed by ``close()`` or at the end of a ``with`` block.

    >>> with unlocked.Pool(engine="lockfree-pool", workers=8, pin="spread") as pool:
    ...     pool.absdist_sum(a)

    Arguments as ``absdist_sum``; ``memory`` ("first-touch", "interleave",
    "node:K", "none") places the shared copies process engines make.
    One call at a time: a call made while another thread is inside one on the
    same pool raises ``RuntimeError`` (use a pool per thread, or the module
    functions, which keep a runtime per thread). Process engines' workers die
    with the thread that created the pool: create it on a thread that
    outlives it.
    """

    def __init__(self, engine: str = "lockfree-pool", workers: int | None = None, pin: str | None = None,
                 memory: str | None = None):
        self._runtime: _library.Runtime | None = _library.Runtime(engine, _options(engine, workers, pin, memory),
                                                                  pin, memory)
        self._lock = threading.Lock()
        self.engine, self.workers, self.pin, self.memory = engine, workers, pin, memory

    def _enter(self) -> _library.Runtime:
        if not self._lock.acquire(False):
            raise self._busy()
        if self._runtime is None:
            self._lock.release()
            raise ValueError("Pool is closed")
        return self._runtime

    @staticmethod
    def _busy() -> RuntimeError:
        return RuntimeError("Pool busy: another thread is inside a call on it (use a Pool per thread, "
                            "or the module functions, which keep a runtime per thread)")

    def absdist_sum(self, a: numpy.ndarray, center: int | float = 50) -> int | float:
        """As ``unlocked.absdist_sum``, on this pool's workers."""
        lock = self._lock  # _enter and _reduce inline: this is the call the pool is kept warm for
        if not lock.acquire(False):
            raise self._busy()
        try:
            runtime = self._runtime
            if runtime is None:
                raise ValueError("Pool is closed")
            value = _fast_reduce(runtime.address, _ABSDIST_SUM, a, center)
            return _reduce_general(runtime, _ABSDIST_SUM, a, center) if value is None else value
        finally:
            lock.release()

    def absdist_map(self, a: numpy.ndarray, center: int | float = 50,
                    out: numpy.ndarray | None = None) -> numpy.ndarray:
        """As ``unlocked.absdist_map``, on this pool's workers."""
        runtime = self._enter()
        try:
            return _map(runtime, _ABSDIST_MAP, a, center, out)
        finally:
            self._lock.release()

    def stream_sum(self, a: numpy.ndarray) -> int | float:
        """As ``unlocked.stream_sum``, on this pool's workers."""
        runtime = self._enter()
        try:
            return _reduce(runtime, _STREAM_SUM, a, 0)
        finally:
            self._lock.release()

    def run(self, kernel: str, a: numpy.ndarray, center: int | float = 50, *, plugin: str | None = None,
            out: numpy.ndarray | None = None):
        """As ``unlocked.run``, on this pool's workers."""
        runtime = self._enter()
        try:
            return _run_named(runtime, kernel, a, center, plugin, out)
        finally:
            self._lock.release()

    @property
    def last_call(self) -> CallInfo | None:
        """How the last call ran, or None before the first."""
        runtime = self._enter()
        try:
            return CallInfo.of(runtime.last_result()) if runtime.last_result().engine else None
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stops the workers; later calls raise ``ValueError``. Waits for a call in flight."""
        with self._lock:
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._runtime is None else "open"
        return f"Pool(engine={self.engine!r}, workers={self.workers!r}, pin={self.pin!r}, memory={self.memory!r}) [{state}]"


from . import _threadpoolctl  # noqa: E402  (registers the controller when threadpoolctl is installed)

_threadpoolctl.register()

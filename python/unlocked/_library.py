"""The ctypes layer over libunlocked: the structures of unlocked.h, pre-bound
prototypes, and a runtime handle that calls through one reusable call block.

Each ctypes argument costs a conversion (eleven cost more than the kernel's
microseconds at 100,000 elements), so a call packs its fields into the
runtime's ``unlocked_call`` with one ``struct.pack_into`` and passes a single
pre-built pointer to ``unlocked_run_call``. ctypes releases the GIL for the
duration of every call. Reductions in the common case skip even that: the
``_fastcall`` extension fills the same call block and calls
``unlocked_run_call`` directly (bound here to the library loaded here).
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
from ctypes import c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path

API_MAJOR = 1

# unlocked_status
OK, E_ARGUMENT, E_DTYPE, E_KERNEL, E_OPTION, E_BUSY, E_PLUGIN, E_FAILED, E_INTERNAL, E_SPACE = range(10)
# unlocked_dtype
I32, I64, F32, F64, U32, U64 = range(1, 7)
# unlocked_value_kind
VALUE_NONE, VALUE_UINT128, VALUE_INT128, VALUE_FLOAT64 = range(4)
KIND_MAP = 1


def library_path() -> str:
    """The library this package loads: ``UNLOCKED_LIBRARY`` if set (a freshly
    built ``.build/release/libUnlockedCAPI.so``, say), else the copy installed
    with the package."""
    return os.environ.get("UNLOCKED_LIBRARY") or str(Path(__file__).resolve().parent / "_native" / "libunlocked.so")


try:
    lib = ctypes.CDLL(library_path())
except OSError as error:
    raise ImportError(
        f"unlocked: cannot load {library_path()}: {error} "
        "(reinstall with `pip install ./python` after `make build`, or set UNLOCKED_LIBRARY)"
    ) from None


def _prototype(name: str, restype, *argtypes):
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_version = _prototype("unlocked_version", c_uint32)
ABI_VERSION: tuple[int, int] = (_version() >> 16, _version() & 0xFFFF)
if ABI_VERSION[0] != API_MAJOR:
    raise ImportError(f"unlocked: {library_path()} implements C API {ABI_VERSION[0]}.{ABI_VERSION[1]}; "
                      f"this package needs major version {API_MAJOR}")


class Options(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("workers", c_uint32), ("engine", c_char_p), ("pin", c_char_p),
                ("memory", c_char_p), ("worker_executable", c_char_p)]


class Result(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("value_kind", c_int32), ("lo", c_uint64), ("hi", c_uint64), ("f", c_double),
                ("started_ns", c_uint64), ("nanoseconds", c_uint64), ("workers", c_uint32),
                ("engine", ctypes.c_char * 20)]


class KernelInfo(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("kind", c_int32), ("input_dtype", c_int32), ("output_dtype", c_int32),
                ("value_kind", c_int32)]


class Call(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("dtype", c_int32), ("kernel", c_void_p), ("input", c_void_p),
                ("count", c_uint64), ("center_int", c_int64), ("center_float", c_double), ("output", c_void_p),
                ("output_capacity", c_uint64), ("output_dtype", c_int32), ("reserved", c_int32),
                ("runtime", c_void_p), ("result", Result)]


# The per-call fields, dtype through output_dtype, in one pack; the result's
# value_kind, lo, hi and f in one unpack.
_PACK = struct.Struct("=iQQQqdQQi")
_UNPACK = struct.Struct("=iQQd")
RESULT_AT = Call.result.offset + Result.value_kind.offset
if (Call.dtype.offset + _PACK.size != Call.output_dtype.offset + 4
        or Result.value_kind.offset + _UNPACK.size != Result.f.offset + 8):
    raise ImportError("unlocked: the unlocked_call layout is not the one this package packs")
pack_call = _PACK.pack_into
unpack_result = _UNPACK.unpack_from

_last_error = _prototype("unlocked_last_error", c_char_p)
get_version = _prototype("unlocked_get_version", c_char_p)
get_num_threads = _prototype("unlocked_get_num_threads", c_int)
_set_num_threads = _prototype("unlocked_set_num_threads", c_int, c_int)
_create = _prototype("unlocked_runtime_create", c_int, ctypes.POINTER(Options), ctypes.POINTER(c_void_p))
_destroy = _prototype("unlocked_runtime_destroy", c_int, c_void_p)
_load_plugin = _prototype("unlocked_runtime_load_plugin", c_int, c_void_p, c_char_p)
_query_kernel = _prototype("unlocked_query_kernel", c_int, c_void_p, c_char_p, c_int, ctypes.POINTER(KernelInfo))
run_call = _prototype("unlocked_run_call", c_int, c_void_p)
_topology_json = _prototype("unlocked_topology_json", c_int, c_char_p, c_size_t, ctypes.POINTER(c_size_t))


class UnlockedError(RuntimeError):
    """A failure inside the library that no argument check could have
    prevented: a plugin that cannot be loaded, a kernel that reported an
    error, a worker process that died, threads or memory that could not be
    had. ``status`` is the C API's ``unlocked_status`` code."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error(status: int) -> Exception:
    """The exception for a failed call, with the calling thread's message."""
    message = (_last_error() or b"").decode(errors="replace")
    if status in (E_ARGUMENT, E_KERNEL, E_OPTION):
        return ValueError(message)
    if status == E_DTYPE:
        return TypeError(message)
    if status == E_BUSY:
        return RuntimeError(message)
    return UnlockedError(status, message)


def set_num_threads(n: int) -> None:
    status = _set_num_threads(n)
    if status:
        raise error(status)


def topology_json() -> dict:
    length = c_size_t()
    status = _topology_json(None, 0, ctypes.byref(length))
    if status not in (OK, E_SPACE):
        raise error(status)
    buffer = ctypes.create_string_buffer(length.value + 1)
    status = _topology_json(buffer, len(buffer), ctypes.byref(length))
    if status:
        raise error(status)
    return json.loads(buffer.value)


# Kernel names live as long as the process, so their addresses can be packed.
_kernel_names: dict[str, tuple[bytes, int]] = {}


def kernel_address(name: str) -> int:
    """The address of ``name`` as a NUL-terminated C string kept alive for good."""
    entry = _kernel_names.get(name)
    if entry is None:
        data = name.encode()
        entry = _kernel_names[name] = (data, ctypes.cast(c_char_p(data), c_void_p).value)
    return entry[1]


class Runtime:
    """One ``unlocked_runtime`` and its call block: a call packs its fields
    into ``call`` (``pack_call`` at offset 4), passes ``pointer`` to
    ``run_call`` and unpacks the result (``unpack_result`` at ``RESULT_AT``);
    or hands ``address`` to ``_fastcall.reduce``, which does all three.
    Not for concurrent use: callers keep one per thread or hold a lock."""

    __slots__ = ("handle", "call", "address", "pointer", "plugins", "kernels")

    def __init__(self, engine: str, workers: int, pin: str | None, memory: str | None):
        options = Options(ctypes.sizeof(Options), workers, engine.encode(),
                          None if pin is None else pin.encode(), None if memory is None else memory.encode(), None)
        handle = c_void_p()
        status = _create(ctypes.byref(options), ctypes.byref(handle))
        if status:
            raise error(status)
        self.handle = handle.value
        self.call = Call(size=ctypes.sizeof(Call), runtime=self.handle)
        self.address = ctypes.addressof(self.call)
        self.pointer = c_void_p(self.address)
        self.plugins: set[str] = set()
        # (kernel name, dtype) -> (kind, output dtype, value kind)
        self.kernels: dict[tuple[str, int], tuple[int, int, int]] = {}

    def close(self) -> None:
        if self.handle:
            status = _destroy(self.handle)
            if status:
                raise error(status)
            self.handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass  # interpreter shutdown, or a call still running in a thread being torn down

    def load_plugin(self, path: str) -> None:
        resolved = os.path.realpath(path)
        if resolved in self.plugins:
            return
        status = _load_plugin(self.handle, os.fsencode(resolved))
        if status:
            raise error(status)
        self.plugins.add(resolved)
        self.kernels.clear()

    def query(self, name: str, dtype: int) -> tuple[int, int, int]:
        """(kind, output dtype, value kind) of kernel ``name`` for ``dtype``."""
        known = self.kernels.get((name, dtype))
        if known is None:
            info = KernelInfo(size=ctypes.sizeof(KernelInfo))
            status = _query_kernel(self.handle, name.encode(), dtype, ctypes.byref(info))
            if status:
                raise error(status)
            known = self.kernels[(name, dtype)] = (info.kind, info.output_dtype, info.value_kind)
        return known

    def last_result(self) -> Result:
        """The result fields of the last call (engine, workers, nanoseconds)."""
        return self.call.result

#!/usr/bin/env python3
"""Writes the .npy fixtures of NpyTests with numpy itself, so the reader is
checked against the format as numpy writes it. Run from this directory:
    python3 make_fixtures.py
The values must match NpyTests.swift."""
import numpy as np

INTS32 = [-2147483648, -7, 0, 1, 49, 50, 51, 99, 100, 2147483647]
INTS64 = [-(2**63), -7, 0, 1, 49, 50, 51, 99, 100, 2**63 - 1]
FLOATS = [-1.5, 0.0, 0.1, 49.75, 50.0, 1e30, -1e-30, float("inf"), 3.0, 2.5]

arrays = {
    "i4": np.array(INTS32, dtype="<i4"),
    "i8": np.array(INTS64, dtype="<i8"),
    "f4": np.array(FLOATS, dtype="<f4"),
    "f8": np.array(FLOATS, dtype="<f8"),
}

for name, array in arrays.items():
    for version in (1, 2, 3):
        with open(f"{name}_v{version}.npy", "wb") as f:
            np.lib.format.write_array(f, array, version=(version, 0))

# A 2-D C-order array: read as its 6 elements in row order.
np.save("i4_2d.npy", np.arange(6, dtype="<i4").reshape(2, 3))

# Malformed or unsupported variants, one problem each.
np.save("bad_bigendian.npy", np.array(INTS32, dtype=">i4"))
np.save("bad_fortran.npy", np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)))
np.save("bad_object.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
np.save("bad_structured.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
np.save("bad_uint16.npy", np.arange(4, dtype="<u2"))
good = open("i4_v1.npy", "rb").read()
open("bad_truncated_data.npy", "wb").write(good[:-3])
open("bad_extra_data.npy", "wb").write(good + b"\0\0\0\0")
open("bad_truncated_header.npy", "wb").write(good[:40])
open("bad_magic.npy", "wb").write(b"\x93NUMPZ" + good[6:])
open("bad_version.npy", "wb").write(good[:6] + bytes([4, 0]) + good[8:])

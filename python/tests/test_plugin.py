"""A plugin kernel through Python: the sqdist example plugin of the repository."""

from __future__ import annotations

import numpy
import pytest

import unlocked


def test_plugin_reduction_is_exact(sqdist_plugin, rng):
    a = rng.integers(-(2 ** 31), 2 ** 31 - 1, 50_000, dtype=numpy.int32)
    expected = sum((int(x) - 50) ** 2 for x in a.tolist())
    assert expected > 2 ** 64  # only exact 128-bit accumulation gets this right
    assert unlocked.run("sqdist.sum", a, 50, plugin=sqdist_plugin) == expected
    with unlocked.Pool(engine="lockfree-pool", workers=2) as pool:
        assert pool.run("sqdist:sqdist.sum", a, 50, plugin=sqdist_plugin) == expected
    with unlocked.Pool(engine="processes-shm", workers=2) as pool:
        assert pool.run("sqdist.sum", a, 50, plugin=sqdist_plugin) == expected


def test_plugin_map_writes_its_own_output_type(sqdist_plugin, rng):
    a = rng.integers(-1000, 1000, 10_000, dtype=numpy.int32)
    result = unlocked.run("sqdist.map", a, 3, plugin=sqdist_plugin)
    assert result.dtype == numpy.uint64
    numpy.testing.assert_array_equal(result, ((a.astype(numpy.int64) - 3) ** 2).astype(numpy.uint64))
    f = a.astype(numpy.float64)
    numpy.testing.assert_array_equal(unlocked.run("sqdist.map", f, 0.5, plugin=sqdist_plugin), (f - 0.5) ** 2)
    with pytest.raises(TypeError, match=r"dtype uint32 is not accepted \(accepted: uint64"):
        unlocked.run("sqdist.map", a, 3, plugin=sqdist_plugin, out=numpy.empty(10_000, numpy.uint32))


def test_plugin_errors(sqdist_plugin, tmp_path):
    with pytest.raises(TypeError, match=r"does not take it \(accepted: i32, f32, f64\)"):
        unlocked.run("sqdist.sum", numpy.zeros(3, numpy.int64), plugin=sqdist_plugin)
    missing = tmp_path / "libnothing.so"
    with pytest.raises(unlocked.UnlockedError, match="libnothing.so") as caught:
        unlocked.run("nothing.sum", numpy.zeros(3, numpy.int32), plugin=str(missing))
    assert caught.value.status == 6  # UNLOCKED_E_PLUGIN
    not_elf = tmp_path / "libtext.so"
    not_elf.write_text("not a shared object")
    not_elf.chmod(0o755)
    with pytest.raises(unlocked.UnlockedError):
        unlocked.run("text.sum", numpy.zeros(3, numpy.int32), plugin=str(not_elf))

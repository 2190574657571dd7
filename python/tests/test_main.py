"""python -m unlocked --quick, end to end, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_quick_table_runs_and_fits():
    done = subprocess.run([sys.executable, "-m", "unlocked", "--quick"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    table = lines[lines.index("") + 1:]
    for model in ("plain loop", "threads ×100 (talk)", "ThreadPoolExecutor", "asyncio ×100", "mp.Pool fork",
                  "mp.Pool forkserver", "mp.Pool spawn", "sub-interpreters", "numpy", "Unlocked auto",
                  "Unlocked lockfree-pool"):
        assert any(line.startswith(model) for line in table), f"no row {model}"
        assert any(line.startswith(f"{model}:") for line in table), f"no verdict for {model}"
    assert "WRONG RESULT" not in done.stdout
    # Verdicts wrap at 100 columns wherever the measured numbers put the break.
    assert "talk's finding" in " ".join(done.stdout.split())


def test_bad_size_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "unlocked", "--size-large", "10"], capture_output=True, text=True)
    assert done.returncode == 64
    assert done.stderr.strip() == "python -m unlocked: --size-large 10: must exceed 100,000, the talk's size"

"""When graphgrad keeps freed large arrays in the heap (glibc's malloc thresholds), and when it
leaves the user's process alone. Each case runs in a fresh interpreter: the setting is once per
process and cannot be undone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

import graphgrad

SRC = os.path.dirname(os.path.dirname(graphgrad.__file__))


def _outcome(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                                               "GLIBC_TUNABLES", "GRAPHGRAD_KEEP_HEAP")}
    code = ("from graphgrad.heap import reuse_freed_memory as r; first = r(); "
            "assert r() == first; print(first)")
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env, "PYTHONPATH": SRC},
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")


@glibc
def test_applied_on_glibc() -> None:
    assert _outcome() == "applied"


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"])
def test_the_users_own_malloc_settings_win(name: str) -> None:
    value = "glibc.malloc.mmap_threshold=1048576" if name == "GLIBC_TUNABLES" else "1048576"
    assert _outcome(**{name: value}) == f"not applied: malloc settings already chosen ({name})"


def test_opt_out() -> None:
    assert _outcome(GRAPHGRAD_KEEP_HEAP="0") == "not applied: GRAPHGRAD_KEEP_HEAP=0"


@glibc
def test_a_training_run_applies_it(tmp_path) -> None:  # noqa: ANN001
    code = ("import graphgrad as gg, numpy as np\n"
            "from graphgrad.heap import reuse_freed_memory\n"
            "model = gg.nn.Sequential(gg.nn.Linear(3, 2, rng=0))\n"
            "data = gg.data.DataLoader(gg.data.TensorDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64)), "
            "batch_size=4)\n"
            "gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.1), gg.nn.CrossEntropyLoss(), data, "
            "epochs=1).fit()\n"
            "assert reuse_freed_memory.cache_info().misses == 1  # already called by fit()\n"
            "print(reuse_freed_memory())\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "applied"

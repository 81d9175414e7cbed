"""Start a worker of mpi_workers.py under ``mpiexec -n N`` from a test; skip when MPI is missing."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import graphgrad
from graphgrad.data import DataLoader

needs_sampler_argument = pytest.mark.skipif(
    "sampler" not in inspect.signature(DataLoader).parameters,
    reason="DataLoader has no sampler= argument on this branch yet (the lead applies it at merge)")

WORKERS = Path(__file__).with_name("mpi_workers.py")
SRC = str(Path(graphgrad.__file__).resolve().parents[1])


def mpiexec() -> str:
    """The mpiexec installed with mpi4py's MPI next to this Python, else the one on PATH."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("MPI tests need mpi4py and an MPI library: pip install 'graphgrad[mpi]'")
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("MPI tests need an mpiexec program (pip install 'graphgrad[mpi]' brings MPICH's)")
    return found


def run_workers(
    name: str, folder: Path, n: int = 2, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run worker ``name`` on ``n`` ranks writing into ``folder``; returns the finished process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [mpiexec(), "-n", str(n), sys.executable, str(WORKERS), name, str(folder), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def run_ok(name: str, folder: Path, n: int = 2, *args: str) -> None:
    proc = run_workers(name, folder, n, *args)
    assert proc.returncode == 0, f"mpiexec -n {n} {name} failed:\n{proc.stdout}\n{proc.stderr}"

"""Run the graphgrad command in a real subprocess and check what a user would see.

``gg(...)`` runs ``python -m graphgrad ARGS`` (or, with ``patch``, a few lines of Python first, to
simulate a full disk or a read-only folder) with this checkout's ``src`` first on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


@dataclass
class Result:
    code: int
    out: str
    err: str


def env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": SRC + (os.pathsep + path if path else ""), "PYTHONWARNINGS": "ignore"}


def gg(*args: str, patch: str = "", cwd: Path | None = None, timeout: float = 300) -> Result:
    """``graphgrad ARGS`` in a subprocess; ``patch`` is Python run before the command."""
    argv = [str(a) for a in args]
    if patch:
        code = f"{patch}\nimport sys\nfrom graphgrad.cli import main\nsys.exit(main({argv!r}))\n"
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, "-m", "graphgrad", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=cwd, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_line_error(r: Result, *fragments: str) -> str:
    """Assert exit code 2, exactly one line on stderr starting ``graphgrad: error:``, no traceback,
    and that the line contains every fragment; returns the line."""
    lines = r.err.strip().splitlines()
    assert r.code == 2, (r.code, r.out, r.err)
    assert len(lines) == 1 and lines[0].startswith("graphgrad: error: "), r.err
    assert "Traceback" not in r.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to compare before and after)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_run(run: Path, tmp_path: Path) -> Path:
    """A copy of a finished run folder to change or damage (``tmp_path / "run"``)."""
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


FULL_FILE = """
import builtins, errno, os
_open = builtins.open
class _Full:
    def __init__(self, f): self.f = f
    def write(self, data): raise OSError(errno.ENOSPC, "No space left on device")
    def __enter__(self): return self
    def __exit__(self, *a): self.f.close()
    def __getattr__(self, name): return getattr(self.f, name)
"""
"""The start of a ``patch`` that simulates a full disk: ``_Full(f)`` is an open file whose writes fail
with ENOSPC; the patch goes on to decide which files ``builtins.open`` hands out that way."""

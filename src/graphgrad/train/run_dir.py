"""The run folder: which files are the run's, one writer at a time, and nothing else touched.

A run folder holds only what graphgrad wrote there: the checkpoint (state.json and tensor
files), metrics.csv / metrics.json, curves.png, summary.json, boundary.safetensors and report.html
(the views), the ``evaluation/`` folder and the
lock file ``.graphgrad-lock``. A new run starts only in a folder that does not exist or is empty;
a process that writes a run folder holds an exclusive lock on it for as long as it writes
(released by the operating system even if the process is killed), so a second writer is refused
with the first one's process id. Leftovers of a killed writer are removed only when they are
recognizably this run's own (see :mod:`graphgrad.io.checkpoint`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphgrad.errors import ConfigError
from graphgrad.io.atomic import remove_stale_temporaries
from graphgrad.io.checkpoint import STATE_FILE, is_own_file, load_checkpoint, remove_leftovers
from graphgrad.train.history import CURVES_PNG, METRICS_CSV, METRICS_JSON

LOCK_FILE = ".graphgrad-lock"
SUMMARY_FILE = "summary.json"
EVALUATION_DIR = "evaluation"
BOUNDARY_FILE = "boundary.safetensors"  # decision-boundary maps per epoch (graphgrad.viz.boundary)
REPORT_FILE = "report.html"  # graphgrad report / train --report
RUN_FILES = (STATE_FILE, METRICS_CSV, METRICS_JSON, CURVES_PNG, SUMMARY_FILE, LOCK_FILE, BOUNDARY_FILE, REPORT_FILE)


def is_run_file(name: str) -> bool:
    """True for the names of files a run writes at the top of its folder."""
    return name in RUN_FILES or is_own_file(name)


def _describe_entries(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_new_run_folder(path: Path) -> None:
    """Refuse an ``--out`` that is a file, already holds a run, or holds anything else."""
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"--out {path}: a broken link; choose another folder")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path}: a file, not a folder; choose a new or empty folder for the run")
    if not path.exists():
        return
    if (path / STATE_FILE).exists():
        raise ConfigError(f"{path} already holds a run; continue it with --resume {path} or choose another --out")
    entries = [p.name for p in path.iterdir() if p.name != LOCK_FILE]
    if entries:
        raise ConfigError(f"--out {path}: the folder is not empty and is not a graphgrad run (it holds "
                          f"{_describe_entries(entries)}); choose a new or empty folder")


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text("utf-8"))
        return (f"process {info['pid']} on {info['host']}, running since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info['since']))}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _open_lock(lock_path: Path) -> int:
    """Open (or create) the lock file itself, never through a link: the lock is rewritten with this
    process's id, so a link (or a second name) to a user's file would overwrite that file."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as e:
        if not lock_path.is_symlink():
            raise
        raise ConfigError(f"{lock_path}: a link to {os.readlink(lock_path)}, not graphgrad's lock file; refusing to "
                          "write through it (remove the link)") from e
    if os.fstat(fd).st_nlink > 1:
        os.close(fd)
        raise ConfigError(f"{lock_path}: the file has other names (hard links), so it is not graphgrad's lock file; "
                          "refusing to write it (remove it)")
    return fd


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's exclusive lock; a ConfigError naming the holder if it is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks here; one writer is up to the user
        yield
        return
    lock_path = run_dir / LOCK_FILE
    fd = _open_lock(lock_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{run_dir} is in use by {_holder(lock_path)}; wait for it to finish or choose "
                              "another --out") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "command": sys.argv[1:3]}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def new_run_folder(path: Path) -> Iterator[None]:
    """Create (if needed) and lock ``path`` for a new run, checking again under the lock."""
    check_new_run_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    with run_lock(path):
        check_new_run_folder(path)
        yield


def check_not_running(path: Path) -> None:
    """Refuse early when another process holds the folder's lock (no lock file is created)."""
    if (path / LOCK_FILE).is_file():
        with run_lock(path):
            pass


def check_has_checkpoint(path: Path) -> None:
    """Refuse to resume a folder where a run started (its lock file is there) but was stopped
    before its first checkpoint: say so and how to start it again, not just "no state.json"."""
    if (path / LOCK_FILE).is_file() and not (path / STATE_FILE).exists():
        others = [p.name for p in path.iterdir() if p.name != LOCK_FILE]
        again = (f"choose a new --out (this folder holds the unfinished first save: {_describe_entries(others)})"
                 if others else f"start it again with --out {path}")
        raise ConfigError(f"{path}: the run was stopped before its first checkpoint (saved at the end of every "
                          f"epoch), so there is nothing to resume; {again}")


def clean_leftovers(run_dir: Path) -> list[str]:
    """Remove what a killed writer of this run left: its temporaries and unreferenced tensor files."""
    removed = remove_stale_temporaries(run_dir, is_run_file)
    checkpoint = load_checkpoint(run_dir, groups=[])
    document = json.loads((run_dir / STATE_FILE).read_text("utf-8"))
    keep = {f["path"] for f in document["files"].values()}
    if checkpoint.run_id:
        removed += remove_leftovers(run_dir, checkpoint.run_id, keep)
    return removed


def check_output_path(output: Path, run_dir: Path, data: Path | None = None) -> None:
    """Refuse a predictions file that would overwrite one of the run's own files or the file the
    predictions are made from."""
    out = output.resolve()
    if data is not None and out == data.resolve():
        raise ConfigError(f"--output {output}: is the file --data {data} reads; write predictions elsewhere")
    run = run_dir.resolve()
    if out == run or (run in out.parents and (out.parent != run or is_run_file(out.name))):
        raise ConfigError(f"--output {output}: would overwrite the run's own files in {run_dir}; "
                          "write predictions elsewhere")

"""Crash-safe file writes: a reader sees either the old file or the complete new one, never half.

The recipe: write a temporary file in the same directory (so the rename cannot cross file
systems), flush and fsync it, ``os.replace`` it over the target (atomic on POSIX and Windows),
then fsync the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".tmp-"
_TEMPORARY = re.compile(r"^\.tmp-(?P<target>.+)\.[0-9a-f]{12}$")  # what atomic_write_bytes names its temporaries


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is already durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; on any failure the old ``path`` is left untouched."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            e.filename = str(path)  # a failed write (a full disk) names no file by itself; say which one
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def check_replaceable(path: Path, option: str, written_by_graphgrad: Callable[[Path], bool]) -> None:
    """Refuse to write ``path`` unless it is new or an earlier output of graphgrad
    (``written_by_graphgrad`` recognises one): a command may replace what it wrote, never a user's file."""
    from graphgrad.errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"{option} {path}: the folder {str(path.parent)!r} does not exist")
    if path.exists() and not written_by_graphgrad(path):
        raise ConfigError(f"{option} {path}: the file exists and was not written by graphgrad; it is left as it "
                          "is (choose another file name)")


def temporary_target(name: str) -> str | None:
    """The file a temporary named ``name`` was going to become, or None if it is not one of ours."""
    m = _TEMPORARY.match(name)
    return m["target"] if m else None


def remove_stale_temporaries(directory: str | os.PathLike[str], is_ours: Callable[[str], bool]) -> list[str]:
    """Delete temporaries left by a writer that was killed before its rename, but only those named
    exactly as :func:`atomic_write_bytes` names them for a target that ``is_ours(target)`` accepts;
    any other file (a user's ``.tmp-notes``) is left alone. Returns the names removed."""
    removed = []
    for p in Path(directory).iterdir():
        target = temporary_target(p.name)
        if target is not None and is_ours(target) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed

"""Opening data files with errors that name the path."""

from __future__ import annotations

import os
from pathlib import Path

from graphgrad.errors import DataError


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file that does not exist (both a DataError and a FileNotFoundError)."""


def existing_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or a DataError naming it when it is missing, a directory or unreadable."""
    p = Path(path)
    if not p.exists():
        raise DataFileNotFoundError(f"data file not found: {str(p)!r}")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a data file")
    if not os.access(p, os.R_OK):
        raise DataError(f"{p}: permission denied")
    return p


def read_bytes(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
    p = existing_file(path)
    try:
        return p, p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror or exc}") from exc

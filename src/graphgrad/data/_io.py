"""Opening data files with errors that name the path."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from graphgrad.errors import DataError


def memory_bytes() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say): a data file
    declaring a larger array is refused from its header, before anything is allocated."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


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


def check_declared_size(where: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Refuse, from a file's header alone, an array that would not fit in this machine's memory as
    stored or as the float32 the loaders convert it to (a small compressed file can declare
    gigabytes: it is not unpacked to find out)."""
    memory = memory_bytes()
    nbytes = math.prod(shape) * max(dtype.itemsize, 4)
    if memory is not None and nbytes > memory:
        raise DataError(f"{where} declares shape {shape} of {dtype}, {nbytes / 1024**3:,.1f} GB as float32, "
                        f"more than this machine's memory ({memory / 1024**3:,.1f} GB)")


def as_float32(where: str, subject: str, x: np.ndarray) -> np.ndarray:
    """``x`` (examples first) as a float32 (examples, features) array, refusing non-finite values and
    values too large for float32, naming the example and feature (``subject``: "X has")."""
    flat = x.reshape(x.shape[0], -1)
    with np.errstate(over="ignore", invalid="ignore"):
        out = flat.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        value = flat[row, col]
        problem = "a value too large for float32" if np.isfinite(value) else "a non-finite value"
        raise DataError(f"{where}: {subject} {problem} ({value}) at example {row}, feature {col}")
    return out

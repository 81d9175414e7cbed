"""load_file: pick the loader from the file name (.csv, .npz, IDX)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphgrad.data._io import existing_file
from graphgrad.data.bundle import DataBundle
from graphgrad.data.csv_loader import load_csv
from graphgrad.data.idx_loader import load_idx
from graphgrad.data.npz_loader import load_npz
from graphgrad.errors import DataError

SUPPORTED = ".csv, .npz, IDX (.idx, .gz, *-ubyte)"


def is_idx_name(name: str) -> bool:
    n = name.lower()
    return n.endswith((".gz", ".idx", "-ubyte")) or ".idx" in n or "-ubyte" in n


def idx_labels_for(images: Path) -> Path:
    """The MNIST naming convention: ``train-images-idx3-ubyte`` -> ``train-labels-idx1-ubyte``."""
    return images.with_name(images.name.replace("images", "labels").replace("idx3", "idx1"))


def load_file(
    path: str | os.PathLike[str], target: str | None = None, *, task: str | None = None,
    schema: dict[str, Any] | None = None, drop: Sequence[str] = (), features: Sequence[str] | None = None,
    missing: str = "error", with_target: bool = True,
) -> DataBundle:
    """Load a data file by its extension.

    ``.csv``: :func:`load_csv` (``target`` is the target column). ``.npz``: :func:`load_npz`.
    IDX (``.idx``, ``.gz``, ``*-ubyte``): :func:`load_idx` with ``path`` the images and ``target``
    the labels file; without ``target`` the labels file is found by the MNIST naming convention
    (``images`` -> ``labels``, ``idx3`` -> ``idx1``), or, with a ``schema`` and no such file, there
    are no labels (prediction). ``schema`` (``DataBundle.schema()``) loads with the training encoding.
    ``drop``, ``features`` and ``missing`` are CSV options (see :func:`load_csv`); with a ``schema``,
    ``with_target=False`` (prediction) leaves the labels of every kind of file unread.
    """
    p = existing_file(path)
    name = p.name.lower()
    if name.endswith(".csv"):
        return load_csv(p, target, task=task, schema=schema, drop=drop, features=features, missing=missing,
                        with_target=with_target)
    if drop or features is not None:
        raise DataError(f"{p}: --drop and --features choose columns of CSV files, not of {p.suffix or 'IDX'} files")
    if name.endswith(".npz"):
        return load_npz(p, task=task, schema=schema, with_target=with_target)
    if is_idx_name(name):
        if schema is not None and not with_target:
            return load_idx(p, None)  # predictions never read the labels
        if target is not None:
            return load_idx(p, existing_file(target), schema=schema)
        labels = idx_labels_for(p)
        if labels != p and labels.exists():
            return load_idx(p, labels, schema=schema)
        if schema is not None:
            return load_idx(p, None)
        raise DataError(
            f"{p}: no labels file for these IDX images (looked for {labels.name}); pass it as the target"
        )
    raise DataError(f"{p}: unknown data file type {p.suffix or '(no extension)'!r}; supported: {SUPPORTED}")

"""Stratified train/validation/test split: every split keeps the class proportions of the whole."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from graphgrad.errors import ConfigError, DataError
from graphgrad.tensor import Tensor


class SplitIndices(NamedTuple):
    """Sorted, disjoint index arrays (int64) that together cover ``range(len(y))``."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _apportion(quotas: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """Integers near ``quotas`` summing to ``total`` (largest remainders first), each <= its cap."""
    counts = np.minimum(np.floor(quotas).astype(np.int64), caps)
    order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
    while counts.sum() < total:
        room = [c for c in order if counts[c] < caps[c]]
        if not room:
            break
        for c in room[: total - counts.sum()]:
            counts[c] += 1
    return counts


def stratified_split(
    y: Any, test_size: float = 0.2, val_size: float = 0.0, seed: int | np.random.Generator | None = 0,
    stratify: bool | None = None,
) -> SplitIndices:
    """Indices of a train/val/test split; sizes are fractions of the whole dataset.

    With ``stratify`` (default: True for integer, bool or string labels, False for float targets,
    i.e. regression), each class is split in the same proportions, and the split sizes are exactly
    ``round(test_size * n)`` and ``round(val_size * n)``; every class with at least two members keeps
    at least one in train. Without it, a plain random split of the same sizes.
    """
    labels = np.asarray(y.data if isinstance(y, Tensor) else y).reshape(-1)
    n = labels.shape[0]
    for name, frac in (("test_size", test_size), ("val_size", val_size)):
        if not 0.0 <= float(frac) < 1.0:
            raise ConfigError(f"stratified_split: {name} must be a fraction in [0, 1), got {frac!r}")
    if test_size + val_size >= 1.0:
        raise ConfigError(f"stratified_split: test_size + val_size must be < 1, got {test_size} + {val_size}")
    if n == 0:
        raise DataError("stratified_split: y is empty")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if stratify is None:
        stratify = labels.dtype.kind in "biuUSO"
    n_test, n_val = int(round(test_size * n)), int(round(val_size * n))
    if not stratify:
        perm = rng.permutation(n)
        test, val = perm[:n_test], perm[n_test : n_test + n_val]
        train = perm[n_test + n_val :]
        return SplitIndices(np.sort(train), np.sort(val), np.sort(test))
    classes, inverse = np.unique(labels, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    keep_one = (sizes >= 2).astype(np.int64)  # leave one per class for train when there is more than one
    test_counts = _apportion(sizes * test_size, n_test, sizes - keep_one)
    val_counts = _apportion(sizes * val_size, n_val, sizes - keep_one - test_counts)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for m, t, v in zip(members, test_counts, val_counts):
        parts["test"].append(m[:t])
        parts["val"].append(m[t : t + v])
        parts["train"].append(m[t + v :])
    return SplitIndices(*(np.sort(np.concatenate(parts[k])).astype(np.int64) for k in ("train", "val", "test")))

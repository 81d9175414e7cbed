"""Datasets: indexable collections of examples (PyTorch's ``Dataset``, ``TensorDataset``, ``Subset``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.data._rng import as_generator
from graphgrad.errors import ConfigError, DataError, ShapeError
from graphgrad.tensor import Tensor


class Dataset(ABC):
    """An indexable collection of examples; ``dataset[i]`` is one example (usually a tuple).

    ``keep_float64``: the DataLoader turns float64 arrays into float32 (graphgrad's default dtype)
    unless a dataset sets this to True.
    """

    keep_float64: bool = False

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...


def batch_dtype(arr: np.ndarray, keep_float64: bool) -> np.ndarray:
    """The dtype rule for batches: float64 -> float32 (unless kept), integers -> int64, others kept."""
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype == np.float64 and not keep_float64:
        return arr.astype(np.float32)
    if kind in "iu" and arr.dtype != np.int64:
        return arr.astype(np.int64)
    return arr


class TensorDataset(Dataset):
    """Examples are the rows of equally long arrays: ``TensorDataset(X, y)[i] == (X[i], y[i])``.

    Arrays (or Tensors) are converted once, here, by the batch dtype rule: float64 becomes float32
    unless ``keep_float64=True``, integer arrays become int64. The DataLoader then gathers a batch
    with one fancy-index per array.
    """

    def __init__(self, *arrays: Any, keep_float64: bool = False) -> None:
        if not arrays:
            raise DataError("TensorDataset needs at least one array")
        converted = []
        for i, a in enumerate(arrays):
            arr = a.data if isinstance(a, Tensor) else np.asarray(a)
            if arr.ndim == 0:
                raise ShapeError(f"TensorDataset: array {i} is a scalar; each array needs a first (example) axis")
            converted.append(batch_dtype(arr, keep_float64))
        sizes = [a.shape[0] for a in converted]
        if len(set(sizes)) != 1:
            shapes = ", ".join(f"array {i}: {a.shape}" for i, a in enumerate(converted))
            raise ShapeError(f"TensorDataset: arrays differ in their first dimension (number of examples): {shapes}")
        self.arrays: tuple[np.ndarray, ...] = tuple(converted)
        self.keep_float64 = keep_float64

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(a[index]) for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return f"TensorDataset({len(self)} examples; {shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise DataError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} examples")
        self.dataset = dataset
        self.indices = idx % n if n else idx
        self.keep_float64 = getattr(dataset, "keep_float64", False)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Integer lengths, or fractions summing to 1 (floors, then one extra each round-robin, as PyTorch)."""
    vals = list(lengths)
    if not vals:
        raise ConfigError("random_split: lengths is empty")
    if any(v < 0 for v in vals):
        raise ConfigError(f"random_split: lengths must be non-negative, got {vals}")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        if sum(vals) != n:
            raise ConfigError(f"random_split: lengths {vals} sum to {sum(vals)}, the dataset has {n} examples")
        return [int(v) for v in vals]
    if abs(sum(vals) - 1.0) > 1e-6 or any(v > 1 for v in vals):
        raise ConfigError(
            f"random_split: lengths {vals} must be integers summing to {n} or fractions summing to 1"
        )
    counts = [int(np.floor(v * n)) for v in vals]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(
    dataset: Dataset, lengths: Sequence[float], generator: np.random.Generator | int | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths (counts or fractions)."""
    counts = _split_lengths(lengths, len(dataset))
    perm = as_generator(generator).permutation(len(dataset))
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, perm[bounds[i] : bounds[i + 1]]) for i in range(len(counts))]

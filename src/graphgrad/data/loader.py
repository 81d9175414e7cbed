"""DataLoader: mini-batches of a dataset, reshuffled every epoch, with exactly resumable order.

This is the lecture notes' unbiased mini-batch SGD: each epoch draws a fresh random permutation and cuts it
into ceil(n/B) batches (n//B with ``drop_last``), so every example is used exactly once per epoch
and each batch gradient is an unbiased estimate of the full gradient. ``batch_size=1`` is
per-example SGD.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from graphgrad.data._rng import as_generator, get_state, set_state
from graphgrad.data.dataset import Dataset, Subset, TensorDataset, batch_dtype
from graphgrad.errors import ConfigError, DataError
from graphgrad.tensor import Tensor

Batch = Any  # tuple[Tensor, ...] (or one Tensor for datasets whose examples are not tuples)


def default_collate(items: Sequence[Any], keep_float64: bool = False) -> Batch:
    """Stack examples into a batch: tuples of fields give a tuple of Tensors, one per field."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([item[k] for item in items], keep_float64) for k in range(len(first)))
    arr = np.stack([x.data if isinstance(x, Tensor) else np.asarray(x) for x in items])
    return Tensor(batch_dtype(arr, keep_float64))


def _fast_arrays(dataset: Dataset) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """For a TensorDataset (or Subsets of one): its arrays and the index map, to gather by fancy-indexing."""
    index_map: np.ndarray | None = None
    while isinstance(dataset, Subset):
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return dataset.arrays, index_map
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches; each ``iter(loader)`` is one epoch.

    ``generator`` is a ``numpy.random.Generator`` (used as is, not copied: give the loader its own
    for exact resume) or an int seed; None draws fresh entropy. Batches are tuples of Tensors; float64
    fields become float32 unless the dataset sets ``keep_float64``, integer fields become int64.

    ``state_dict()`` records the generator state at the start of the current epoch and how many of
    its batches were yielded; after ``load_state_dict`` the next ``iter()`` yields exactly the batches
    the original loader would have yielded next (the rest of that epoch), and later epochs match too.
    A finished epoch counts as no epoch in progress, so saving after its last batch and saving after
    the loop give the same state.

    ``sampler`` (e.g. :class:`~graphgrad.data.DistributedSampler`) chooses the indices instead of
    ``shuffle``/``generator``: at the start of its e-th epoch (from 0) the loader calls
    ``sampler.set_epoch(e)`` when the sampler has it, so epochs differ and a resume continues exactly.

    ``shard=(i, k)`` yields only part ``i`` of ``k`` of each batch (its positions ``i, i+k, ...``):
    ``k`` processes with the same order and ``batch_size`` (the global batch) together see every
    batch whole. Parts differ by at most one example (a small last batch may leave a part empty);
    ``len()`` and the saved position count whole batches, so a run saved with ``k`` parts resumes
    with any other ``k``.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        sampler: Any = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        if sampler is not None and shuffle:
            raise ConfigError("DataLoader: give shuffle=True or a sampler, not both (the sampler decides the "
                              "order; e.g. DistributedSampler(dataset, shuffle=True))")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = as_generator(generator)
        self.sampler = sampler
        if shard is not None:
            part, parts = shard
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shard) or not (
                    parts >= 1 and 0 <= part < parts):
                raise ConfigError(f"DataLoader: shard must be (part, parts) with 0 <= part < parts, got {shard!r}")
        self.shard = None if shard is None else (int(shard[0]), int(shard[1]))
        self._fast = _fast_arrays(dataset)
        self._keep_float64 = bool(getattr(dataset, "keep_float64", False))
        self._epoch = 0  # epochs started
        self._epoch_state: dict[str, Any] | None = None  # generator state at the start of the epoch in progress
        self._yielded = 0  # batches yielded in the epoch in progress
        self._resume = False  # next iter() continues the restored epoch instead of starting one

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self._epoch - 1)
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _batch(self, idx: np.ndarray) -> Batch:
        if self._fast is not None:
            arrays, index_map = self._fast
            rows = idx if index_map is None else index_map[idx]
            return tuple(Tensor(a[rows]) for a in arrays)
        if len(idx) == 0:  # an empty part of a small last batch: the fields' shapes with 0 rows
            first = default_collate([self.dataset[0]], self._keep_float64)
            return tuple(Tensor(t.data[:0]) for t in first) if isinstance(first, tuple) else Tensor(first.data[:0])
        return default_collate([self.dataset[int(i)] for i in idx], self._keep_float64)

    def __iter__(self) -> Iterator[Batch]:
        if self._resume:
            self._resume = False
        else:
            self._epoch += 1
            self._yielded = 0
        self._epoch_state = get_state(self.generator)
        order = self._order()
        if self._yielded >= len(self):
            self._finish_epoch()
        return self._run(order, self._yielded)

    def _finish_epoch(self) -> None:
        self._epoch_state = None  # nothing left to resume: the next iter() starts a new epoch
        self._yielded = 0

    def _run(self, order: np.ndarray, skip: int) -> Iterator[Batch]:
        n_batches = len(self)
        for b in range(skip, n_batches):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            if self.shard is not None:
                idx = idx[self.shard[0] :: self.shard[1]]
            batch = self._batch(idx)
            self._yielded = b + 1
            if self._yielded == n_batches:
                self._finish_epoch()
            yield batch

    @property
    def epoch(self) -> int:
        """Number of epochs started so far (the current one included)."""
        return self._epoch

    def state_dict(self) -> dict[str, Any]:
        """JSON-able position in the data order: epoch-start generator state and batches yielded."""
        in_epoch = self._epoch_state is not None
        return {
            "epoch": self._epoch,
            "in_epoch": in_epoch,
            "batches_yielded": self._yielded if in_epoch else 0,
            "rng_state": self._epoch_state if in_epoch else get_state(self.generator),
            "num_examples": len(self.dataset),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict` (same dataset size and batching required)."""
        mine = {"num_examples": len(self.dataset), "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last}
        missing = [k for k in ("epoch", "in_epoch", "batches_yielded", "rng_state", *mine) if k not in state]
        if missing:
            raise DataError(f"DataLoader state is missing keys {missing}")
        different = {k: (state[k], v) for k, v in mine.items() if state[k] != v}
        if different:
            detail = ", ".join(f"{k}: saved {s!r}, this loader {v!r}" for k, (s, v) in different.items())
            raise DataError(f"DataLoader state does not match this loader ({detail})")
        in_epoch = bool(state["in_epoch"])
        yielded = int(state["batches_yielded"])
        if in_epoch and not 0 <= yielded < len(self) or not in_epoch and yielded != 0:
            raise DataError(f"DataLoader state: batches_yielded={yielded} is not a position inside an epoch "
                            f"of {len(self)} batches")
        set_state(self.generator, state["rng_state"])
        self._epoch = int(state["epoch"])
        self._yielded = yielded
        self._resume = in_epoch
        self._epoch_state = get_state(self.generator) if in_epoch else None  # so state_dict() gives `state` back

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.dataset)} examples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, {len(self)} batches"
                + ("" if self.shard is None else f", part {self.shard[0]} of {self.shard[1]} of each")
                + ")")

"""DistributedSampler: this rank's share of a dataset, a fresh disjoint split every epoch.

PyTorch's semantics. Each epoch, every rank draws the same order of all ``n`` examples
(a permutation from ``seed + epoch`` when shuffling, else ``0 .. n-1``), makes its length a
multiple of the number of ranks ``R``, and takes every ``R``-th index starting at its rank:

- ``drop_last=False`` (default): the order is padded by wrapping around to its start, so every
  example is used and each rank gets ``ceil(n / R)`` indices; up to ``R - 1`` examples are used
  twice in that epoch.
- ``drop_last=True``: the order is cut to ``R * floor(n / R)``; each rank gets ``floor(n / R)``
  indices and up to ``R - 1`` examples are skipped that epoch (different ones each epoch when
  shuffling).

Within an epoch the ranks' shares are disjoint (apart from the padding) and together cover the
order. Taking every ``R``-th index keeps global batches whole: when each rank's batch size is
``B / R``, batch ``k`` of all ranks together is exactly positions ``k*B .. (k+1)*B - 1`` of the
epoch's order, the batch a single process with batch size ``B`` would take from that order.

Call :meth:`set_epoch` before each epoch, or let the DataLoader do it; the same
``(seed, epoch)`` gives the same order on every rank and after a resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError


def _count(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"DistributedSampler: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas`` (by default: this process's
    place in the MPI job, from :mod:`graphgrad.distributed`; rank 0 of 1 without MPI)."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from graphgrad import distributed

            num_replicas = distributed.world_size() if num_replicas is None else num_replicas
            rank = distributed.rank() if rank is None else rank
        self.num_replicas = _count(num_replicas, "num_replicas", 1)
        self.rank = _count(rank, "rank", 0)
        if self.rank >= self.num_replicas:
            raise ConfigError(f"DistributedSampler: rank {self.rank} is not in 0..{self.num_replicas - 1} "
                              f"for num_replicas={self.num_replicas}")
        self.seed = _count(seed, "seed", 0)
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to give: a new shuffle for each epoch, the same on all ranks."""
        self.epoch = _count(epoch, "epoch", 0)

    def order(self) -> np.ndarray:
        """The whole epoch's order for all ranks, after padding or cutting to ``total_size``."""
        n = len(self.dataset)
        base = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        return np.resize(base, self.total_size) if n else base  # resize repeats from the start

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, in order."""
        return self.order()[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict[str, Any]:
        """JSON-able settings and epoch (what a resumed run needs to give the same order)."""
        return {"epoch": self.epoch, "seed": self.seed, "shuffle": self.shuffle, "drop_last": self.drop_last,
                "num_replicas": self.num_replicas, "rank": self.rank, "num_examples": len(self.dataset)}

    def __repr__(self) -> str:
        return (f"DistributedSampler(rank {self.rank} of {self.num_replicas}, {self.num_samples} of "
                f"{len(self.dataset)} examples, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, epoch={self.epoch})")

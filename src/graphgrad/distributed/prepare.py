"""Turn a single-process model and loader into this rank's share of a data-parallel run.

One function the trainer calls whatever the world: in a world of one it gives back the same
model (wrapped, a pass-through) and a loader whose order comes from a DistributedSampler of one
rank, so a run on one process and a run on N ranks draw the same global batches from the same
``seed``; the batch size stays the global one and is split over the ranks.
"""

from __future__ import annotations

import os
from typing import Any

from graphgrad.data.loader import DataLoader
from graphgrad.data.sampler import DistributedSampler
from graphgrad.distributed.comm import world
from graphgrad.distributed.ddp import DistributedDataParallel
from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def shard_loader(loader: DataLoader, seed: int) -> DataLoader:
    """This rank's loader: the same dataset, ``batch_size / ranks`` examples per step, the order of
    ``DistributedSampler(shuffle=loader.shuffle, seed=seed, drop_last=loader.drop_last)``."""
    w = world()
    if loader.batch_size % w.size:
        raise ConfigError(f"batch size {loader.batch_size} cannot be split evenly over {w.size} ranks; "
                          f"choose a multiple of {w.size}")
    sampler = DistributedSampler(loader.dataset, w.size, w.rank, shuffle=loader.shuffle, seed=seed,
                                 drop_last=loader.drop_last)
    return DataLoader(loader.dataset, batch_size=loader.batch_size // w.size, drop_last=loader.drop_last,
                      sampler=sampler)  # type: ignore[call-arg]


def limit_blas_threads() -> Any:
    """One BLAS thread per rank when several ranks share the machine, unless the user set a thread
    count (OMP/OPENBLAS/MKL_NUM_THREADS); returns threadpoolctl's limiter, or None if nothing was done."""
    if world().size == 1 or any(name in os.environ for name in _THREAD_VARIABLES):
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1, user_api="blas")


def prepare(
    model: Module, loader: DataLoader, seed: int, **ddp_options: Any
) -> tuple[DistributedDataParallel, DataLoader]:
    """``(DistributedDataParallel(model), shard_loader(loader, seed))`` for the current world, with
    BLAS limited to one thread per rank (:func:`limit_blas_threads`). The optimizer needs nothing:
    build it on the model's parameters, which the wrapper shares."""
    limit_blas_threads()
    return DistributedDataParallel(model, **ddp_options), shard_loader(loader, seed)

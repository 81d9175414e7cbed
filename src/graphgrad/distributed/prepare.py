"""Turn a single-process model and loader into this rank's share of a data-parallel run.

One function the trainer calls whatever the world: in a world of one it gives back the same
model (wrapped, a pass-through) and a loader whose order comes from a DistributedSampler of one
rank, so a run on one process and a run on N ranks draw the same global batches from the same
``seed``; the batch size stays the global one and each batch is split over the ranks.
"""

from __future__ import annotations

import os
from typing import Any

from graphgrad.data.loader import DataLoader
from graphgrad.data.sampler import DistributedSampler
from graphgrad.distributed import comm
from graphgrad.distributed.comm import World, world
from graphgrad.distributed.ddp import DistributedDataParallel
from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def shard_loader(loader: DataLoader, seed: int, even: bool = True, world: World | None = None) -> DataLoader:
    """This rank's loader: the same dataset and global ``batch_size``, batches in the order of
    ``DistributedSampler(num_replicas=1, shuffle=loader.shuffle, seed=seed)`` (the same on every
    rank and for any number of ranks), each rank taking every ranks-th example of each batch.

    ``even``: refuse a batch size that is not a multiple of the number of ranks. A last batch
    smaller than the global batch is still split unevenly (parts differ by at most one example);
    the trainer weighs each rank's loss by its share, a loop of your own can use ``drop_last``.
    ``world``: default, the job's world (joined if needed).
    """
    w = world if world is not None else comm.world()
    if even and loader.batch_size % w.size:
        raise ConfigError(f"batch size {loader.batch_size} cannot be split evenly over {w.size} ranks; "
                          f"choose a multiple of {w.size}")
    order = DistributedSampler(loader.dataset, 1, 0, shuffle=loader.shuffle, seed=seed)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, drop_last=loader.drop_last,
                      sampler=order, shard=(w.rank, w.size))


_limiter: Any = None  # threadpoolctl's limiter, kept for the life of the process


def _user_threads() -> int | None:
    for name in _THREAD_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def ranks_on_this_machine() -> int:
    """How many ranks of the job share this machine (a collective: every rank must call it)."""
    w = world()
    if w.comm is None or w.size == 1:
        return 1
    from graphgrad.distributed.comm import mpi_module

    node = w.comm.Split_type(mpi_module(required=True).COMM_TYPE_SHARED)
    try:
        return int(node.Get_size())
    finally:
        node.Free()


def limit_blas_threads() -> int | None:
    """BLAS threads per rank when several ranks run: 1, or the user's OMP/OPENBLAS/MKL_NUM_THREADS
    capped so that the ranks on this machine times their threads do not exceed its cores.
    Returns the number set (None in a world of one or without threadpoolctl). A collective."""
    global _limiter
    if world().size == 1:
        return None
    local = ranks_on_this_machine()
    asked = _user_threads()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    threads = 1 if asked is None else max(1, min(asked, cores // local))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency of the mpi extra
        return None
    _limiter = threadpool_limits(limits=threads, user_api="blas")
    return threads


def prepare(
    model: Module, loader: DataLoader, seed: int, **ddp_options: Any
) -> tuple[DistributedDataParallel, DataLoader]:
    """``(DistributedDataParallel(model), shard_loader(loader, seed))`` for the current world, with
    BLAS limited to one thread per rank (:func:`limit_blas_threads`). The optimizer needs nothing:
    build it on the model's parameters, which the wrapper shares."""
    limit_blas_threads()
    return DistributedDataParallel(model, **ddp_options), shard_loader(loader, seed)

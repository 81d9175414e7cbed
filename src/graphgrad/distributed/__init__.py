"""Data-parallel training over MPI (mpi4py): the same script on one process, a node or a cluster.

``pip install 'graphgrad[mpi]'`` brings mpi4py and an MPI library; ``mpiexec -n 4 python train.py``
then runs four ranks. Without the extra, or without a launcher, the world is one process and
everything here still works, so one script serves both::

    from graphgrad import distributed as dist
    dist.init()
    model = dist.DistributedDataParallel(model)           # rank 0's weights on every rank
    sampler = DistributedSampler(train_set)               # graphgrad.data: this rank's share
    ...                                                   # forward, backward (gradients averaged), step
    if dist.is_main(): save(...)

An uncaught exception on any rank stops all of them (one line names the rank) instead of leaving
the others waiting forever.
"""

from graphgrad.distributed.agreement import FailedOnSomeRankError, agree
from graphgrad.distributed.comm import (
    INSTALL_HINT,
    World,
    abort,
    all_gather_json,
    all_reduce,
    barrier,
    broadcast,
    current,
    init,
    is_main,
    rank,
    world,
    world_size,
)
from graphgrad.distributed.ddp import DistributedDataParallel
from graphgrad.distributed.prepare import limit_blas_threads, prepare, ranks_on_this_machine, shard_loader

__all__ = [
    "INSTALL_HINT",
    "DistributedDataParallel",
    "FailedOnSomeRankError",
    "World",
    "abort",
    "agree",
    "all_gather_json",
    "all_reduce",
    "barrier",
    "broadcast",
    "current",
    "init",
    "is_main",
    "limit_blas_threads",
    "prepare",
    "rank",
    "ranks_on_this_machine",
    "shard_loader",
    "world",
    "world_size",
]

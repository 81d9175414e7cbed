"""The world of processes a run belongs to: one process on its own, or the ranks of an MPI job.

MPI comes from mpi4py, an optional extra (``pip install 'graphgrad[mpi]'``). Without it a plain
``python`` or ``graphgrad`` process is a world of one and everything here still works (barrier
and reductions do nothing). Started by ``mpiexec``/``srun`` as several processes without mpi4py,
:func:`init` says what to install instead of letting each process train alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError

INSTALL_HINT = "pip install 'graphgrad[mpi]'"

# Environment variables through which common launchers tell a process how many processes they started.
_LAUNCHER_SIZE_VARIABLES = (
    "PMI_SIZE",  # MPICH / Intel MPI (hydra), srun --mpi=pmi2
    "OMPI_COMM_WORLD_SIZE",  # Open MPI
    "MV2_COMM_WORLD_SIZE",  # MVAPICH
    "SLURM_STEP_NUM_TASKS",  # srun (set inside a job step only, not in the batch script itself)
)


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` in ``0 .. size-1``; ``comm`` is None for a world of one."""

    rank: int
    size: int
    comm: Any = None  # an mpi4py communicator

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_world: World | None = None


def launcher_size() -> int:
    """How many processes the launcher says it started (1 when no launcher variable is set)."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def mpi_module(required: bool = False) -> Any:
    """mpi4py's ``MPI`` module (importing it initializes MPI), or None when mpi4py is not installed.

    ``required``: raise :class:`ConfigError` naming the extra to install instead of returning None.
    """
    try:
        from mpi4py import MPI
    except ImportError as exc:
        if required:
            raise ConfigError(
                f"MPI support needs mpi4py and an MPI library; install them with: {INSTALL_HINT}"
            ) from exc
        return None
    return MPI


def init(mpi: bool | None = None) -> World:
    """Join the job's world (once; later calls return the same world).

    ``mpi=None``: use MPI when mpi4py is installed, else run as a world of one (refused when a
    launcher started several processes). ``True``: MPI is required. ``False``: a world of one even
    under a launcher (each process then works alone).
    """
    global _world
    if _world is not None:
        return _world
    started = launcher_size()
    MPI = None if mpi is False else mpi_module(required=bool(mpi))  # noqa: N806 (mpi4py's name)
    if MPI is None:
        if started > 1 and mpi is None:
            raise ConfigError(
                f"this program was started as {started} processes (by mpiexec, srun or similar), but MPI "
                f"support is not installed, so each process would train alone; install it with: {INSTALL_HINT}"
            )
        _world = World(0, 1)
        return _world
    comm = MPI.COMM_WORLD
    world = World(comm.Get_rank(), comm.Get_size(), comm)
    if world.size == 1 and started > 1:
        raise ConfigError(
            f"the launcher started {started} processes but MPI sees each as a world of 1: the mpiexec "
            f"used belongs to a different MPI library than mpi4py's; use the mpiexec installed with "
            f"mpi4py's MPI (e.g. the one next to this Python, from {INSTALL_HINT})"
        )
    if world.size > 1:
        from graphgrad.distributed.failure import install_abort_on_error

        install_abort_on_error(world)
    _world = world
    return world


def current() -> World:
    """The world joined so far, without joining one: a world of one when :func:`init` was never
    called (so a single-process run never starts MPI)."""
    return _world if _world is not None else World(0, 1)


def world() -> World:
    """The current world, joining it first if needed."""
    return _world if _world is not None else init()


def rank() -> int:
    """This process's rank (0 for a single process)."""
    return world().rank


def world_size() -> int:
    """The number of processes in the job (1 for a single process)."""
    return world().size


def is_main() -> bool:
    """True on rank 0: the process that prints, writes checkpoints and owns the run folder."""
    return world().rank == 0


def barrier() -> None:
    """Wait until every rank has reached this call."""
    w = world()
    if w.comm is not None:
        w.comm.Barrier()


def _contiguous(array: np.ndarray, what: str) -> None:
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or not array.flags.writeable:
        raise ConfigError(f"{what} needs a writable C-contiguous NumPy array, got {type(array).__name__}")


def all_reduce(array: np.ndarray, op: str = "sum") -> np.ndarray:
    """Combine ``array`` over all ranks in place (``op``: sum, max or min) and return it."""
    ops = ("sum", "max", "min")
    if op not in ops:
        raise ConfigError(f"all_reduce: unknown op {op!r}; valid ops: {', '.join(ops)}")
    _contiguous(array, "all_reduce")
    w = world()
    if w.comm is not None and w.size > 1:
        MPI = mpi_module(required=True)  # noqa: N806
        w.comm.Allreduce(MPI.IN_PLACE, array, op={"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op])
    return array


def broadcast(array: np.ndarray, root: int = 0) -> np.ndarray:
    """Overwrite ``array`` on every rank with rank ``root``'s values, in place, and return it."""
    _contiguous(array, "broadcast")
    w = world()
    if w.comm is not None and w.size > 1:
        w.comm.Bcast(array, root=root)
    return array


def all_gather_json(value: Any) -> list[Any]:
    """Every rank's ``value`` (anything JSON can hold), in rank order, on every rank; no pickle."""
    mine = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
    w = world()
    if w.comm is None or w.size == 1:
        return [value]
    lengths = np.zeros(w.size, dtype=np.int64)
    w.comm.Allgather(np.array([mine.size], dtype=np.int64), lengths)
    received = np.empty(int(lengths.sum()), dtype=np.uint8)
    w.comm.Allgatherv(mine, [received, lengths.tolist()])
    ends = np.cumsum(lengths)
    return [json.loads(received[end - n : end].tobytes()) for n, end in zip(lengths, ends)]


def abort(message: str, code: int = 1) -> None:
    """Stop every rank of the job now, after one line on stderr naming this rank and ``message``.

    In a world of one this exits the process with ``code``. Use it where one rank cannot go on
    while the others wait in a collective (they would otherwise wait forever).
    """
    from graphgrad.distributed.failure import abort_world

    abort_world(world(), message, code)

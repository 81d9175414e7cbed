"""Failure, not hang: one rank's uncaught exception stops the whole MPI job.

Without this, a rank that dies leaves the others waiting forever in their next Allreduce. The
hook prints the usual traceback (one line only for graphgrad's own errors, which are the user's
mistakes), then one line naming the rank, then calls MPI Abort, which ends every rank.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING

from graphgrad.errors import GraphgradError

if TYPE_CHECKING:
    from graphgrad.distributed.comm import World


_FORWARD_GRACE_S = 0.5


def abort_world(world: World, message: str, code: int = 1) -> None:
    """Print ``graphgrad: rank R of N: message; stopping all ranks`` and end the whole job."""
    first_line = (message.strip().splitlines() or [""])[0]
    if world.comm is None or world.size == 1:
        print(f"graphgrad: {first_line}", file=sys.stderr, flush=True)
        raise SystemExit(code)
    print(f"graphgrad: rank {world.rank} of {world.size}: {first_line}; stopping all ranks",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    # The launcher forwards each rank's output through a pipe and drops what is still in flight
    # when Abort kills the job: give it a moment, or the traceback above may be lost.
    time.sleep(_FORWARD_GRACE_S)
    world.comm.Abort(code)


def install_abort_on_error(world: World) -> None:
    """Make an uncaught exception on this rank abort every rank (``sys.excepthook``)."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        own = issubclass(exc_type, GraphgradError)
        try:
            if not own:
                previous(exc_type, exc, tb)
        finally:
            abort_world(world, f"{exc_type.__name__}: {exc}", 2 if own else 1)

    sys.excepthook = hook

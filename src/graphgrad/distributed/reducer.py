"""Average gradients over the ranks in buckets, overlapping communication with backward.

Parameters are grouped, in reverse order (the order backward produces their gradients), into
buckets of about ``bucket_cap_bytes``, one dtype per bucket. A hook on each parameter copies its
gradient into its bucket's flat buffer as soon as backward has accumulated it; when a bucket is
complete its in-place, non-blocking Allreduce starts while backward goes on with earlier layers.
Buckets start strictly in index order, so every rank issues the same collectives in the same
order even when gradients arrive in a different order. When the last bucket has started, all are
waited on and the averages written back into ``.grad``, still inside backward: when backward
returns, every ``.grad`` is the average over ranks, never a partial one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from graphgrad.distributed.comm import World, mpi_module
from graphgrad.errors import BackwardError
from graphgrad.nn.parameter import Parameter
from graphgrad.tensor import Tensor


class Bucket:
    """A flat buffer holding the gradients of a few parameters of one dtype, reduced together."""

    def __init__(self, index: int, named: Sequence[tuple[str, Parameter]]) -> None:
        self.index = index
        self.names = [name for name, _ in named]
        self.params = [p for _, p in named]
        ends = np.cumsum([p.data.size for p in self.params])
        self.bounds = list(zip([0, *ends[:-1].tolist()], ends.tolist()))
        self.buffer = np.zeros(int(ends[-1]), dtype=self.params[0].dtype)
        self.marked = np.zeros(len(self.params), dtype=bool)
        self.request: Any = None  # the Allreduce in flight

    @property
    def complete(self) -> bool:
        return bool(self.marked.all())

    def take(self, i: int, grad: Tensor | None) -> None:
        """Copy parameter ``i``'s gradient (zeros when it has none) into the buffer."""
        start, end = self.bounds[i]
        if grad is None:
            self.buffer[start:end] = 0
        else:
            np.copyto(self.buffer[start:end], grad.data.reshape(-1))
        self.marked[i] = True

    def write_back(self, world_size: int) -> None:
        """Divide the reduced sums by the number of ranks and put them in each ``.grad``."""
        np.divide(self.buffer, world_size, out=self.buffer)
        for p, (start, end) in zip(self.params, self.bounds):
            mean = self.buffer[start:end].reshape(p.shape)
            if p.grad is not None and p.grad.data.flags.writeable and p.grad.shape == p.shape:
                np.copyto(p.grad.data, mean)
            else:  # no gradient (unused parameter), or a read-only one (a broadcast view)
                p.grad = Tensor(mean.copy())
        self.marked[:] = False
        self.request = None


def make_buckets(named: Sequence[tuple[str, Parameter]], cap_bytes: int) -> list[Bucket]:
    """Buckets in reverse parameter order; a new one starts at a dtype change or at the size cap."""
    groups: list[list[tuple[str, Parameter]]] = []
    size = 0
    for name, p in reversed(named):
        last = groups[-1] if groups else None
        if last is None or last[0][1].dtype != p.dtype or size + p.data.nbytes > cap_bytes:
            groups.append([])
            size = 0
        groups[-1].append((name, p))
        size += p.data.nbytes
    return [Bucket(i, group) for i, group in enumerate(groups)]


class GradientReducer:
    """Hooks on the trained parameters that average their gradients over ``world`` during backward.

    ``sync=False`` (set by ``no_sync()``) leaves gradients local and accumulating. ``overlap=False``
    starts the Allreduces only when the last gradient is in (to measure what overlap saves).
    ``trace``, when a list, receives ``"start <bucket>"`` and ``"averaged"`` events in order;
    ``comm_seconds`` adds up the time this rank spent blocked in MPI calls for gradients.
    """

    def __init__(self, named: Sequence[tuple[str, Parameter]], world: World, bucket_cap_bytes: int,
                 overlap: bool = True) -> None:
        self.world = world
        self.overlap = overlap
        self.sync = True
        self.trace: list[str] | None = None
        self.comm_seconds = 0.0
        trained = [(name, p) for name, p in named if p.requires_grad and p.data.size > 0]
        self.buckets = make_buckets(trained, bucket_cap_bytes) if trained else []
        self._where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self._next = 0  # the next bucket to start
        self._mpi = mpi_module(required=True)
        self._handles = [p.register_post_accumulate_grad_hook(self._on_gradient) for _, p in trained]

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _record(self, event: str) -> None:
        if self.trace is not None:
            self.trace.append(event)

    def _on_gradient(self, p: Tensor) -> None:
        if not self.sync:
            return
        bucket, i = self._where[id(p)]
        if bucket.request is not None:
            raise BackwardError(
                f"parameter '{bucket.names[i]}' got a second gradient while its average over the ranks was "
                "being computed; call backward once per forward (use no_sync() to accumulate)"
            )
        bucket.take(i, p.grad)
        if bucket.complete:
            self._start_ready()
        elif self._next:
            self._progress()

    def mark_unused(self, used: set[int]) -> None:
        """Count parameters whose id is not in ``used`` as ready: no gradient will come for them."""
        if not self.sync:
            return
        for bucket in self.buckets:
            for i, p in enumerate(bucket.params):
                if id(p) not in used and not bucket.marked[i]:
                    bucket.take(i, p.grad)
        self._start_ready()

    def _start_ready(self) -> None:
        if not self.overlap and not all(b.complete for b in self.buckets):
            return
        t0 = time.perf_counter()
        MPI = self._mpi  # noqa: N806
        while self._next < len(self.buckets) and self.buckets[self._next].complete:
            bucket = self.buckets[self._next]
            bucket.request = self.world.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
            self._record(f"start {bucket.index}")
            self._next += 1
        self.comm_seconds += time.perf_counter() - t0
        if self.buckets and self._next == len(self.buckets):
            self._finish()

    def _progress(self) -> None:
        """Let MPI move the Allreduces in flight along (MPICH progresses only inside MPI calls)."""
        t0 = time.perf_counter()
        self._mpi.Request.Testall([b.request for b in self.buckets[: self._next]])
        self.comm_seconds += time.perf_counter() - t0

    def _finish(self) -> None:
        t0 = time.perf_counter()
        self._mpi.Request.Waitall([b.request for b in self.buckets])
        self.comm_seconds += time.perf_counter() - t0
        for bucket in self.buckets:
            bucket.write_back(self.world.size)
        self._next = 0
        self._record("averaged")

    def unfinished(self) -> list[str]:
        """Names of the parameters still waiting for a gradient in a round that has begun, in model order."""
        if not any(b.marked.any() for b in self.buckets):
            return []
        return [name for b in self.buckets for name, m in zip(b.names, b.marked) if not m][::-1]

    def __len__(self) -> int:
        return len(self.buckets)


def tensors_in(value: Any) -> Iterable[Tensor]:
    """The tensors in a forward's output (a Tensor, or tuples, lists and dicts of them)."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)

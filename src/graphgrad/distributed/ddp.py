"""DistributedDataParallel: the same model on every rank, each rank on its own share of each batch.

At construction every rank checks that all ranks built the same model, then takes rank 0's
parameters and buffers, so all ranks start identical. During backward, gradients are averaged
over the ranks (see :mod:`graphgrad.distributed.reducer`); as every rank then applies the same
optimizer step to the same average, the ranks stay identical without ever sending weights again.
With a mean loss over equal local batches, the averaged gradient is the gradient of the mean loss
over the union of the ranks' batches: the step equals a single process's step on that union.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from graphgrad.autograd.engine import topological_order
from graphgrad.autograd.grad_mode import is_grad_enabled, no_grad
from graphgrad.distributed.comm import World, broadcast, world
from graphgrad.distributed.consistency import check_same_model
from graphgrad.distributed.reducer import GradientReducer, tensors_in
from graphgrad.errors import BackwardError, ConfigError
from graphgrad.nn.module import IncompatibleKeys, Module
from graphgrad.nn.parameter import Parameter
from graphgrad.tensor import Tensor


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of the MPI job (PyTorch's name).

    Call it like the module; ``.module`` is the wrapped model, and ``state_dict()``,
    ``named_parameters()`` and ``load_state_dict()`` use the model's own names (no prefix). Build
    the optimizer on ``ddp.parameters()`` or the model's: they are the same tensors.

    - ``bucket_cap_mb``: gradients travel in buckets of about this many megabytes (10^6 bytes);
      smaller buckets start sooner, larger ones pay the per-message latency fewer times.
    - ``find_unused_parameters``: after each forward, find the parameters its output does not
      depend on (one walk of the graph) and count them as done with their current gradient (zero
      if none), so backward still completes the average. Without it, a parameter that gets no
      gradient is reported at the next forward. A parameter no rank used gets a zero gradient.
    - ``broadcast_buffers``: before each training forward, copy rank 0's buffers to every rank.
    - ``overlap=False`` starts every Allreduce after the last gradient, for measuring what overlap
      saves; the results are the same.

    In a world of one (no MPI), it only forwards to ``module``.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 4.0, find_unused_parameters: bool = False,
                 broadcast_buffers: bool = True, overlap: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise ConfigError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ConfigError(
                f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}"
            )
        self.module = module
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self._world: World = world()
        self.reducer: GradientReducer | None = None
        if self._world.size == 1:
            return
        check_same_model(self._world, module)
        with no_grad():
            for _, p in module.named_parameters():
                _broadcast_tensor(p)
            self._sync_buffers()
        named = list(module.named_parameters())
        self.reducer = GradientReducer(named, self._world, max(1, int(bucket_cap_mb * 1e6)), overlap=overlap)

    def _sync_buffers(self) -> None:
        for _, b in self.module.named_buffers():
            _broadcast_tensor(b)

    def sync_buffers(self) -> None:
        """Give every rank rank 0's buffers (a collective: every rank calls it). A training forward
        updates batch norm's running statistics from each rank's own part of the batch, so call this
        before evaluating on every rank, or early stopping and schedules may decide differently."""
        if self._world.size > 1:
            with no_grad():
                self._sync_buffers()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        reducer = self.reducer
        training = reducer is not None and self.training and is_grad_enabled()
        if training:
            assert reducer is not None
            missing = reducer.unfinished()
            if missing:
                raise BackwardError(
                    f"DistributedDataParallel: the last backward gave no gradient to {_names(missing)}, "
                    "so that step's gradients were not averaged over the ranks; pass "
                    "find_unused_parameters=True if some parameters are not used in every forward"
                )
            if self.broadcast_buffers:
                self._sync_buffers()
        out = self.module(*args, **kwargs)
        if training and self.find_unused_parameters:
            assert reducer is not None
            roots = [t for t in tensors_in(out) if t.requires_grad]
            reducer.mark_unused({id(t) for t in topological_order(roots)})
        return out

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward accumulates local gradients without averaging (gradient accumulation);
        the first backward after it averages everything accumulated."""
        reducer = self.reducer
        if reducer is None:
            yield
            return
        previous, reducer.sync = reducer.sync, False
        try:
            yield
        finally:
            reducer.sync = previous

    @property
    def world(self) -> World:
        return self._world

    # The model's own names, not "module.<name>": checkpoints load with or without the wrapper.
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self.module.named_parameters(prefix, recurse)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        return self.module.named_buffers(prefix)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        return self.module.load_state_dict(state_dict, strict)

    def extra_repr(self) -> str:
        buckets = 0 if self.reducer is None else len(self.reducer)
        return f"rank {self._world.rank} of {self._world.size}, {buckets} gradient buckets"


def _broadcast_tensor(value: Any) -> None:
    """Rank 0's values into ``value`` (a Tensor or an ndarray) in place, on every rank."""
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray) or arr.size == 0:
        return
    if arr.flags.c_contiguous and arr.flags.writeable:
        broadcast(arr)
    else:
        arr[...] = broadcast(np.ascontiguousarray(arr))
    if isinstance(value, Tensor):
        value.bump_version()


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"parameter{'s' if len(names) > 1 else ''} {shown}{more}"

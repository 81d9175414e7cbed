"""Refuse to start when the ranks built different models.

Averaging gradients of models that differ would fail much later (a mismatched Allreduce) or,
worse, silently mix unrelated numbers. Every rank describes its model (parameter and buffer names,
shapes, dtypes, whether trained) and all ranks compare every description with rank 0's, so they
all raise the same error naming the first difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.distributed.comm import World, all_gather_json
from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module
from graphgrad.tensor import Tensor

Entry = list[Any]  # [kind, name, shape, dtype, trained]


def describe(module: Module) -> list[Entry]:
    """One entry per parameter, then per buffer, in the module's own order."""
    entries: list[Entry] = []
    for name, p in module.named_parameters():
        entries.append(["parameter", name, list(p.shape), str(p.dtype), bool(p.requires_grad)])
    for name, b in module.named_buffers():
        arr = b.data if isinstance(b, Tensor) else np.asarray(b)
        entries.append(["buffer", name, list(arr.shape), str(arr.dtype), False])
    return entries


def _shape(shape: list[int]) -> str:
    return str(tuple(shape))


def first_difference(ref: list[Entry], other: list[Entry], rank: int) -> str | None:
    """The first way ``other`` (rank ``rank``'s description) differs from rank 0's, in words."""
    for i, (a, b) in enumerate(zip(ref, other)):
        if a[:2] != b[:2]:
            return (f"entry {i} is {a[0]} '{a[1]}' on rank 0 but {b[0]} '{b[1]}' on rank {rank}")
        what = f"{a[0]} '{a[1]}'"
        if a[2] != b[2]:
            return f"{what} has shape {_shape(a[2])} on rank 0 but {_shape(b[2])} on rank {rank}"
        if a[3] != b[3]:
            return f"{what} has dtype {a[3]} on rank 0 but {b[3]} on rank {rank}"
        if a[4] != b[4]:
            trained = {True: "trained", False: "frozen (requires_grad=False)"}
            return f"{what} is {trained[a[4]]} on rank 0 but {trained[b[4]]} on rank {rank}"
    if len(ref) != len(other):
        longer, shorter, more = (0, rank, ref) if len(ref) > len(other) else (rank, 0, other)
        extra = more[min(len(ref), len(other))]
        return (f"rank {longer} has {len(more)} parameters and buffers, rank {shorter} has "
                f"{min(len(ref), len(other))}: {extra[0]} '{extra[1]}' exists only on rank {longer}")
    return None


def check_same_model(world: World, module: Module, who: str = "DistributedDataParallel") -> None:
    """Raise :class:`ConfigError` on every rank unless all ranks built the same model."""
    descriptions = all_gather_json(describe(module))
    for rank in range(1, len(descriptions)):
        difference = first_difference(descriptions[0], descriptions[rank], rank)
        if difference is not None:
            raise ConfigError(f"{who}: the model on rank {rank} differs from rank 0's: {difference}; "
                              "every rank must build the same model")

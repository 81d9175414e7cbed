"""Reductions over ``axis=None | int | tuple`` with ``keepdims``.

Every rule first puts the reduced axes back (:func:`expand_reduced`) so the upstream gradient
lines up with the input, then applies the local derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, lift
from graphgrad.tensor import Tensor

__all__ = [
    "sum",
    "mean",
]

Axis = Any  # None | int | tuple[int, ...]


def normalize_axis(axis: Axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """Axis argument as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def expand_reduced(g: Tensor, shape: tuple[int, ...], axis: tuple[int, ...] | None, keepdims: bool) -> Tensor:
    """Reshape a reduction's gradient so that it broadcasts against the input of ``shape``."""
    if keepdims or axis is None and g.ndim == 0 and not shape:
        return g
    if axis is None:
        kept = (1,) * len(shape)
    else:
        kept = tuple(1 if i in axis else n for i, n in enumerate(shape))
    return g.reshape(kept)


_sum = Op(
    "sum",
    lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
    (lambda g, out, a, axis, keepdims: expand_reduced(g, a.shape, axis, keepdims).broadcast_to(a.shape),),
)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001 (NumPy's name)
    """Sum of elements over ``axis``."""
    x = lift(x)
    return _sum(x, axis=normalize_axis(axis, x.ndim, "sum"), keepdims=keepdims)


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    if axis is None:
        return int(np.prod(shape))
    return int(np.prod([shape[i] for i in axis]))


_mean = Op(
    "mean",
    lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims),
    (
        lambda g, out, a, axis, keepdims: (
            expand_reduced(g, a.shape, axis, keepdims) * (1.0 / _count(a.shape, axis))
        ).broadcast_to(a.shape),
    ),
)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``."""
    x = lift(x)
    return _mean(x, axis=normalize_axis(axis, x.ndim, "mean"), keepdims=keepdims)

"""Picking and ordering elements: diag, diagonal, trace, tril, triu, take, take_along_axis,
sort, argsort, partition.

``diagonal`` and its adjoint (writing a vector onto a diagonal of zeros) are two ops whose rules
call each other; everything else is indexing or ``where`` with a constant mask, so gradients
scatter back to the elements that were picked (sort: each value's gradient goes back to where
that value was; tied values keep NumPy's stable order). argsort carries no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.ops.arrange import ravel
from graphgrad.ops.core import Op, lift, tri
from graphgrad.ops.elementwise import where
from graphgrad.ops.reduce import sum
from graphgrad.ops.shape import getitem
from graphgrad.tensor import Tensor

__all__ = [
    "diag",
    "diagonal",
    "trace",
    "tril",
    "triu",
    "take",
    "take_along_axis",
    "sort",
    "argsort",
    "partition",
]
NON_DIFFERENTIABLE = ("argsort",)


# ------------------------------------------------------------------ diagonals
def _diagonal_forward(a: np.ndarray, offset: int, axis1: int, axis2: int) -> np.ndarray:
    return np.diagonal(a, offset, axis1, axis2).copy()  # NumPy's is a read-only view


def _embed_forward(v: np.ndarray, shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> np.ndarray:
    """Zeros of ``shape`` with ``v`` (laid out as ``numpy.diagonal`` returns it) on the diagonal."""
    out = np.zeros(shape, dtype=v.dtype)
    planes = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a writable view
    i = np.arange(v.shape[-1])
    planes[..., i + max(-offset, 0), i + max(offset, 0)] = v
    return out


_diagonal: Op = Op(
    "diagonal",
    _diagonal_forward,
    (lambda g, out, a, offset, axis1, axis2: _embed(g, shape=a.shape, offset=offset, axis1=axis1, axis2=axis2),),
)
_embed: Op = Op(
    "diagonal_embed",
    _embed_forward,
    (lambda g, out, v, shape, offset, axis1, axis2: _diagonal(g, offset=offset, axis1=axis1, axis2=axis2),),
)
"""Internal: the adjoint of ``diagonal`` (diag of a vector uses it too)."""


def _two_axes(x: Tensor, axis1: int, axis2: int, op: str) -> tuple[int, int]:
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs at least 2 axes, got shape {x.shape}")
    a1, a2 = int(axis1), int(axis2)
    if not (-x.ndim <= a1 < x.ndim and -x.ndim <= a2 < x.ndim):
        raise ShapeError(f"{op}: axes ({axis1}, {axis2}) are out of range for shape {x.shape}")
    a1, a2 = a1 % x.ndim, a2 % x.ndim
    if a1 == a2:
        raise ShapeError(f"{op}: axis1 and axis2 must differ, both are {a1}")
    return a1, a2


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal ``offset`` above the main one in the plane of ``axis1`` and ``axis2``.

    As ``numpy.diagonal``: the plane's two axes are removed and the diagonal becomes the last axis.
    """
    x = lift(x)
    a1, a2 = _two_axes(x, axis1, axis2, "diagonal")
    return _diagonal(x, offset=int(offset), axis1=a1, axis2=a2)


def diag(v: Any, k: int = 0) -> Tensor:
    """For a 1-D input, a square matrix with ``v`` on diagonal ``k``; for a 2-D input, its diagonal ``k``."""
    v = lift(v)
    k = int(k)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        return _embed(v, shape=(n, n), offset=k, axis1=0, axis2=1)
    if v.ndim == 2:
        return _diagonal(v, offset=k, axis1=0, axis2=1)
    raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {v.shape}")


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum along a diagonal (as ``numpy.trace``): the sum of ``diagonal(x, offset, axis1, axis2)``."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def _triangle(x: Any, k: int, lower: bool, op: str) -> Tensor:
    x = lift(x)
    if x.ndim == 0:
        raise ShapeError(f"{op}: needs at least 1 axis, got a zero-dimensional tensor")
    rows, cols = x.shape[-2:] if x.ndim >= 2 else (x.shape[0], x.shape[0])
    k = int(k) if lower else int(k) - 1
    mask = tri(rows, cols, k)
    return where(mask, x, 0.0) if lower else where(mask, 0.0, x)


def tril(x: Any, k: int = 0) -> Tensor:
    """The lower triangle (on and below diagonal ``k``) of the last two axes; zeros above it.

    As in NumPy, a 1-D input is taken as a row repeated into a square.
    """
    return _triangle(x, k, True, "tril")


def triu(x: Any, k: int = 0) -> Tensor:
    """The upper triangle (on and above diagonal ``k``) of the last two axes; zeros below it."""
    return _triangle(x, k, False, "triu")


# ------------------------------------------------------------------ take
def _index_array(indices: Any) -> np.ndarray:
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu" and idx.size:
        raise ShapeError(f"indices must be integers, got dtype {idx.dtype}")
    return idx.astype(np.intp, copy=False)


def _check_bounds(idx: np.ndarray, n: int, op: str, axis: Any) -> None:
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].reshape(-1)[0]
        where = "the flattened tensor" if axis is None else f"axis {axis}"
        raise ShapeError(f"{op}: index {bad} is out of bounds for {where} of length {n}")


def take(x: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Tensor:
    """Elements at ``indices`` along ``axis`` (of the flattened tensor when None), as ``numpy.take``.

    ``mode``: ``raise`` (out-of-range indices are an error), ``wrap`` or ``clip``.
    """
    x = lift(x)
    if axis is None:
        x, ax = ravel(x), 0
    else:
        if not -x.ndim <= int(axis) < max(x.ndim, 1):
            raise ShapeError(f"take: axis {axis} is out of range for shape {x.shape}")
        ax = int(axis) % x.ndim
    idx = _index_array(indices)
    n = x.shape[ax]
    if mode == "wrap":
        idx = np.mod(idx, n) if n else idx
    elif mode == "clip":
        idx = np.clip(idx, 0, max(n - 1, 0))
    elif mode == "raise":
        _check_bounds(idx, n, "take", axis)
    else:
        raise ConfigError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return getitem(x, (slice(None),) * ax + (idx,))


def take_along_axis(x: Any, indices: Any, axis: int | None = -1) -> Tensor:
    """Pick along ``axis`` by an index array of the input's rank, as ``numpy.take_along_axis``
    (the pairing of ``argsort``, ``argpartition``, ``argmax(keepdims=True)``)."""
    x = lift(x)
    idx = _index_array(indices)
    if axis is None:
        if idx.ndim != 1:
            raise ShapeError(f"take_along_axis: with axis=None the indices must be 1-D, got shape {idx.shape}")
        x, ax = ravel(x), 0
    else:
        if idx.ndim != x.ndim:
            raise ShapeError(
                f"take_along_axis: indices of shape {idx.shape} need the input's {x.ndim} axes (shape {x.shape})"
            )
        if not -x.ndim <= int(axis) < x.ndim:
            raise ShapeError(f"take_along_axis: axis {axis} is out of range for shape {x.shape}")
        ax = int(axis) % x.ndim
    _check_bounds(idx, x.shape[ax], "take_along_axis", axis)
    ones = (1,) * x.ndim
    fancy = tuple(
        idx if d == ax else np.arange(n).reshape(ones[:d] + (-1,) + ones[d + 1 :]) for d, n in enumerate(x.shape)
    )
    return getitem(x, fancy)


# ------------------------------------------------------------------ ordering
def _argsort_forward(a: np.ndarray, axis: int | None, kind: Any, stable: Any) -> np.ndarray:
    return np.argsort(a, axis=axis, kind=kind, stable=stable)


_argsort = Op("argsort", _argsort_forward, None)


def argsort(x: Any, axis: int | None = -1, kind: Any = None, stable: Any = None) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (flattened when None); integers, no gradient."""
    return _argsort(lift(x), axis=axis, kind=kind, stable=stable)


def sort(x: Any, axis: int | None = -1, kind: Any = None, stable: Any = None) -> Tensor:
    """Sorted copy along ``axis`` (flattened when None): values gathered by ``argsort``, so each
    value's gradient goes back to where it came from."""
    x = lift(x)
    if axis is None:
        x, axis = ravel(x), -1
    if x.ndim == 0:
        raise ShapeError("sort: cannot sort a zero-dimensional tensor along an axis")
    order = np.argsort(x.data, axis=axis, kind=kind, stable=stable)
    return take_along_axis(x, order, axis)


def partition(x: Any, kth: Any, axis: int | None = -1, kind: Any = "introselect") -> Tensor:
    """A copy with the ``kth`` element(s) in sorted position, smaller ones before and larger after
    (as ``numpy.partition``); values gathered by ``numpy.argpartition``."""
    x = lift(x)
    if axis is None:
        x, axis = ravel(x), -1
    if x.ndim == 0:
        raise ShapeError("partition: cannot partition a zero-dimensional tensor along an axis")
    try:
        order = np.argpartition(x.data, kth, axis=axis, kind=kind)
    except ValueError as exc:
        raise ShapeError(f"partition: {exc} (shape {x.shape}, kth {kth!r})") from None
    return take_along_axis(x, order, axis)

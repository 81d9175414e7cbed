"""Running sums and products along an axis, and their inverse, diff.

cumsum's rule is a reversed cumsum. cumprod's rule divides by nothing, so it is exact when
entries are 0: the gradient of entry i is ``E_i * S_i`` with ``E_i`` the product of the entries
before i and ``S_i = sum_{j >= i} g_j prod_{i < k <= j} a_k``, a backward linear recurrence solved
by a doubling scan (log2(n) steps of shifted multiply-adds, O(n log n) work) with graphgrad ops,
so that it differentiates again. diff is slicing and subtraction, as NumPy computes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.arrange import flip, moveaxis, ravel
from graphgrad.ops.core import Op, _constant, lift
from graphgrad.ops.elementwise import astype
from graphgrad.ops.shape import broadcast_to, concatenate, getitem
from graphgrad.tensor import Tensor

__all__ = ["cumsum", "cumprod", "diff"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _axis_of(x: Tensor, axis: Any, op: str) -> tuple[Tensor, int]:
    """The tensor to scan and its axis: flattened when ``axis`` is None, as NumPy does."""
    if axis is None:
        return ravel(x), 0
    if not -x.ndim <= int(axis) < x.ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for shape {x.shape}")
    return x, int(axis) % x.ndim


def _cast(x: Tensor, dtype: Any) -> Tensor:
    return x if dtype is None or x.data.dtype == np.dtype(dtype) else astype(x, dtype)


_cumsum: Op = Op(
    "cumsum",
    lambda a, axis: np.cumsum(a, axis=axis),
    (lambda g, out, a, axis: flip(_cumsum(flip(g, axis), axis=axis), axis),),
)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Running sum along ``axis`` (of the flattened tensor when None); gradient: the reversed running sum."""
    x, ax = _axis_of(_cast(lift(x), dtype), axis, "cumsum")
    return _cumsum(x, axis=ax)


def _shift_left(t: Tensor, d: int) -> Tensor:
    """``t[..., i + d]`` along the last axis, 0 past the end."""
    n = t.shape[-1]
    zeros = _constant(0, t.data.dtype, t.shape[:-1] + (min(d, n),))
    return concatenate([getitem(t, (Ellipsis, slice(d, None))), zeros], axis=-1)


def _cumprod_rule(g: Tensor, out: Tensor, a: Tensor, axis: int) -> Tensor:
    g, a, out = moveaxis(g, axis, -1), moveaxis(a, axis, -1), moveaxis(out, axis, -1)
    n = a.shape[-1]
    if n == 0:
        return moveaxis(g, -1, axis)
    ones = _constant(1, out.data.dtype, out.shape[:-1] + (1,))
    before = concatenate([ones, getitem(out, (Ellipsis, slice(0, n - 1)))], axis=-1)  # E_i
    s, c = g, _shift_left(a, 1)  # after the step with span d: c_i = prod_{i < k <= i + d} a_k
    d = 1
    while d < n:
        s = s + c * _shift_left(s, d)
        if 2 * d < n:
            c = c * _shift_left(c, d)
        d *= 2
    return moveaxis(before * s, -1, axis)


_cumprod = Op("cumprod", lambda a, axis: np.cumprod(a, axis=axis), (_cumprod_rule,))


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Running product along ``axis`` (of the flattened tensor when None).

    Its gradient uses no division, so it is exact with zeros among the entries (see the module).
    """
    x, ax = _axis_of(_cast(lift(x), dtype), axis, "cumprod")
    return _cumprod(x, axis=ax)


def _edge(value: Any, x: Tensor, ax: int) -> Tensor:
    """``prepend`` / ``append`` as NumPy takes them: a scalar becomes a slab of length 1 along ``ax``."""
    v = lift(value, x)
    if v.ndim == 0:
        v = broadcast_to(v, x.shape[:ax] + (1,) + x.shape[ax + 1 :])
    return v


def diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """The ``n``-th discrete difference ``x[i + 1] - x[i]`` along ``axis``, as ``numpy.diff``."""
    x = lift(x)
    n = int(n)
    if n < 0:
        raise ShapeError(f"diff: order must be non-negative, got {n}")
    if x.ndim == 0:
        raise ShapeError("diff: needs at least 1 axis, got a zero-dimensional tensor")
    if not -x.ndim <= int(axis) < x.ndim:
        raise ShapeError(f"diff: axis {axis} is out of range for shape {x.shape}")
    ax = int(axis) % x.ndim
    if n == 0:
        return x
    parts = ([_edge(prepend, x, ax)] if prepend is not None else []) + [x]
    parts += [_edge(append, x, ax)] if append is not None else []
    if len(parts) > 1:
        x = concatenate(parts, axis=ax)
    lead = (slice(None),) * ax
    for _ in range(n):
        x = getitem(x, lead + (slice(1, None),)) - getitem(x, lead + (slice(None, -1),))
    return x

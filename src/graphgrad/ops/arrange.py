"""Re-arranging one tensor: ravel, moveaxis, repeat, tile, roll, flips, rot90, atleast_Nd.

All but roll are built from reshape, transpose, broadcast_to and basic indexing, which compute
exactly what NumPy computes (the same elements moved), so their gradients are those ops' rules:
a repeated element's gradient is the sum over its copies. roll is its own op (its rule rolls
back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, lift
from graphgrad.ops.reduce import normalize_axis
from graphgrad.ops.shape import broadcast_to, expand_dims, getitem, reshape, transpose
from graphgrad.tensor import Tensor

__all__ = [
    "ravel",
    "moveaxis",
    "repeat",
    "tile",
    "roll",
    "flip",
    "flipud",
    "fliplr",
    "rot90",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def ravel(x: Any) -> Tensor:
    """The elements as a 1-D tensor, in C order."""
    return reshape(x, (-1,))


def _axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """An int or a sequence of ints as non-negative axes, in the order given (repeats refused)."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(out)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or sequences), the others keeping their order."""
    x = lift(x)
    src = _axes(source, x.ndim, "moveaxis")
    dst = _axes(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ShapeError(f"moveaxis: source {source} and destination {destination} need the same number of axes")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element) along ``axis``.

    With ``axis=None`` the input is flattened first, as in ``numpy.repeat``. A constant count is a
    broadcast (each copy's gradient summed back); per-element counts gather with an index.
    """
    x = lift(x)
    if axis is None:
        x, axis = ravel(x), 0
    if x.ndim == 0:
        x = reshape(x, (1,))
    ax = _axes(axis, x.ndim, "repeat")[0]
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise ShapeError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    if counts.size == 1:
        r = int(counts.reshape(-1)[0])
        spread = broadcast_to(expand_dims(x, ax + 1), x.shape[: ax + 1] + (r,) + x.shape[ax + 1 :])
        return reshape(spread, x.shape[:ax] + (x.shape[ax] * r,) + x.shape[ax + 1 :])
    if counts.shape != (x.shape[ax],):
        raise ShapeError(
            f"repeat: {counts.size} repeat counts for axis {axis} of length {x.shape[ax]} (shape {x.shape})"
        )
    index = np.repeat(np.arange(x.shape[ax]), counts)
    return getitem(x, (slice(None),) * ax + (index,))


def tile(x: Any, reps: Any) -> Tensor:
    """``x`` repeated ``reps`` times along each axis (as ``numpy.tile``): a broadcast, then a reshape."""
    x = lift(x)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: negative repetition in {reps}")
    n = max(len(reps), x.ndim)
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - x.ndim) + x.shape
    interleaved = reshape(x, tuple(d for s in shape for d in (1, s)))
    spread = broadcast_to(interleaved, tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return reshape(spread, tuple(r * s for r, s in zip(reps, shape)))


def _negated(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


_roll: Op = Op(
    "roll",
    lambda a, shift, axis: np.roll(a, shift, axis),
    (lambda g, out, a, shift, axis: _roll(g, shift=_negated(shift), axis=axis),),
)


def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements cyclically by ``shift`` along ``axis`` (flattened when None), as ``numpy.roll``."""
    x = lift(x)
    shift = int(shift) if isinstance(shift, (int, np.integer)) else tuple(int(s) for s in shift)
    if axis is not None:
        axis = _axes(axis, x.ndim, "roll")
        axis = axis[0] if len(axis) == 1 and isinstance(shift, int) else axis
    return _roll(x, shift=shift, axis=axis)


def flip(x: Any, axis: Any = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    x = lift(x)
    axes = normalize_axis(axis, x.ndim, "flip")
    axes = tuple(range(x.ndim)) if axes is None else axes
    return getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)))


def flipud(x: Any) -> Tensor:
    """Reverse the first axis (rows)."""
    x = lift(x)
    if x.ndim < 1:
        raise ShapeError("flipud: needs at least 1 axis, got a zero-dimensional tensor")
    return flip(x, 0)


def fliplr(x: Any) -> Tensor:
    """Reverse the second axis (columns)."""
    x = lift(x)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: needs at least 2 axes, got shape {x.shape}")
    return flip(x, 1)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (from the first axis towards the second)."""
    x = lift(x)
    if len(axes) != 2:
        raise ShapeError(f"rot90: axes must name 2 axes, got {axes}")
    if x.ndim < 2:
        raise ShapeError(f"rot90: needs at least 2 axes, got shape {x.shape}")
    a0, a1 = _axes(axes, x.ndim, "rot90")
    k = int(k) % 4
    if k == 0:
        return getitem(x, Ellipsis)
    if k == 2:
        return flip(flip(x, a0), a1)
    order = list(range(x.ndim))
    order[a0], order[a1] = order[a1], order[a0]
    if k == 1:
        return transpose(flip(x, a1), order)
    return flip(transpose(x, order), a1)


def _at_least(arys: tuple[Any, ...], shaper: Any) -> Any:
    out = [reshape(t, shaper(t.shape)) for t in map(lift, arys)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least 1 axis (a 0-d tensor becomes shape (1,)); one tensor, or a tuple for several."""
    return _at_least(arys, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least 2 axes: () becomes (1, 1), (n,) becomes (1, n)."""
    return _at_least(arys, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least 3 axes: () becomes (1, 1, 1), (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""

    def shaper(s: tuple[int, ...]) -> tuple[int, ...]:
        if len(s) == 0:
            return (1, 1, 1)
        if len(s) == 1:
            return (1, s[0], 1)
        return s + (1,) if len(s) == 2 else s

    return _at_least(arys, shaper)

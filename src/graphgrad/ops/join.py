"""Joining and splitting, NumPy's conveniences: vstack, hstack, dstack, column_stack, append,
array_split, vsplit, hsplit, dsplit.

Each is concatenate or slicing after a reshape (atleast_2d, a column...), as NumPy defines them,
so their gradients are those of concatenate and indexing: each part's gradient lands in its slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.arrange import atleast_1d, atleast_2d, atleast_3d, ravel
from graphgrad.ops.core import lift
from graphgrad.ops.shape import _lift_all, concatenate, getitem, reshape, split
from graphgrad.tensor import Tensor

__all__ = ["vstack", "hstack", "dstack", "column_stack", "append", "array_split", "vsplit", "hsplit", "dsplit"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def vstack(tup: Sequence[Any]) -> Tensor:
    """Stack rows: 1-D inputs become rows (1, n), then concatenate along axis 0."""
    return concatenate([atleast_2d(t) for t in _lift_all(tup, "vstack")], axis=0)


def hstack(tup: Sequence[Any]) -> Tensor:
    """Stack columns: concatenate along axis 1, or along axis 0 for 1-D inputs."""
    ts = [atleast_1d(t) for t in _lift_all(tup, "hstack")]
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1)


def dstack(tup: Sequence[Any]) -> Tensor:
    """Stack along the third axis, after making each input at least 3-D (as ``numpy.atleast_3d``)."""
    return concatenate([atleast_3d(t) for t in _lift_all(tup, "dstack")], axis=2)


def column_stack(tup: Sequence[Any]) -> Tensor:
    """1-D inputs as columns (n, 1), 2-D inputs as they are, concatenated along axis 1."""
    ts = _lift_all(tup, "column_stack")
    return concatenate([reshape(t, (-1, 1)) if t.ndim < 2 else t for t in ts], axis=1)


def append(arr: Any, values: Any, axis: int | None = None) -> Tensor:
    """``values`` after ``arr`` along ``axis``; both flattened first when ``axis`` is None."""
    arr, values = lift(arr), lift(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into parts along ``axis`` like ``split``, but N sections need not divide the axis.

    As in NumPy, with length L and N sections the first ``L % N`` parts have one extra element.
    """
    x = lift(x)
    if x.ndim == 0:
        raise ShapeError("array_split: cannot split a zero-dimensional tensor")
    if not -x.ndim <= int(axis) < x.ndim:
        raise ShapeError(f"array_split: axis {axis} is out of range for shape {x.shape}")
    ax = int(axis) % x.ndim
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ShapeError(f"array_split: the number of sections must be positive, got {sections}")
        each, extras = divmod(n, sections)
        sizes = [0] + [each + 1] * extras + [each] * (sections - extras)
        points = [int(p) for p in np.cumsum(sizes)]
    else:
        points = [0, *(int(i) for i in indices_or_sections), n]
    lead = (slice(None),) * ax
    return [getitem(x, lead + (slice(points[i], points[i + 1]),)) for i in range(len(points) - 1)]


def _split_on(name: str, min_ndim: int, axis_of: Any) -> Any:
    def fn(x: Any, indices_or_sections: Any) -> list[Tensor]:
        x = lift(x)
        if x.ndim < min_ndim:
            raise ShapeError(f"{name}: needs at least {min_ndim} axes, got shape {x.shape}")
        return split(x, indices_or_sections, axis=axis_of(x.ndim))

    fn.__name__ = name
    return fn


vsplit = _split_on("vsplit", 2, lambda ndim: 0)
vsplit.__doc__ = "Split along axis 0 (rows), as ``split(x, indices_or_sections, axis=0)``."
hsplit = _split_on("hsplit", 1, lambda ndim: 1 if ndim > 1 else 0)
hsplit.__doc__ = "Split along axis 1 (columns; axis 0 for 1-D), as ``split``."
dsplit = _split_on("dsplit", 3, lambda ndim: 2)
dsplit.__doc__ = "Split along axis 2 (depth), as ``split(x, indices_or_sections, axis=2)``."

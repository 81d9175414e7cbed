"""Shape ops: reshape, transpose, broadcasting, indexing.

Their rules move the gradient back through the same re-arrangement (reshape back, inverse
permutation, sum over broadcast axes, scatter-add for indexing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, lift
from graphgrad.tensor import Tensor

__all__ = [
    "reshape",
    "transpose",
    "broadcast_to",
    "getitem",
    "swapaxes",
    "expand_dims",
    "squeeze",
    "flatten",
]


def _reshape_forward(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return a.reshape(shape)


_reshape = Op("reshape", _reshape_forward, (lambda g, out, a, shape: g.reshape(a.shape),))


def reshape(x: Any, shape: Any) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    x = lift(x)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if shape == x.data.shape:
        return x
    try:
        return _reshape(x, shape=shape)
    except ShapeError:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape {shape}"
        ) from None


def _inverse_permutation(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(axes))


_transpose = Op(
    "transpose",
    lambda a, axes: np.transpose(a, axes),
    (lambda g, out, a, axes: transpose(g, None if axes is None else _inverse_permutation(axes)),),
)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None), as ``numpy.transpose``."""
    x = lift(x)
    if axes is not None:
        axes = tuple(int(a) % max(x.ndim, 1) for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of a tensor with shape {x.shape}")
    return _transpose(x, axes=axes)


def _broadcast_rule(g: Tensor, out: Tensor, a: Tensor, shape: tuple[int, ...]) -> Tensor:
    return g  # the engine sums the broadcast axes away


_broadcast_to = Op("broadcast_to", lambda a, shape: np.broadcast_to(a, shape), (_broadcast_rule,))


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """A read-only broadcast view of ``x`` in ``shape``."""
    x = lift(x)
    shape = tuple(int(n) for n in shape)
    if shape == x.data.shape:
        return x
    try:
        return _broadcast_to(x, shape=shape)
    except ShapeError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None


# ------------------------------------------------------------------ indexing
def plain_index(index: Any) -> Any:
    """An index with tensors replaced by their arrays, so NumPy can use it."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray([i.data if isinstance(i, Tensor) else i for i in index])
    return index


def _is_basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def _getitem_rule(g: Tensor, out: Tensor, a: Tensor, index: Any) -> Tensor:
    return _index_add(g, a.shape, index)


_getitem = Op("getitem", lambda a, index: a[index], (_getitem_rule,))


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with basic, advanced or boolean indexing (``Tensor.__getitem__``)."""
    return _getitem(lift(x), index=plain_index(index))


def _index_add_forward(g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


_index_add_op = Op(
    "index_add",
    _index_add_forward,
    (lambda g, out, a, shape, index: getitem(g, index),),
)


def _index_add(g: Tensor, shape: tuple[int, ...], index: Any) -> Tensor:
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of indexing."""
    return _index_add_op(g, shape=shape, index=index)


def _setitem_forward(a: np.ndarray, v: np.ndarray, index: Any) -> np.ndarray:
    out = a.copy()
    out[index] = v
    return out


def _setitem_value_rule(g: Tensor, out: Tensor, a: Tensor, v: Tensor, index: Any) -> Tensor:
    picked = getitem(g, index)
    return picked  # in the broadcast shape of the slot; the engine sums it back to v's shape


def _setitem_base_rule(g: Tensor, out: Tensor, a: Tensor, v: Tensor, index: Any) -> Tensor:
    mask = np.ones(a.shape, dtype=bool)
    mask[index] = False
    return g * Tensor._wrap(mask.astype(g.data.dtype))


_setitem = Op("setitem", _setitem_forward, (_setitem_base_rule, _setitem_value_rule))


def setitem_(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value`` on a tensor in a recorded graph.

    ``x`` keeps its identity but becomes the output of a ``setitem`` op whose base input is a new
    tensor holding the old values and history; graphs that saved ``x`` see its version change.
    """
    index = plain_index(index)
    old = Tensor._wrap(x.data)
    old._requires_grad, old._node, old._version = x._requires_grad, x._node, x._version
    old._retain, old.name = x._retain, x.name
    new = _setitem(old, lift(value, x), index=index)
    x.data, x._node, x._requires_grad = new.data, new._node, new._requires_grad
    x._version += 1


# ------------------------------------------------------------------ axes
_swapaxes = Op(
    "swapaxes",
    lambda a, axis1, axis2: np.swapaxes(a, axis1, axis2),
    (lambda g, out, a, axis1, axis2: swapaxes(g, axis1, axis2),),
)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    return _swapaxes(lift(x), axis1=int(axis1), axis2=int(axis2))


def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert axes of length 1 at ``axis`` (an int or a tuple), as ``numpy.expand_dims``."""
    x = lift(x)
    try:
        shape = np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape
    except (ValueError, np.exceptions.AxisError) as exc:
        raise ShapeError(f"expand_dims: {exc} (shape {x.shape})") from None
    return reshape(x, shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove axes of length 1 (all of them, or those in ``axis``)."""
    x = lift(x)
    try:
        shape = np.squeeze(np.empty(x.shape, dtype=bool), axis).shape
    except (ValueError, np.exceptions.AxisError) as exc:
        raise ShapeError(f"squeeze: {exc} (shape {x.shape})") from None
    return reshape(x, shape)


def flatten(x: Any, start_axis: int = 0) -> Tensor:
    """Collapse the axes from ``start_axis`` on into one (``flatten(x, 1)`` keeps the batch axis)."""
    x = lift(x)
    start = int(start_axis) % max(x.ndim, 1)
    return reshape(x, x.shape[:start] + (-1,))

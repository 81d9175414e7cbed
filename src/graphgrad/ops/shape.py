"""Shape ops: reshape, transpose, broadcasting, indexing, joining, splitting, padding.

Their rules move the gradient back through the same re-arrangement (reshape back, inverse
permutation, sum over broadcast axes, scatter-add for indexing, slicing for concatenate/pad).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.ops.core import Op, _constant, fixed, lift
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
    "concatenate",
    "stack",
    "split",
    "pad",
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
    """An index with tensors (and lists of them) replaced by arrays, so NumPy can use it."""
    if isinstance(index, tuple):
        return tuple(_plain_part(i) for i in index)
    return _plain_part(index)


def _plain_part(part: Any) -> Any:
    if isinstance(part, Tensor):
        return part.data
    if isinstance(part, list):
        arr = np.asarray([i.data if isinstance(i, Tensor) else i for i in part])
        return arr.astype(np.intp) if arr.size == 0 else arr  # x[[]]: no positions, as NumPy
    return part


def _writes_once(index: Any) -> bool:
    """True if no element can be selected twice: only basic parts and boolean masks.

    Then the adjoint of indexing is a plain assignment; integer arrays may repeat an index and
    need ``np.add.at`` so that repeated picks accumulate.
    """
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)):
            continue
        if isinstance(p, np.ndarray) and p.dtype == np.bool_:
            continue
        return False
    return True


def _getitem_rule(g: Tensor, out: Tensor, a: Tensor, index: Any) -> Tensor:
    return _index_add(g, a.shape, index)


_getitem = Op("getitem", lambda a, index: a[index], (_getitem_rule,))


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with basic, advanced (int arrays, lists, tensors), boolean or mixed indexing.

    The gradient scatters back with ``np.add.at`` semantics: an element picked twice gets both
    gradients (``Tensor.__getitem__``).
    """
    return _getitem(lift(x), index=plain_index(index))


def _index_add_forward(g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _writes_once(index):
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


def _last_writes(shape: tuple[int, ...], index: Any) -> Tensor | None:
    """For ``x[index] = v`` with x of ``shape``: which slots of ``x[index]`` hold the write that
    stays (NumPy keeps one write per position, the last); None when no position can repeat. Made
    by ops from constants and the index, so a captured step makes it again for each index."""
    if _writes_once(index):
        return None
    slots = np.empty(shape, dtype=bool)[index].shape
    order = fixed(("arange", slots), lambda: np.arange(int(np.prod(slots)), dtype=np.intp).reshape(slots))
    # the same assignment as the forward's: the same write wins
    written = _setitem(_constant(-1, np.dtype(np.intp), shape), order, index=index)
    return getitem(written, index) == order


def _setitem_value_rule(g: Tensor, out: Tensor, a: Tensor, v: Tensor, index: Any) -> Tensor:
    # the gradient of the slots v filled (in the slot shape; the engine sums it back to v's shape),
    # zero for a write that a later write to the same position replaced
    slot = getitem(g, index)
    kept = _last_writes(a.shape, index)
    return slot if kept is None else slot * kept.astype(g.data.dtype)


def _setitem_base_rule(g: Tensor, out: Tensor, a: Tensor, v: Tensor, index: Any) -> Tensor:
    # overwritten entries get no gradient: their old values no longer matter
    dtype = g.data.dtype
    return g * _setitem(_constant(1, dtype, a.shape), _constant(0, dtype), index=index)


_setitem = Op("setitem", _setitem_forward, (_setitem_base_rule, _setitem_value_rule))


def setitem(x: Any, index: Any, value: Any) -> Tensor:
    """A new tensor: ``x`` with ``value`` written at ``index`` (``x`` itself is unchanged).

    The old values get the gradient everywhere except at ``index``; ``value`` gets the gradient of
    the slots it filled. Where an integer index names one position twice, NumPy keeps the last
    write, and only that write's value gets the position's gradient.
    """
    x = lift(x)
    return _setitem(x, lift(value, x), index=plain_index(index))


def setitem_(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``, in place (see ``Tensor.__setitem__``).

    In a recorded graph, ``x`` keeps its identity and becomes the output of a ``setitem`` op whose
    base is a copy of its old values with their history. Ops that read ``x`` before the write saved
    it, so backward through them raises an in-place error; to build new entries from old ones,
    write into a copy: ``y = x * 1.0; y[2] = x[0] * 2`` (or out of place: ``setitem(x, 2, x[0] * 2)``).
    """
    x[index] = value


# ------------------------------------------------------------------ joining and splitting
def _lift_all(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, (Tensor, np.ndarray)):
        raise ShapeError(f"{op}: expects a sequence of tensors, got a single {type(tensors).__name__}")
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ShapeError(f"{op}: needs at least one tensor")
    return ts


def _axis(axis: Any, ndim: int, op: str, shape: tuple[int, ...]) -> int:
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for shape {shape} ({ndim} axes)")
    return axis % ndim


def _concatenate_rule(k: int, g: Tensor, out: Tensor, *inputs: Tensor, axis: int, bounds: tuple[int, ...]) -> Tensor:
    return getitem(g, (slice(None),) * axis + (slice(bounds[k], bounds[k + 1]),))


_concatenate = Op(
    "concatenate",
    lambda *arrays, axis, bounds: np.concatenate(arrays, axis=axis),
    (_concatenate_rule,),
    variadic=True,
)


def concatenate(tensors: Sequence[Any], axis: int | None = 0) -> Tensor:
    """Join tensors along an existing ``axis`` (``None``: flatten them first), as ``numpy.concatenate``."""
    ts = _lift_all(tensors, "concatenate")
    if axis is None:
        ts = [reshape(t, (-1,)) for t in ts]
        axis = 0
    first = ts[0]
    if first.ndim == 0:
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated (use stack)")
    ax = _axis(axis, first.ndim, "concatenate", first.shape)
    for t in ts[1:]:
        if t.ndim != first.ndim or t.shape[:ax] + t.shape[ax + 1 :] != first.shape[:ax] + first.shape[ax + 1 :]:
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ShapeError(
                f"concatenate: shapes {first.shape} and {t.shape} must agree on every axis except "
                f"axis {axis} (all shapes: {shapes})"
            )
    bounds = tuple(int(b) for b in np.cumsum([0] + [t.shape[ax] for t in ts]))
    return _concatenate(*ts, axis=ax, bounds=bounds)


def _stack_rule(k: int, g: Tensor, out: Tensor, *inputs: Tensor, axis: int) -> Tensor:
    return getitem(g, (slice(None),) * axis + (k,))


_stack = Op("stack", lambda *arrays, axis: np.stack(arrays, axis=axis), (_stack_rule,), variadic=True)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new ``axis``, as ``numpy.stack``."""
    ts = _lift_all(tensors, "stack")
    first = ts[0]
    for t in ts[1:]:
        if t.shape != first.shape:
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ShapeError(
                f"stack: all tensors need one shape, got {first.shape} and {t.shape} (all shapes: {shapes})"
            )
    ax = _axis(axis, first.ndim + 1, "stack", first.shape)
    return _stack(*ts, axis=ax)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split into a list of views along ``axis``, as ``numpy.split``.

    An int ``N`` gives N equal parts (an error if the axis does not divide); a sequence of
    indices gives the split points (``[2, 3]`` gives ``x[:2], x[2:3], x[3:]``). Each part is a
    ``getitem`` node, so each part's gradient lands in its own slice.
    """
    x = lift(x)
    if x.ndim == 0:
        raise ShapeError("split: cannot split a zero-dimensional tensor")
    ax = _axis(axis, x.ndim, "split", x.shape)
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or n % sections:
            raise ShapeError(
                f"split: {sections} sections do not divide axis {axis} of length {n} (shape {x.shape}) "
                "into equal parts; give split indices instead"
            )
        points = [i * (n // sections) for i in range(sections + 1)]
    else:
        points = [0, *(int(i) for i in indices_or_sections), n]
    lead = (slice(None),) * ax
    return [getitem(x, lead + (slice(points[i], points[i + 1]),)) for i in range(len(points) - 1)]


# ------------------------------------------------------------------ padding
PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_pairs(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """NumPy's pad_width forms (``n``, ``(n,)``, ``(before, after)``, one pair per axis) as pairs."""
    arr = np.asarray(pad_width)
    if arr.dtype.kind not in "iu":
        raise ShapeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: pad_width {pad_width!r} does not fit a tensor with {ndim} axes; give n, (before, after) "
            "or one (before, after) pair per axis"
        ) from None
    if (pairs < 0).any():
        raise ShapeError(f"pad: pad_width {pad_width!r} has a negative width")
    return tuple((int(b), int(a)) for b, a in pairs)


def _pad_rule(g: Tensor, out: Tensor, a: Tensor, widths: Any, constant_values: Any) -> Tensor:
    return getitem(g, tuple(slice(b, b + n) for (b, _), n in zip(widths, a.shape)))


_pad = Op(
    "pad",
    lambda a, widths, constant_values: np.pad(a, widths, mode="constant", constant_values=constant_values),
    (_pad_rule,),
)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Tensor:
    """Pad with a constant or by copying border values, as ``numpy.pad``.

    ``mode`` is one of ``constant`` (``constant_values`` in NumPy's forms; they get no gradient),
    ``edge``, ``reflect``, ``symmetric`` or ``wrap``. The copying modes are a gather from ``x``:
    each padded entry's gradient flows back to the entry it copies.
    """
    x = lift(x)
    if x.ndim == 0:
        raise ShapeError("pad: cannot pad a zero-dimensional tensor (it has no axes)")
    widths = _pad_pairs(pad_width, x.ndim)
    if mode == "constant":
        return _pad(x, widths=widths, constant_values=constant_values)
    if mode not in PAD_MODES:
        raise ConfigError(f"pad: unknown mode {mode!r}; valid modes: {', '.join(PAD_MODES)}")
    try:
        source = np.pad(np.arange(x.size).reshape(x.shape), widths, mode=mode)  # type: ignore[call-overload]
    except ValueError as exc:
        raise ShapeError(f"pad: mode {mode!r} cannot pad shape {x.shape} by {widths}: {exc}") from None
    return getitem(reshape(x, (-1,)), source)


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

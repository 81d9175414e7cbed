"""Reductions over ``axis=None | int | tuple`` with ``keepdims``.

Every rule first puts the reduced axes back (:func:`expand_reduced`) so the upstream gradient
lines up with the input, then applies the local derivative.

Empty slices follow PyTorch: sum 0, prod 1, mean / var / std NaN, logsumexp -inf, with an empty
gradient; max / min / argmax / argmin of an empty slice are an error (they have no value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, _constant, eye, lift
from graphgrad.ops.elementwise import abs, annihilating_multiply, astype, exp, maximum, where
from graphgrad.tensor import Tensor

__all__ = [
    "sum",
    "mean",
    "prod",
    "max",
    "min",
    "var",
    "std",
    "logsumexp",
    "argmax",
    "argmin",
]
NON_DIFFERENTIABLE = ("argmax", "argmin")

Axis = Any  # None | int | tuple[int, ...]


def normalize_axis(axis: Axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """Axis argument as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % (ndim or 1))
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


BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ROWS_FROM = 4096
"""Arrays of at least this many entries are summed by :func:`sum_array`'s product (below it the
view bookkeeping costs more than NumPy's loop)."""


def as_rows(a: np.ndarray, axis: tuple[int, ...], like: np.ndarray | None = None) -> np.ndarray | None:
    """``a`` as a matrix (kept entries, reduced entries) without a copy, or None: possible when the
    memory holds the entries of each slice over ``axis`` as one contiguous run, the slices in the
    kept axes' order (a batch of images reduced per channel with the channel axis outermost in
    memory, a layer's rows reduced over their features). With ``like``, the reduced entries come
    in the order they have in ``like``'s memory, so that two arrays' rows pair entry by entry."""
    kept = [i for i in range(a.ndim) if i not in axis]
    if not kept or a.size == 0:
        return None
    order = (a if like is None else like).strides
    moved = a.transpose(kept + sorted(axis, key=lambda i: order[i], reverse=True))
    if not moved.flags.c_contiguous:
        return None
    n = math.prod(a.shape[i] for i in axis)  # not 0: a holds entries
    return moved.reshape(a.size // n, n)


def _reduced_shape(shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    return tuple(1 if i in axis else n for i, n in enumerate(shape)) if keepdims else tuple(
        n for i, n in enumerate(shape) if i not in axis)


def sum_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool = False) -> np.ndarray:
    """``np.sum(a, axis, keepdims)``; where :func:`as_rows` sees a float32/float64 array as a matrix,
    one BLAS matrix-vector product with ones instead: NumPy's sum over leading or middle axes
    (per-channel sums of a batch of images laid out channels first: batch norm's, a convolution's
    bias gradient) is 3-4x slower. Rounding differs from NumPy's pairwise sum in the last bits."""
    if axis is not None and a.size >= _ROWS_FROM and a.dtype in BLAS_FLOATS:
        rows = as_rows(a, axis)
        if rows is not None:
            ones = _constant(1, a.dtype, (rows.shape[1],)).data
            return (rows @ ones).reshape(_reduced_shape(a.shape, axis, keepdims))
    return np.sum(a, axis=axis, keepdims=keepdims)  # type: ignore[no-any-return]


def sum_of_products(a: np.ndarray, b: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    """``np.sum(a * b, axis, keepdims=True)`` for arrays of one shape, without the product array
    where both are matrices in :func:`as_rows`'s sense (one dot product per row)."""
    if a.size >= _ROWS_FROM and a.dtype == b.dtype and a.dtype in BLAS_FLOATS:
        rows_a, rows_b = as_rows(a, axis), as_rows(b, axis, like=a)
        if rows_a is not None and rows_b is not None:
            dots = np.matmul(rows_a[:, None, :], rows_b[:, :, None])
            return dots.reshape(_reduced_shape(a.shape, axis, True))  # type: ignore[no-any-return]
    return np.sum(a * b, axis=axis, keepdims=True)  # type: ignore[no-any-return]


_sum = Op(
    "sum",
    sum_array,
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


def _mean_forward(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    if _count(a.shape, axis) == 0:  # the mean of nothing: NaN, as PyTorch (NumPy would also warn)
        return np.full(np.sum(a, axis=axis, keepdims=keepdims).shape, np.nan, dtype=_float(a.dtype))
    return np.mean(a, axis=axis, keepdims=keepdims)


def _float(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _mean_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool) -> Tensor:
    n = _count(a.shape, axis)  # 0 only for an empty input, whose gradient is empty
    return (expand_reduced(g, a.shape, axis, keepdims) * (1.0 / (n or 1))).broadcast_to(a.shape)


_mean = Op("mean", _mean_forward, (_mean_rule,))


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``."""
    x = lift(x)
    return _mean(x, axis=normalize_axis(axis, x.ndim, "mean"), keepdims=keepdims)


# ------------------------------------------------------------------ prod
def _slices_last(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """How to lay the input out as (kept..., n): the axis permutation putting the reduced axes
    last, the kept shape, and n, the number of entries per slice."""
    reduced = tuple(range(len(shape))) if axis is None else axis
    kept_axes = tuple(i for i in range(len(shape)) if i not in reduced)
    n = int(np.prod([shape[i] for i in reduced]))
    return kept_axes + reduced, tuple(shape[i] for i in kept_axes), n


def _others_product_array(a: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """For each entry, the product of the other entries of its slice, without dividing (zeros allowed).

    Exclusive running products from the left and from the right, multiplied: O(n) per slice.
    """
    perm, kept, n = _slices_last(a.shape, axis)
    flat = np.transpose(a, perm).reshape(kept + (n,))
    left = np.ones_like(flat)
    right = np.ones_like(flat)
    if n > 1:
        np.cumprod(flat[..., :-1], axis=-1, out=left[..., 1:])
        np.cumprod(flat[..., :0:-1], axis=-1, out=right[..., -2::-1])
    moved = tuple(a.shape[i] for i in perm)
    return np.transpose((left * right).reshape(moved), np.argsort(perm))


def _others_product_graph(a: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    """The same with graphgrad ops, so that it can be differentiated again.

    For a slice of n entries, an n x n matrix whose row i is the slice with entry i set to 1,
    reduced by prod: O(n^2) per slice (the array fast path below is O(n)).
    """
    perm, kept, n = _slices_last(a.shape, axis)
    flat = a.transpose(perm).reshape(kept + (n,))
    rows = where(eye(n, bool), 1.0, flat.expand_dims(-2))
    moved = tuple(a.shape[i] for i in perm)
    return prod(rows, axis=-1).reshape(moved).transpose(tuple(int(i) for i in np.argsort(perm)))


def _prod_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool) -> Tensor:
    # Not out / x: it fails at zeros, and its second derivative cancels catastrophically
    # (out / x^2 - out / x^2) when an entry is tiny.
    return expand_reduced(g, a.shape, axis, keepdims) * _others_product_graph(a, axis)


def _prod_array_rule(
    g: np.ndarray, out: np.ndarray, a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool
) -> np.ndarray:
    kept = tuple(1 if axis is None or i in axis else n for i, n in enumerate(a.shape))
    ge = g if keepdims else np.reshape(g, kept)
    return annihilating_multiply(ge, _others_product_array(a, axis))


_prod = Op(
    "prod",
    lambda a, axis, keepdims: np.prod(a, axis=axis, keepdims=keepdims),
    (_prod_rule,),
    array_vjps=(_prod_array_rule,),
)


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Product of elements over ``axis``.

    The gradient of each entry is the product of the other entries of its slice, computed
    without division (running products from both ends, O(n) per slice of n), so it is exact
    with one or several zeros. Under ``create_graph`` it is built from graphgrad ops in O(n^2).
    """
    x = lift(x)
    return _prod(x, axis=normalize_axis(axis, x.ndim, "prod"), keepdims=keepdims)


# ------------------------------------------------------------------ max, min
def _extreme_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool) -> Tensor:
    # ties split evenly; by ops (a comparison, a count), so a captured step finds each batch's ties
    hit = astype(a == expand_reduced(out, a.shape, axis, keepdims), g.data.dtype)
    share = hit / maximum(sum(hit, axis=axis, keepdims=True), 1.0)
    return expand_reduced(g, a.shape, axis, keepdims) * share


_max = Op("max", lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims), (_extreme_rule,))
_min = Op("min", lambda a, axis, keepdims: np.min(a, axis=axis, keepdims=keepdims), (_extreme_rule,))


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001 (NumPy's name)
    """Largest element over ``axis``.

    The gradient goes to the entries equal to the maximum; when k entries tie, each gets 1/k of
    it (the sum over the slice stays the upstream gradient, and max(x, x, ...) behaves like x).
    """
    x = lift(x)
    return _max(x, axis=normalize_axis(axis, x.ndim, "max"), keepdims=keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001 (NumPy's name)
    """Smallest element over ``axis``; k tied minima each get 1/k of the gradient (see max)."""
    x = lift(x)
    return _min(x, axis=normalize_axis(axis, x.ndim, "min"), keepdims=keepdims)


# ------------------------------------------------------------------ var, std
def _dof(shape: tuple[int, ...], axis: tuple[int, ...] | None, ddof: int, op: str) -> int:
    n = _count(shape, axis)
    if n == 0:
        return 0  # empty slices: NaN, as PyTorch
    if n - ddof <= 0:
        raise ShapeError(
            f"{op}: ddof={ddof} leaves no degrees of freedom for {n} elements per slice (input shape {shape})"
        )
    return n - ddof


def _centered(a: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    return a - mean(a, axis=axis, keepdims=True)


def _var_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool, ddof: int) -> Tensor:
    scale = 2.0 / ((_count(a.shape, axis) - ddof) or 1)  # the count is 0 only for an empty gradient
    return expand_reduced(g, a.shape, axis, keepdims) * (_centered(a, axis) * scale)


def _std_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool, ddof: int) -> Tensor:
    # std = 0 (also where the squares underflow with the deviations nonzero): the subgradient 0
    # instead of 0 / 0 or x / 0, chosen per entry by an op (a captured step repeats the choice)
    oe = expand_reduced(out, a.shape, axis, keepdims)
    flat = oe == 0
    d = _centered(a, axis) / (where(flat, 1.0, oe) * float((_count(a.shape, axis) - ddof) or 1))
    return expand_reduced(g, a.shape, axis, keepdims) * where(flat, 0.0, d)


def _spread_forward(fn: Any) -> Any:
    def forward(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool, ddof: int) -> np.ndarray:
        if _count(a.shape, axis) == 0:  # NaN for empty slices, without NumPy's warning
            return _mean_forward(a, axis, keepdims)
        return fn(a, axis=axis, keepdims=keepdims, ddof=ddof)

    return forward


_var = Op("var", _spread_forward(np.var), (_var_rule,))
_std = Op("std", _spread_forward(np.std), (_std_rule,))


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis``: mean squared deviation, divided by n - ddof."""
    x = lift(x)
    axes = normalize_axis(axis, x.ndim, "var")
    _dof(x.shape, axes, ddof, "var")
    return _var(x, axis=axes, keepdims=keepdims, ddof=int(ddof))


def std(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation, sqrt(var). Where it is exactly 0 (a constant slice) the gradient is 0."""
    x = lift(x)
    axes = normalize_axis(axis, x.ndim, "std")
    _dof(x.shape, axes, ddof, "std")
    return _std(x, axis=axes, keepdims=keepdims, ddof=int(ddof))


# ------------------------------------------------------------------ logsumexp
def _shift(a: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """The slice maxima (kept dims), 0 for slices whose maximum is not finite (or that are empty)."""
    if a.size == 0:
        return np.zeros(np.sum(a, axis=axis, keepdims=True).shape, dtype=a.dtype)
    m = np.max(a, axis=axis, keepdims=True)
    if not np.all(np.isfinite(m)):
        m = np.where(np.isfinite(m), m, 0.0).astype(m.dtype, copy=False)
    return m


def _shift_tensor(a: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    """:func:`_shift` by ops (a captured step takes each batch's maxima)."""
    if a.size == 0:
        return _constant(0, a.data.dtype, np.sum(a.data, axis=axis, keepdims=True).shape)
    m = max(a, axis=axis, keepdims=True)
    return where(abs(m) < np.inf, m, 0.0)  # false for an infinite or NaN maximum


def _logsumexp_forward(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    # log sum e^x = m + log sum e^(x - m), m the slice max: no term exceeds 1, so no overflow
    m = _shift(a, axis)
    s = np.sum(np.exp(a - m), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):  # an all -inf slice gives log 0 = -inf, which is right
        out = np.log(s)
    out += m
    return out if keepdims else np.squeeze(out, axis=axis)


def _logsumexp_rule(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...] | None, keepdims: bool) -> Tensor:
    # softmax(x) along axis, as e^(x - m) / sum e^(x - m) rather than e^(x - out): out has
    # rounded away the low bits of huge inputs (1e4 + log 2), e^(x - m) is exact to the ulp.
    # m is a constant: softmax does not depend on the shift, so no derivative is lost.
    e = exp(a - _shift_tensor(a, axis).detach())
    return expand_reduced(g, a.shape, axis, keepdims) * (e / sum(e, axis=axis, keepdims=True))


_logsumexp = Op("logsumexp", _logsumexp_forward, (_logsumexp_rule,))


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable for large inputs; gradient softmax(x) along ``axis``."""
    x = lift(x)
    return _logsumexp(x, axis=normalize_axis(axis, x.ndim, "logsumexp"), keepdims=keepdims)


# ------------------------------------------------------------------ argmax, argmin
def _single_axis(axis: Any, ndim: int, op: str) -> int | None:
    axes = normalize_axis(axis, ndim, op)
    if axes is None:
        return None
    if len(axes) != 1:
        raise ShapeError(f"{op}: axis must be an int or None, got {axis}")
    return axes[0]


_argmax = Op("argmax", lambda a, axis, keepdims: np.argmax(a, axis=axis, keepdims=keepdims), None)
_argmin = Op("argmin", lambda a, axis, keepdims: np.argmin(a, axis=axis, keepdims=keepdims), None)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) largest element, over the flattened tensor or along ``axis``; no gradient."""
    x = lift(x)
    return _argmax(x, axis=_single_axis(axis, x.ndim, "argmax"), keepdims=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) smallest element, over the flattened tensor or along ``axis``; no gradient."""
    x = lift(x)
    return _argmin(x, axis=_single_axis(axis, x.ndim, "argmin"), keepdims=keepdims)

"""``norm``: vector p-norms and matrix norms, as ``numpy.linalg.norm``.

Vector norms are one op whose rule depends on ``ord``; the matrix norms are built from it and
from abs, sum, max/min and the singular values (``svd``). Subgradients where the norm has a kink,
chosen as NumPy users expect: at x = 0 every vector norm (and 'fro') has gradient 0; entries
equal to 0 get 0 from the 1-norm; tied largest (smallest) entries share the inf (-inf) norm's
gradient evenly; ord=0 (the count of non-zeros) has gradient 0; the nuclear and spectral norms take
U V^T and u1 v1^T from NumPy's SVD (valid subgradients, also at the zero matrix).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.ops.arrange import moveaxis
from graphgrad.ops.core import Op, lift
from graphgrad.ops.decomp import svd
from graphgrad.ops.elementwise import abs, astype, power, sign, where
from graphgrad.ops.reduce import expand_reduced, max, min, normalize_axis, sum
from graphgrad.ops.shape import reshape
from graphgrad.tensor import Tensor

__all__ = ["norm"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _vector_norm_rule(
    g: Tensor, out: Tensor, a: Tensor, ord: float, axis: tuple[int, ...] | None, keepdims: bool
) -> Tensor:
    ge = expand_reduced(g, a.shape, axis, keepdims)
    if ord == 0:
        return Tensor._wrap(np.zeros(np.broadcast_shapes(ge.shape, a.shape), dtype=g.data.dtype))
    if ord == 1:
        return ge * sign(a)
    n = expand_reduced(out, a.shape, axis, keepdims)
    if math.isinf(ord):
        hit = astype(abs(a) == n, g.data.dtype)  # by ops: a captured step finds each batch's ties
        return ge * (sign(a) * (hit / sum(hit, axis=axis, keepdims=True)))
    safe = where(n == 0, 1.0, n)  # compared by an op, not in Python: a captured step repeats it
    if ord == 2:
        return ge * (a / safe)  # a = 0 wherever the norm is 0: gradient 0 there
    return ge * (sign(a) * power(abs(a), ord - 1.0) / power(safe, ord - 1.0))


def _vector_norm_forward(a: np.ndarray, ord: float, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    several = axis is None or len(axis) > 1  # the 2-norm of all entries / 'fro': NumPy's ord=None
    return np.linalg.norm(a, ord=None if several else ord, axis=axis, keepdims=keepdims)


_vector_norm = Op("norm", _vector_norm_forward, (_vector_norm_rule,))


def _restore_axes(x: Tensor, shape: tuple[int, ...], axes: tuple[int, int]) -> Tensor:
    return reshape(x, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _matrix_norm(x: Tensor, ord: Any, axes: tuple[int, int], keepdims: bool) -> Tensor:
    row, col = axes
    if ord in (None, "fro"):
        return _vector_norm(x, ord=2.0, axis=tuple(sorted(axes)), keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        s = svd(moveaxis(x, axes, (-2, -1)), compute_uv=False)
        out = sum(s, axis=-1) if ord == "nuc" else (max(s, axis=-1) if ord == 2 else min(s, axis=-1))
    elif ord in (1, -1, math.inf, -math.inf):
        if ord in (math.inf, -math.inf):
            row, col = col, row  # inf: the largest row sum; 1: the largest column sum
        sums = sum(abs(x), axis=row)
        out = (max if ord > 0 else min)(sums, axis=col - 1 if col > row else col)
    else:
        raise ConfigError(
            f"norm: invalid norm order {ord!r} for matrices (use None, 'fro', 'nuc', 1, -1, 2, -2, inf, -inf)"
        )
    return _restore_axes(out, x.shape, axes) if keepdims else out


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    ``axis`` None: the 2-norm of all entries when ``ord`` is None, else a vector norm (1-D input)
    or a matrix norm (2-D input). An int axis gives vector norms (``ord`` any number, inf, -inf, 0);
    two axes give matrix norms (``ord`` None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf). Subgradients
    at kinks are documented in the module (0 at x = 0).
    """
    x = lift(x)
    if x.data.dtype.kind not in "fc":
        x = astype(x, np.float64)
    if axis is None:
        if ord is None:
            return _vector_norm(x, ord=2.0, axis=None, keepdims=keepdims)
        if x.ndim not in (1, 2):
            raise ShapeError(f"norm: ord={ord!r} without axis needs a 1-D or 2-D tensor, got shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = normalize_axis(axis, x.ndim, "norm")
    assert axes is not None
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        axes = tuple(int(a) % x.ndim for a in axis)  # the order matters for matrix norms
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ConfigError(f"norm: invalid norm order {ord!r} for vectors (use a number, inf or -inf)")
        p = 2.0 if ord is None else float(ord)
        return _vector_norm(x, ord=p, axis=axes, keepdims=keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ShapeError(f"norm: axis must name 1 or 2 axes, got {axis!r}")

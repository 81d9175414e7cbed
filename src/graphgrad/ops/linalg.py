"""Linear algebra: matmul (1-D, 2-D and batched, as ``numpy.matmul``), outer and dot.

Also the rule mode's contraction, :func:`annihilating_contraction`: matmul's (and einsum's) forward
while the engine applies rules, where every product term with a zero factor is 0 (``0 * inf = 0``),
as for elementwise multiply. So every rule written with ``@`` (inv, solve, cholesky, qr, powers of
a matrix...) gives a zero gradient exactly zero, whatever infinities the saved values hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, lift_pair
from graphgrad.ops.elementwise import _clean
from graphgrad.tensor import Tensor

__all__ = [
    "matmul",
    "outer",
    "dot",
]


# ------------------------------------------------------------------ the rule-mode contraction
def annihilating_contraction(contract: Callable[..., Any], *arrays: np.ndarray) -> Any:
    """``contract(*arrays)`` (a sum of products, multilinear in the arrays: matmul, einsum) where a
    product term with a zero factor is 0 whatever the other factors (inf and NaN included).

    Fast path: the plain contraction, kept when it holds no NaN or its operands no inf or NaN
    (either way no ``0 * inf`` occurred; one sum of the smaller side, result or operands, proves it).
    Otherwise only its NaN entries are recomputed, exactly and at BLAS speed: such an entry is the
    contraction of the arrays with their non-finite entries zeroed, plus the surviving terms (no
    zero factor) that hold an inf or a NaN; those are counted by the same contraction of indicator
    arrays (nonzero, NaN-free, sign, finite): NaN if one is NaN or both infinities occur, else the
    infinity of their sign. Exact for two operands (matmul, two-operand einsums); with three or
    more, finite factors whose product overflows before it meets a zero factor still give NaN.
    """
    result = contract(*arrays)
    if len(arrays) < 2:
        return result
    operands = 0
    for x in arrays:
        operands += x.size
    if (operands < result.size and _all_finite(arrays)) or _clean(result):
        return result
    finite = [np.isfinite(x) for x in arrays]
    if all(f.all() for f in finite):
        return result  # an overflow of finite products (inf - inf): no zero factor to honour
    result = np.array(result)  # writable, also for a 0-d result
    bad = np.isnan(result)
    with np.errstate(invalid="ignore", over="ignore"):
        nonzero = [x != 0 for x in arrays]
        plain = [x == x for x in arrays]  # not NaN
        alive = [(nz & p).astype(np.float64) for nz, p in zip(nonzero, plain)]  # can survive, not NaN
        sign = [np.sign(np.where(p, x, 0)).astype(np.float64) for x, p in zip(arrays, plain)]
        alive_terms = contract(*alive)
        nan_terms = contract(*[nz.astype(np.float64) for nz in nonzero]) - alive_terms
        inf_terms = alive_terms - contract(*[a * f for a, f in zip(alive, finite)])
        inf_sign = contract(*sign) - contract(*[s * f for s, f in zip(sign, finite)])  # (+inf) - (-inf) terms
        positive, negative = (inf_terms + inf_sign) > 0, (inf_terms - inf_sign) > 0
        zeroed = contract(*[np.where(f, x, np.zeros((), x.dtype)) for x, f in zip(arrays, finite)])
        infinite = np.where(positive, np.inf, np.where(negative, -np.inf, 0.0))
        fixed = np.where((nan_terms > 0) | (positive & negative), np.nan, zeroed + infinite)
    result[bad] = np.broadcast_to(fixed, result.shape)[bad]
    return result


def _all_finite(arrays: tuple[np.ndarray, ...]) -> bool:
    """Whether no array holds an inf or NaN, from one sum each (``s - s`` is NaN for an inf or NaN
    sum; a sum that overflows only costs the exact check that follows)."""
    total = 0
    for x in arrays:
        total += np.add.reduce(x, axis=None)
    return bool(total - total == 0)


def _annihilating_matmul(a: np.ndarray, b: np.ndarray) -> Any:
    return annihilating_contraction(np.matmul, a, b)


# ------------------------------------------------------------------ matmul
def _matmul_grad_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:  # (..., n) @ (n,) -> (...): outer product with b
        return g.expand_dims(-1) * b
    if a.ndim == 1:  # (n,) @ (..., n, m) -> (..., m): sum over batches handled by unbroadcast
        return matmul(b, g.expand_dims(-1)).squeeze(-1)
    return matmul(g, b.swapaxes(-1, -2))


def _matmul_grad_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:
        if a.ndim == 1:  # (n,) @ (n,) -> (): a scalar times a
            return g * a
        return matmul(g.expand_dims(-2), a).squeeze(-2)  # (..., k, n) @ (n,) -> (..., k)
    if a.ndim == 1:  # (n,) @ (..., n, m): outer product of a with g
        return a.expand_dims(-1) * g.expand_dims(-2)
    return matmul(a.swapaxes(-1, -2), g)


_matmul = Op("matmul", np.matmul, (_matmul_grad_a, _matmul_grad_b), zero_safe_forward=_annihilating_matmul)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's rules.

    2-D @ 2-D is the matrix product; a 1-D operand is a vector (a row on the left, a column on
    the right, its axis dropped from the result); more axes are stacks of matrices whose batch
    axes broadcast. Scalars are refused (use ``*``).
    """
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    rows = b.shape[-2 if b.ndim > 1 else 0]
    if a.shape[-1] != rows:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not fit: {a.shape[-1]} columns against {rows} rows"
        )
    try:
        return _matmul(a, b)
    except ShapeError:
        raise ShapeError(
            f"matmul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast "
            f"({a.shape[:-2]} against {b.shape[:-2]})"
        ) from None


_outer = Op(
    "outer",
    np.outer,
    (
        lambda g, out, a, b: matmul(g, b.reshape(-1)).reshape(a.shape),
        lambda g, out, a, b: matmul(a.reshape(-1), g).reshape(b.shape),
    ),
)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product ``out[i, j] = a[i] * b[j]`` of the flattened operands, as ``numpy.outer``."""
    return _outer(*lift_pair(a, b))


def dot(a: Any, b: Any) -> Tensor:
    """``numpy.dot``: inner product of 1-D vectors, matrix product of 2-D matrices.

    Also as NumPy for the other cases: a 0-D operand multiplies elementwise; N-D with 1-D sums
    over the last axis of ``a``; N-D with M-D (M >= 2) sums the last axis of ``a`` against the
    second-to-last of ``b`` (``out[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])``, no batch
    broadcasting, unlike ``matmul``). Built from matmul, reshape and transpose, so its gradient
    is theirs.
    """
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return matmul(a, b)  # same as numpy.dot here: b has no batch axes to broadcast
    k = b.shape[-2]
    if a.shape[-1] != k:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} do not fit: {a.shape[-1]} against {k} (axis -2 of b)")
    rest = b.shape[:-2] + b.shape[-1:]
    axes = (b.ndim - 2, *range(b.ndim - 2), b.ndim - 1)  # the summed axis first, the rest in order
    b2 = b.transpose(axes).reshape(k, -1)
    return matmul(a, b2).reshape(a.shape[:-1] + rest)

"""Matrix functions: inv, solve, det, slogdet, pinv, matrix_power (stacks of matrices in the last two axes).

Gradients from the standard matrix-calculus identities (with ``X^-T`` the inverse transpose):
d inv(A) -> ``-inv^T g inv^T``; solve(A, B) -> ``gB = solve(A^T, g)``, ``gA = -gB X^T``;
det -> ``g det A^-T`` (the cofactor matrix); log|det| -> ``g A^-T``; pinv -> the Golub-Pereyra
formula, valid where the rank does not change. Rules use inv/solve/matmul, so they differentiate
again.

Conventions: at a singular matrix det's gradient is still the cofactor matrix, computed from an
SVD as ``det(U) det(V^T) U diag(prod_{j != i} s_j) V^T`` (exact, no division; its second
derivative there is not supported); slogdet's gradient there is infinite (log|det| = -inf).
In rule mode (solve inside another op's gradient, qr's) a zero right-hand column gives a zero
column whatever the matrix, and a singular matrix NaN for its other columns, not an error.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, _constant, any_entry, eye, lift, lift_pair
from graphgrad.ops.elementwise import _clean, where
from graphgrad.ops.linalg import matmul
from graphgrad.ops.reduce import prod
from graphgrad.ops.shape import expand_dims, swapaxes
from graphgrad.tensor import Tensor

__all__ = ["inv", "solve", "det", "slogdet", "pinv", "matrix_power"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def mT(x: Tensor) -> Tensor:  # noqa: N802 (the array-API name)
    """The transpose of each matrix in a stack (the last two axes swapped)."""
    return swapaxes(x, -1, -2)


def square_stack(x: Any, op: str) -> Tensor:
    """``x`` as a tensor, checked to be a stack of square matrices (..., n, n)."""
    x = lift(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{op}: needs square matrices in the last two axes, got shape {x.shape}")
    if x.data.dtype.kind not in "fc":
        x = Tensor._wrap(x.data.astype(np.float64))  # NumPy computes integer matrices in float64
    return x


# ------------------------------------------------------------------ inv, solve
_inv: Op = Op("inv", np.linalg.inv, (lambda g, out, a: -matmul(matmul(mT(out), g), mT(out)),))


def inv(a: Any) -> Tensor:
    """The inverse of each square matrix; a singular one is an error. Gradient ``-A^-T g A^-T``."""
    return _inv(square_stack(a, "inv"))


def _solve_forward(a: np.ndarray, b: np.ndarray, vector: bool) -> np.ndarray:
    if vector:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def _annihilating_solve(a: np.ndarray, b: np.ndarray, vector: bool) -> np.ndarray:
    """solve's forward while the engine applies rules: ``inv(A) @ B`` with products that annihilate,
    so a zero column of B gives a zero column whatever A holds (singular, inf, NaN, or so small that
    LAPACK's reciprocal pivots overflow): qr's gradient at a rank-deficient matrix, ``where``'s
    untaken branch. A singular matrix gives NaN for its other columns, where a plain solve raises."""
    try:
        out = _solve_forward(a, b, vector)
    except np.linalg.LinAlgError:
        out = _solve_each(a, b[..., None] if vector else b)
        out = out[..., 0] if vector else out
    if _clean(out):
        return out
    columns = b[..., None] if vector else b
    zero = np.all(columns == 0, axis=-2, keepdims=True)  # (..., 1, k): the columns that are all zero
    fixed = np.where(zero, np.zeros((), out.dtype), out[..., None] if vector else out)
    return fixed[..., 0] if vector else fixed


def _solve_each(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``solve(a, b)`` matrix by matrix (b a stack of (n, k) matrices), NaN for the singular ones."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    stack_a = np.broadcast_to(a, batch + a.shape[-2:]).reshape(-1, *a.shape[-2:])
    stack_b = np.broadcast_to(b, batch + b.shape[-2:]).reshape(-1, *b.shape[-2:])
    out = np.empty(stack_b.shape, dtype=np.result_type(a, b))
    for i, (ai, bi) in enumerate(zip(stack_a, stack_b)):
        try:
            out[i] = np.linalg.solve(ai, bi)
        except np.linalg.LinAlgError:
            out[i] = np.nan
    return out.reshape(batch + b.shape[-2:])


def _solve_grad_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor, vector: bool) -> Tensor:
    return _solve(mT(a), g, vector=vector)


def _solve_grad_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor, vector: bool) -> Tensor:
    gb = _solve(mT(a), g, vector=vector)
    if vector:
        return -(expand_dims(gb, -1) * expand_dims(out, -2))
    return -matmul(gb, mT(out))


_solve: Op = Op("solve", _solve_forward, (_solve_grad_a, _solve_grad_b), zero_safe_forward=_annihilating_solve)


def solve(a: Any, b: Any) -> Tensor:
    """``x`` with ``a @ x = b``, as ``numpy.linalg.solve``: a 1-D ``b`` is one vector, otherwise
    ``b`` is a stack of (n, k) matrices; batch axes broadcast."""
    a = square_stack(a, "solve")
    a, b = lift_pair(a, b)
    n = a.shape[-1]
    vector = b.ndim == 1
    if b.ndim == 0 or b.shape[0 if vector else -2] != n:
        raise ShapeError(f"solve: b of shape {b.shape} does not fit matrices of shape {a.shape[-2:]}")
    return _solve(a, b, vector=vector)


# ------------------------------------------------------------------ det, slogdet
def cofactor(a: Tensor) -> Tensor:
    """The cofactor matrix ``det(A) A^-T`` of each matrix, exact for singular ones too (no division).

    From the SVD A = U diag(s) V^T: ``det(U) det(V^T) U diag(prod_{j != i} s_j) V^T``.
    """
    from graphgrad.ops.decomp import svd  # decomp uses this module's solve and inv

    u, s, vh = svd(a, full_matrices=False)
    n = s.shape[-1]
    others = prod(where(eye(n, bool), 1.0, expand_dims(s, -2)), axis=-1)  # row i: prod_{j != i} s_j
    signs = np.linalg.det(u.data) * np.linalg.det(vh.data)
    return matmul(u * expand_dims(others * Tensor._wrap(np.asarray(signs)[..., None]), -2), vh)


def _det_rule(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    ge = expand_dims(expand_dims(g, -1), -1)
    if any_entry(out == 0, "det's gradient (the cofactor matrix where a determinant is 0)"):
        return ge * cofactor(a)
    return ge * (expand_dims(expand_dims(out, -1), -1) * mT(inv(a)))


_det = Op("det", np.linalg.det, (_det_rule,))


def det(a: Any) -> Tensor:
    """The determinant of each square matrix. Gradient: the cofactor matrix (also where det = 0)."""
    return _det(square_stack(a, "det"))


class SlogdetResult(NamedTuple):
    """NumPy's result: the sign (no gradient) and log|det| of each matrix."""

    sign: Tensor
    logabsdet: Tensor


def _logabsdet_rule(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    ge = expand_dims(expand_dims(g, -1), -1)
    if any_entry(out == -np.inf, "slogdet's gradient (cofactor / det where a matrix is singular)"):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.linalg.det(a.data)[..., None, None]
            return ge * (cofactor(a) / Tensor._wrap(d))
    return ge * mT(inv(a))


_logabsdet = Op("slogdet", lambda a: np.linalg.slogdet(a)[1], (_logabsdet_rule,))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, logabsdet)`` of each matrix without overflow; log|det|'s gradient is ``A^-T``."""
    a = square_stack(a, "slogdet")
    return SlogdetResult(Tensor._wrap(np.linalg.slogdet(a.data)[0]), _logabsdet(a))


# ------------------------------------------------------------------ pinv
def _pinv_forward(a: np.ndarray, options: tuple[tuple[str, Any], ...]) -> np.ndarray:
    return np.linalg.pinv(a, **dict(options))


def _pinv_rule(g: Tensor, out: Tensor, a: Tensor, options: Any) -> Tensor:
    p, pt, gt = out, mT(out), mT(g)
    m, n = a.shape[-2], a.shape[-1]
    left = eye(m, a.data.dtype) - matmul(a, p)  # I - A A+ (m x m)
    right = eye(n, a.data.dtype) - matmul(p, a)  # I - A+ A (n x n)
    # g enters each product first, so a zero upstream gradient stays exactly 0 even where A+ A+^T overflows
    return (
        -matmul(matmul(pt, g), pt) + matmul(matmul(matmul(left, gt), p), pt) + matmul(pt, matmul(p, matmul(gt, right)))
    )


_pinv = Op("pinv", _pinv_forward, (_pinv_rule,))


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse of each matrix (singular values below the cutoff count as 0).

    Its gradient assumes the rank is constant near ``a`` (true unless a singular value is at the cutoff).
    """
    a = lift(a)
    if a.ndim < 2:
        raise ShapeError(f"pinv: needs matrices in the last two axes, got shape {a.shape}")
    options: dict[str, Any] = {"hermitian": bool(hermitian)}
    if rcond is not None:
        options["rcond"] = rcond
    if rtol is not None:
        options["rtol"] = rtol
    return _pinv(a, options=tuple(sorted(options.items())))


# ------------------------------------------------------------------ matrix_power
def matrix_power(a: Any, n: int) -> Tensor:
    """``a`` multiplied by itself ``n`` times (``n < 0``: powers of the inverse; ``n = 0``: identity).

    The same products in the same order as ``numpy.linalg.matrix_power`` (binary powering).
    """
    a = square_stack(a, "matrix_power")
    if not isinstance(n, (int, np.integer)):
        raise ShapeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    n = int(n)
    if n == 0:  # the identity, as a node whose gradient to a is 0
        return where(_constant(True, np.dtype(bool), a.shape), eye(a.shape[-1], a.data.dtype), a)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a
    if n == 2:
        return matmul(a, a)
    if n == 3:
        return matmul(matmul(a, a), a)
    z: Tensor | None = None
    result: Tensor | None = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    assert result is not None
    return result

"""Matrix decompositions: cholesky, qr, svd, eigh (stacks of matrices in the last two axes).

An op with several outputs (Q and R, U S Vh, eigenvalues and vectors) packs them into one array,
flattened along the last axis; the user receives slices of it, so the rule gets every part's
upstream gradient at once (0 for a part that was not used). Rules follow the standard identities
(Murray 2016 for cholesky; the QR rule ``[gQ + Q copyltu(M)] R^-T`` with ``M = R gR^T - gQ^T Q``;
Townsend 2016 for svd; ``V (diag(gw) + F o skew(V^T gV)) V^T`` for eigh) with graphgrad ops.

Conventions:
- cholesky and eigh read one triangle of a symmetric input; their gradient is symmetric, as for
  a function of a symmetric matrix (PyTorch's convention).
- svd and eigh need distinct singular values / eigenvalues for the gradient through the vectors.
  Where two are equal, the term that would divide by their difference is taken as 0. Gradients of
  functions of the values alone (S, eigenvalues, norms) are then exact; through the vectors there
  is no derivative to give (PyTorch returns inf/NaN), and the result is this convention's
  finite value. A zero singular value of a non-square matrix likewise drops the term dividing by it.
- qr is differentiable where the first min(m, n) columns are independent (R's diagonal nonzero)
  and no Householder pivot is 0: NumPy (LAPACK) sets the signs of R's diagonal from the pivots,
  so Q and R jump where a pivot changes sign (e.g. at a column that starts with 0). Where R is
  singular (rank-deficient columns) the gradient is NaN, not an error (PyTorch gives inf/NaN),
  and exactly 0 for a zero upstream gradient (``where``'s untaken branch, another matrix of the
  batch): the rule's solve with R annihilates zeros in rule mode, as matmul does.
- svd with ``full_matrices=True`` on a non-square matrix and qr with ``mode='complete'`` on a tall
  one return extra columns that are not unique: their gradient must be 0 (unused), else backward
  raises.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from graphgrad.errors import BackwardError, ConfigError, ShapeError
from graphgrad.ops.core import Op, _constant, eye, host, lift, tri
from graphgrad.ops.elementwise import where
from graphgrad.ops.linalg import matmul
from graphgrad.ops.matrix import inv, mT, solve, square_stack
from graphgrad.ops.shape import concatenate, expand_dims, getitem, reshape
from graphgrad.tensor import Tensor

__all__ = ["cholesky", "qr", "svd", "eigh"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


# ------------------------------------------------------------------ several outputs in one array
def _pack(*arrays: np.ndarray) -> np.ndarray:
    """The outputs flattened after the batch axes (those of the first, a matrix) and joined."""
    batch = arrays[0].shape[:-2]
    return np.concatenate([a.reshape(batch + (int(np.prod(a.shape[len(batch) :])),)) for a in arrays], axis=-1)


def _unpack(t: Tensor, shapes: list[tuple[int, ...]]) -> list[Tensor]:
    """The parts of a packed tensor, each in its own shape (after the batch axes)."""
    batch = t.shape[:-1]
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(reshape(getitem(t, (Ellipsis, slice(start, start + size))), batch + shape))
        start += size
    return parts


def _diag_matrix(v: Tensor) -> Tensor:
    """diag(v) for each vector of a stack, exactly (no multiplication by the identity)."""
    n = v.shape[-1]
    return where(eye(n, bool), expand_dims(v, -2), 0.0)


def _inverse_gaps(values: Tensor, squared: bool) -> Tensor:
    """F[i, j] = 1 / (v_j - v_i) (of squares when ``squared``), 0 on the diagonal and at ties."""
    v = values * values if squared else values
    gaps = expand_dims(v, -2) - expand_dims(v, -1)
    n = values.shape[-1]
    usable = where(eye(n, bool), False, gaps != 0)  # by ops: a captured step finds each batch's ties
    return where(usable, 1.0 / where(usable, gaps, 1.0), 0.0)


def _no_gradient_on_extra(g: Tensor, index: Any, what: str) -> None:
    host(_check_no_gradient, getitem(g, index), what)  # at every call of a captured step too


def _check_no_gradient(extra: np.ndarray, what: str) -> None:
    if np.any(extra != 0):
        raise BackwardError(
            f"{what}: a gradient reached the extra, non-unique columns of a complete decomposition; "
            "use the reduced form (full_matrices=False / mode='reduced')"
        )


# ------------------------------------------------------------------ cholesky
def _cholesky_rule(g: Tensor, out: Tensor, a: Tensor, upper: bool) -> Tensor:
    low, gl = (mT(out), mT(g)) if upper else (out, g)
    n = a.shape[-1]
    halve = where(eye(n, bool), 0.5, _constant(1.0, g.data.dtype, (n, n)))
    phi = where(tri(n, n), matmul(mT(low), gl) * halve, 0.0)
    li = inv(low)
    ga = matmul(matmul(mT(li), phi), li)
    return (ga + mT(ga)) * 0.5


_cholesky = Op("cholesky", lambda a, upper: np.linalg.cholesky(a, upper=upper), (_cholesky_rule,))


def cholesky(a: Any, *, upper: bool = False) -> Tensor:
    """L with ``L L^T = a`` (lower triangular; ``upper=True``: ``U = L^T``) for symmetric positive
    definite matrices; the gradient is symmetric (see the module)."""
    return _cholesky(square_stack(a, "cholesky"), upper=bool(upper))


# ------------------------------------------------------------------ qr
class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


def _qr_parts(a: np.ndarray, complete: bool) -> list[tuple[int, ...]]:
    m, n = a.shape[-2:]
    k = m if complete else min(m, n)
    return [(m, k), (k, n)]


def _qr_forward(a: np.ndarray, complete: bool) -> np.ndarray:
    q, r = np.linalg.qr(a, mode="complete" if complete else "reduced")
    return _pack(q, r)


def _qr_square_grad(q: Tensor, r: Tensor, gq: Tensor, gr: Tensor) -> Tensor:
    """For A = QR with R square: ``[gQ + Q copyltu(M)] R^-T``, ``M = R gR^T - gQ^T Q``."""
    m_ = matmul(r, mT(gr)) - matmul(mT(gq), q)
    n = r.shape[-1]
    lower, strict = tri(n, n), tri(n, n, -1)
    copied = where(lower, m_, 0.0) + mT(where(strict, m_, 0.0))
    b = gq + matmul(q, copied)
    return mT(solve(r, mT(b)))  # b R^-T


def _qr_rule(g: Tensor, out: Tensor, a: Tensor, complete: bool) -> Tensor:
    m, n = a.shape[-2:]
    k = min(m, n)
    q, r = _unpack(out, _qr_parts(a.data, complete))
    gq, gr = _unpack(g, _qr_parts(a.data, complete))
    if complete and m > n:
        _no_gradient_on_extra(gq, (Ellipsis, slice(n, None)), "qr")
        q, gq = getitem(q, (Ellipsis, slice(0, n))), getitem(gq, (Ellipsis, slice(0, n)))
        r, gr = getitem(r, (Ellipsis, slice(0, n), slice(None))), getitem(gr, (Ellipsis, slice(0, n), slice(None)))
    if m >= n:
        return _qr_square_grad(q, r, gq, gr)
    # wide: A = [X | Y] with X = Q R1 and R2 = Q^T Y
    r1 = getitem(r, (Ellipsis, slice(0, k)))
    gr1, gr2 = getitem(gr, (Ellipsis, slice(0, k))), getitem(gr, (Ellipsis, slice(k, None)))
    y = getitem(a, (Ellipsis, slice(k, None)))
    gx = _qr_square_grad(q, r1, gq + matmul(y, mT(gr2)), gr1)
    return concatenate([gx, matmul(q, gr2)], axis=-1)


_qr = Op("qr", _qr_forward, (_qr_rule,))


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR decomposition of each matrix, as ``numpy.linalg.qr``: ``(Q, R)`` for ``mode='reduced'``
    (Q m x k, R k x n, k = min(m, n)) or ``'complete'`` (Q m x m), or R alone for ``mode='r'``."""
    a = lift(a)
    if a.ndim < 2:
        raise ShapeError(f"qr: needs matrices in the last two axes, got shape {a.shape}")
    if mode not in ("reduced", "complete", "r"):
        raise ConfigError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if a.data.dtype.kind not in "fc":
        a = Tensor._wrap(a.data.astype(np.float64))
    complete = mode == "complete"
    q, r = _unpack(_qr(a, complete=complete), _qr_parts(a.data, complete))
    return r if mode == "r" else QRResult(q, r)


# ------------------------------------------------------------------ svd
class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def _svd_parts(a: np.ndarray, full: bool) -> list[tuple[int, ...]]:
    m, n = a.shape[-2:]
    k = min(m, n)
    return [(m, m if full else k), (k,), (n if full else k, n)]


def _svd_forward(a: np.ndarray, full: bool, hermitian: bool) -> np.ndarray:
    u, s, vh = np.linalg.svd(a, full_matrices=full, hermitian=hermitian)
    return _pack(u, s, vh)


def _svd_rule(g: Tensor, out: Tensor, a: Tensor, full: bool, hermitian: bool) -> Tensor:
    m, n = a.shape[-2:]
    k = min(m, n)
    u, s, vh = _unpack(out, _svd_parts(a.data, full))
    gu, gs, gvh = _unpack(g, _svd_parts(a.data, full))
    if full and m != n:
        if m > k:
            _no_gradient_on_extra(gu, (Ellipsis, slice(k, None)), "svd")
            u, gu = getitem(u, (Ellipsis, slice(0, k))), getitem(gu, (Ellipsis, slice(0, k)))
        else:
            _no_gradient_on_extra(gvh, (Ellipsis, slice(k, None), slice(None)), "svd")
            vh = getitem(vh, (Ellipsis, slice(0, k), slice(None)))
            gvh = getitem(gvh, (Ellipsis, slice(0, k), slice(None)))
    f = _inverse_gaps(s, squared=True)
    utgu = matmul(mT(u), gu)
    vtgv = matmul(vh, mT(gvh))
    j = f * (utgu - mT(utgu))
    kk = f * (vtgv - mT(vtgv))
    core = j * expand_dims(s, -2) + expand_dims(s, -1) * kk + _diag_matrix(gs)
    ga = matmul(matmul(u, core), vh)
    if m > k or n > k:
        nonzero = s != 0
        s_inv = where(nonzero, 1.0 / where(nonzero, s, 1.0), 0.0)
        if m > k:  # (I - U U^T) gU S^-1 V^T
            ga = ga + matmul((gu - matmul(u, utgu)) * expand_dims(s_inv, -2), vh)
        if n > k:  # U S^-1 gV^T (I - V V^T)
            ga = ga + matmul(u, expand_dims(s_inv, -1) * (gvh - matmul(matmul(gvh, mT(vh)), vh)))
    return ga


_svd = Op("svd", _svd_forward, (_svd_rule,))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """The singular value decomposition ``a = U diag(S) Vh`` of each matrix, as ``numpy.linalg.svd``:
    ``(U, S, Vh)``, singular values descending; ``compute_uv=False`` returns S alone."""
    a = lift(a)
    if a.ndim < 2:
        raise ShapeError(f"svd: needs matrices in the last two axes, got shape {a.shape}")
    if a.data.dtype.kind not in "fc":
        a = Tensor._wrap(a.data.astype(np.float64))
    full = bool(full_matrices) and compute_uv
    u, s, vh = _unpack(_svd(a, full=full, hermitian=bool(hermitian)), _svd_parts(a.data, full))
    return SVDResult(u, s, vh) if compute_uv else s


# ------------------------------------------------------------------ eigh
class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


def _eigh_forward(a: np.ndarray, uplo: Any) -> np.ndarray:
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return _pack(w[..., None], v)


def _eigh_rule(g: Tensor, out: Tensor, a: Tensor, uplo: str) -> Tensor:
    n = a.shape[-1]
    w, v = _unpack(out, [(n,), (n, n)])
    gw, gv = _unpack(g, [(n,), (n, n)])
    vtgv = matmul(mT(v), gv)
    core = _inverse_gaps(w, squared=False) * ((vtgv - mT(vtgv)) * 0.5) + _diag_matrix(gw)
    return matmul(matmul(v, core), mT(v))


_eigh = Op("eigh", _eigh_forward, (_eigh_rule,))


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803 (NumPy's name)
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of each symmetric matrix,
    reading its lower (``UPLO='L'``) or upper triangle; the gradient is symmetric (see the module)."""
    a = square_stack(a, "eigh")
    if UPLO not in ("L", "U"):
        raise ConfigError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    n = a.shape[-1]
    w, v = _unpack(_eigh(a, uplo=UPLO), [(n,), (n, n)])
    return EighResult(w, v)

"""OpInfo entries of the decomposition family (decomp.py, public as graphgrad.linalg), against NumPy.

Functions of the outputs are chosen to be unique where the decomposition is not: squared
entries of singular vectors and eigenvectors (their signs are arbitrary), and symmetric inputs
for eigh and cholesky (which read one triangle). Inputs near repeated singular values or
eigenvalues, or near rank loss, are avoided (the conventions there are tested by hand).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from graphgrad import linalg as la
from tests.ops.opinfo import OpInfo, fixed, operand

SIDE = st.integers(1, 3)
BATCH = st.sampled_from([(), (2,)])
SQUARE = st.tuples(BATCH, SIDE).map(lambda t: [t[0] + (t[1], t[1])])
MATRIX = st.tuples(BATCH, SIDE, SIDE).map(lambda t: [t[0] + (t[1], t[2])])


def _mt(x: Any) -> Any:
    return x.swapaxes(-1, -2)


def sym(x: Any) -> Any:
    return (x + _mt(x)) * 0.5


@fixed
def _n_eye(n: int, dtype: Any) -> np.ndarray:
    return np.eye(n, dtype=dtype) * n


def spd(x: Any) -> Any:
    """x x^T + n I: symmetric positive definite."""
    return x @ _mt(x) + operand(_n_eye(x.shape[-1], x.dtype), x)


def _gap(values: np.ndarray) -> float:
    v = np.sort(values, axis=-1)
    return float(np.min(np.diff(v, axis=-1))) if v.shape[-1] > 1 else np.inf


def _close_singular_values(xs: list[np.ndarray]) -> bool:
    s = np.linalg.svd(xs[0], compute_uv=False)
    return bool(_gap(s) < 0.1 or np.min(s) < 0.1)


def _close_eigenvalues(xs: list[np.ndarray]) -> bool:
    return _gap(np.linalg.eigvalsh(sym(xs[0]))) < 0.1


def _qr_jumps(xs: list[np.ndarray]) -> bool:
    """QR (without pivoting) is smooth where the leading min(m, n) columns are independent and no
    Householder pivot is near 0 (LAPACK picks R's diagonal signs by the pivot's sign: they jump
    there). Detected as a sign change of diag(R) under small perturbations."""
    x = xs[0]
    k = min(x.shape[-2:])
    if np.min(np.linalg.svd(x[..., :k], compute_uv=False)) < 0.1:
        return True
    if np.any(np.abs(np.tril(x[..., :k], -1)) < 1e-3) and np.any(np.tril(x[..., :k], -1) != 0):
        return True  # a column's part below the pivot crossing 0 flips R's sign (LAPACK skips the reflection)
    signs = np.sign(np.diagonal(np.linalg.qr(x)[1], axis1=-2, axis2=-1))
    rng = np.random.default_rng(0)
    for _ in range(6):
        moved = x + rng.uniform(-1e-3, 1e-3, x.shape)
        if np.any(np.sign(np.diagonal(np.linalg.qr(moved)[1], axis1=-2, axis2=-1)) != signs):
            return True
    return False


def _u2(a: Any) -> Any:
    return (
        la.svd(a, full_matrices=False).U ** 2
        if not isinstance(a, np.ndarray)
        else np.linalg.svd(a, full_matrices=False)[0] ** 2
    )


OPINFOS = [
    OpInfo(
        "cholesky",
        lambda x: la.cholesky(spd(x)),
        shapes=SQUARE,
        ref=lambda a: np.linalg.cholesky(spd(a)),
        sample=[(3, 3)],
    ),
    OpInfo(
        "cholesky[upper]",
        lambda x: la.cholesky(spd(x), upper=True),
        shapes=SQUARE,
        ref=lambda a: np.linalg.cholesky(spd(a), upper=True),
        sample=[(3, 3)],
    ),
    OpInfo(
        "qr",
        lambda x: la.qr(x).Q * 2.0 + la.qr(x).R.sum(),
        shapes=MATRIX,
        avoid=_qr_jumps,
        ref=lambda a: np.linalg.qr(a)[0] * 2.0 + np.linalg.qr(a)[1].sum(),
        sample=[(3, 2)],
    ),
    OpInfo(
        "qr[r]",
        lambda x: la.qr(x, mode="r"),
        shapes=MATRIX,
        avoid=_qr_jumps,
        ref=lambda a: np.linalg.qr(a, mode="r"),
        sample=[(2, 3)],
    ),
    OpInfo(
        "svd",
        lambda x: la.svd(x, compute_uv=False),
        shapes=MATRIX,
        avoid=_close_singular_values,
        ref=lambda a: np.linalg.svd(a, compute_uv=False),
        sample=[(3, 2)],
    ),
    OpInfo("svd[U]", _u2, shapes=MATRIX, avoid=_close_singular_values, ref=_u2, sample=[(3, 2)]),
    OpInfo(
        "svd[Vh]",
        lambda x: la.svd(x, full_matrices=False).Vh ** 2,
        shapes=MATRIX,
        avoid=_close_singular_values,
        ref=lambda a: np.linalg.svd(a, full_matrices=False)[2] ** 2,
        sample=[(2, 3)],
    ),
    OpInfo(
        "eigh",
        lambda x: la.eigh(sym(x)).eigenvalues,
        shapes=SQUARE,
        avoid=_close_eigenvalues,
        ref=lambda a: np.linalg.eigh(sym(a))[0],
        sample=[(3, 3)],
    ),
    OpInfo(
        "eigh[vectors]",
        lambda x: la.eigh(sym(x)).eigenvectors ** 2,
        shapes=SQUARE,
        avoid=_close_eigenvalues,
        ref=lambda a: np.linalg.eigh(sym(a))[1] ** 2,
        sample=[(3, 3)],
    ),
]

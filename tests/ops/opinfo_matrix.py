"""OpInfo entries of the matrix-function family (matrix.py, public as graphgrad.linalg), against NumPy.

Square inputs are shifted by 4 I (entries drawn in [-1, 1], n <= 3), so they are far from
singular and their inverses are well conditioned; singular matrices are tested by hand.
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
SYSTEM_VECTOR = st.tuples(BATCH, SIDE).map(lambda t: [t[0] + (t[1], t[1]), (t[1],)])
SYSTEM_MATRIX = st.tuples(BATCH, SIDE, SIDE).map(lambda t: [t[0] + (t[1], t[1]), (t[1], t[2])])


@fixed
def _four_eye(n: int, dtype: Any) -> np.ndarray:
    return np.eye(n, dtype=dtype) * 4


def shifted(x: Any) -> Any:
    """x + 4 I in x's dtype, for tensors and arrays alike."""
    return x + operand(_four_eye(x.shape[-1], x.dtype), x)


def _small_singular_value(xs: list[np.ndarray]) -> bool:
    return bool(np.min(np.linalg.svd(xs[0], compute_uv=False)) < 0.2)


OPINFOS = [
    OpInfo(
        "inv",
        lambda x: la.inv(shifted(x)),
        domain=(-1, 1),
        shapes=SQUARE,
        ref=lambda a: np.linalg.inv(shifted(a)),
        sample=[(3, 3)],
    ),
    OpInfo(
        "solve",
        lambda a, b: la.solve(shifted(a), b),
        nargs=2,
        domain=(-1, 1),
        shapes=SYSTEM_VECTOR,
        ref=lambda a, b: np.linalg.solve(shifted(a), b),
        sample=[(2, 3, 3), (3,)],
    ),
    OpInfo(
        "solve[matrix b]",
        lambda a, b: la.solve(shifted(a), b),
        nargs=2,
        domain=(-1, 1),
        shapes=SYSTEM_MATRIX,
        ref=lambda a, b: np.linalg.solve(shifted(a), b),
        sample=[(3, 3), (3, 2)],
    ),
    OpInfo(
        "det",
        la.det,
        shapes=SQUARE,
        ref=np.linalg.det,
        sample=[(3, 3)],
        avoid=lambda xs: bool(np.any(np.abs(np.linalg.det(xs[0])) < 1e-3)),
    ),
    OpInfo(
        "slogdet",
        lambda x: la.slogdet(shifted(x)).logabsdet,
        domain=(-1, 1),
        shapes=SQUARE,
        ref=lambda a: np.linalg.slogdet(shifted(a))[1],
        sample=[(3, 3)],
    ),
    OpInfo(
        "slogdet[negative det]",
        lambda x: la.slogdet(-shifted(x) if x.shape[-1] % 2 else shifted(x)[..., ::-1, :]).logabsdet,
        domain=(-1, 1),
        shapes=SQUARE,
        ref=lambda a: np.linalg.slogdet(-shifted(a) if a.shape[-1] % 2 else shifted(a)[..., ::-1, :])[1],
        sample=[(3, 3)],
    ),
    OpInfo("pinv", la.pinv, shapes=MATRIX, avoid=_small_singular_value, ref=np.linalg.pinv, sample=[(3, 2)]),
    OpInfo(
        "matrix_power",
        lambda x: la.matrix_power(x, 5),
        domain=(-1, 1),
        shapes=SQUARE,
        ref=lambda a: np.linalg.matrix_power(a, 5),
        sample=[(3, 3)],
    ),
    OpInfo(
        "matrix_power[negative]",
        lambda x: la.matrix_power(shifted(x), -2),
        domain=(-1, 1),
        shapes=SQUARE,
        ref=lambda a: np.linalg.matrix_power(shifted(a), -2),
        sample=[(3, 3)],
    ),
    OpInfo(
        "matrix_power[0]",
        lambda x: la.matrix_power(x, 0) + x,
        shapes=SQUARE,
        ref=lambda a: np.linalg.matrix_power(a, 0) + a,
        sample=[(3, 3)],
    ),
]

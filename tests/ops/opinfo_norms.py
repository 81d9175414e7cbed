"""OpInfo entries of norm (norms.py, public as graphgrad.linalg.norm), against NumPy.

Kinks are avoided: entries near 0 for the 1-norm and p < 2, ties for inf norms, close singular
values for the spectral and nuclear norms (the subgradients there are tested by hand).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from graphgrad import linalg as la
from tests.ops.opinfo import OpInfo, has_ties, near, same_shapes

MATRIX = st.tuples(st.sampled_from([(), (2,)]), st.integers(1, 3), st.integers(1, 3)).map(
    lambda t: [t[0] + (t[1], t[2])]
)
VECTORS = same_shapes(1, min_dims=1)


def _zeroish(xs: list[np.ndarray]) -> bool:
    return near(xs[0], [0.0], tol=0.05)


def _abs_ties(xs: list[np.ndarray]) -> bool:
    return has_ties(np.abs(xs[0]), tol=0.02) or _zeroish(xs)


def _sv_close(xs: list[np.ndarray]) -> bool:
    s = np.linalg.svd(xs[0], compute_uv=False)
    return bool(np.min(s) < 0.05 or (s.shape[-1] > 1 and np.min(-np.diff(s, axis=-1)) < 0.05))


def _sums_tie(axis: int):
    def avoid(xs: list[np.ndarray]) -> bool:
        return has_ties(np.sum(np.abs(xs[0]), axis=axis), tol=0.02) or _zeroish(xs)

    return avoid


def _entry(name: str, ord, axis=None, keepdims=False, shapes=VECTORS, avoid=None, covers=()) -> OpInfo:
    """``covers``: the registry ops a matrix norm reaches (through svd, or abs/sum/max)."""
    return OpInfo(
        name,
        lambda x: la.norm(x, ord=ord, axis=axis, keepdims=keepdims),
        shapes=shapes,
        avoid=avoid,
        ref=lambda a: np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims),
        sample=[(2, 3)],
        covers=covers,
    )


_SVD = ("svd",)  # nuc and 2 / -2 as matrix norms: sums, max or min of the singular values
_SUMS = ("abs", "sum", "max")  # 1 and inf as matrix norms: the largest absolute column / row sum

OPINFOS = [
    _entry("norm", None, avoid=_zeroish),
    _entry("norm[keepdims]", None, keepdims=True, avoid=_zeroish),
    _entry("norm[axis -1]", None, axis=-1, avoid=_zeroish),
    _entry("norm[1]", 1, axis=-1, avoid=_zeroish),
    _entry("norm[3, keepdims]", 3, axis=-1, keepdims=True, avoid=_zeroish),
    _entry("norm[0.5]", 0.5, axis=0, avoid=_zeroish),
    _entry("norm[inf]", math.inf, axis=-1, avoid=_abs_ties),
    _entry("norm[-inf]", -math.inf, axis=-1, avoid=_abs_ties),
    _entry("norm[0]", 0, axis=-1, avoid=_zeroish),
    _entry("norm[fro]", "fro", axis=(-2, -1), shapes=MATRIX, avoid=_zeroish),
    _entry("norm[nuc]", "nuc", axis=(-2, -1), shapes=MATRIX, avoid=_sv_close, covers=_SVD),
    _entry("norm[2, matrix]", 2, axis=(-1, -2), shapes=MATRIX, avoid=_sv_close, covers=_SVD),
    _entry("norm[-2, matrix]", -2, axis=(-2, -1), shapes=MATRIX, avoid=_sv_close, covers=_SVD),
    _entry("norm[1, matrix]", 1, axis=(-2, -1), shapes=MATRIX, avoid=_sums_tie(-2), covers=_SUMS),
    _entry(
        "norm[inf, matrix, keepdims]",
        math.inf,
        axis=(-2, -1),
        keepdims=True,
        shapes=MATRIX,
        avoid=_sums_tie(-1),
        covers=_SUMS,
    ),
]

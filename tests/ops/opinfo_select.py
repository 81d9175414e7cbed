"""OpInfo entries of the selection family (select.py), against NumPy.

sort and partition avoid ties (which of two equal values goes first is arbitrary, so finite
differences there average the two; ties are tested by hand in test_select.py).
"""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, has_ties, same_shapes

ONE_UP = same_shapes(1, min_dims=1)
TWO_UP = same_shapes(1, min_dims=2)
VECTOR = same_shapes(1, min_dims=1, max_dims=1)
MATRIX = same_shapes(1, min_dims=2, max_dims=2)
THREE = same_shapes(1, min_dims=3, max_dims=3)


def _ties(xs: list[np.ndarray]) -> bool:
    return has_ties(xs[0])


def _along(x: np.ndarray) -> np.ndarray:
    """Indices along the last axis with repeats, of the input's rank."""
    n = x.shape[-1]
    idx = np.array([n - 1, 0, n - 1, n // 2])
    return np.broadcast_to(idx, x.shape[:-1] + (4,))


OPINFOS = [
    OpInfo("diag", gg.diag, shapes=VECTOR, ref=np.diag),
    OpInfo("diag[k=-2]", lambda v: gg.diag(v, -2), shapes=VECTOR, ref=lambda v: np.diag(v, -2)),
    OpInfo("diag[matrix, k=1]", lambda m: gg.diag(m, 1), shapes=MATRIX, ref=lambda m: np.diag(m, 1)),
    OpInfo("diagonal_embed", lambda v: gg.diag(v, 1), shapes=VECTOR, ref=lambda v: np.diag(v, 1), notes="internal op"),
    OpInfo("diagonal", gg.diagonal, shapes=TWO_UP, ref=np.diagonal),
    OpInfo(
        "diagonal[offset, axes]",
        lambda x: gg.diagonal(x, -1, 2, 0),
        shapes=THREE,
        ref=lambda a: np.diagonal(a, -1, 2, 0),
        sample=[(3, 2, 4)],
    ),
    OpInfo("trace", gg.trace, shapes=TWO_UP, ref=np.trace),
    OpInfo("trace[offset]", lambda x: gg.trace(x, 1, -1, -2), shapes=TWO_UP, ref=lambda a: np.trace(a, 1, -1, -2)),
    OpInfo("tril", gg.tril, shapes=ONE_UP, ref=np.tril),
    OpInfo("tril[k=-1]", lambda x: gg.tril(x, -1), shapes=TWO_UP, ref=lambda a: np.tril(a, -1)),
    OpInfo("triu", gg.triu, shapes=ONE_UP, ref=np.triu),
    OpInfo("triu[k=1]", lambda x: gg.triu(x, 1), shapes=TWO_UP, ref=lambda a: np.triu(a, 1)),
    OpInfo("take", lambda x: gg.take(x, [0, -1, 0]), shapes=ONE_UP, ref=lambda a: np.take(a, [0, -1, 0])),
    OpInfo(
        "take[axis, wrap]",
        lambda x: gg.take(x, [[5, -7], [0, 1]], axis=-1, mode="wrap"),
        shapes=ONE_UP,
        ref=lambda a: np.take(a, [[5, -7], [0, 1]], axis=-1, mode="wrap"),
    ),
    OpInfo(
        "take[clip]",
        lambda x: gg.take(x, [9, -9], axis=0, mode="clip"),
        shapes=ONE_UP,
        ref=lambda a: np.take(a, [9, -9], axis=0, mode="clip"),
    ),
    OpInfo(
        "take_along_axis",
        lambda x: gg.take_along_axis(x, _along(x.data), -1),
        shapes=ONE_UP,
        ref=lambda a: np.take_along_axis(a, _along(a), -1),
    ),
    OpInfo("sort", gg.sort, shapes=ONE_UP, avoid=_ties, ref=np.sort),
    OpInfo("sort[axis 0]", lambda x: gg.sort(x, axis=0), shapes=ONE_UP, avoid=_ties, ref=lambda a: np.sort(a, axis=0)),
    OpInfo("argsort", gg.argsort, shapes=ONE_UP, avoid=_ties, ref=np.argsort, differentiable=False),
    OpInfo("sort[None]", lambda x: gg.sort(x, axis=None), avoid=_ties, ref=lambda a: np.sort(a, axis=None)),
    OpInfo(
        "partition",
        lambda x: gg.partition(x, x.shape[-1] // 2),
        shapes=ONE_UP,
        avoid=_ties,
        ref=lambda a: np.partition(a, a.shape[-1] // 2),
    ),
]

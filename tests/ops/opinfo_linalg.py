"""OpInfo entries of the linear-algebra family."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from tests.ops.opinfo import OpInfo


@st.composite
def matmul_shapes(draw: st.DrawFn) -> list[tuple[int, ...]]:
    """Operand shapes for matmul: 1-D, 2-D or batched, with a broadcast batch."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (3, 1)]))
    a = draw(st.sampled_from([(k,), (n, k), batch + (n, k)]))
    b = draw(st.sampled_from([(k,), (k, m), batch[1:] + (k, m)]))
    return [a, b]


@st.composite
def dot_shapes(draw: st.DrawFn) -> list[tuple[int, ...]]:
    """Operand shapes for numpy.dot: scalars, vectors, matrices and N-D stacks (no batch broadcast)."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    lead_a = draw(st.sampled_from([(), (2,)]))
    lead_b = draw(st.sampled_from([(), (2,), (3, 1)]))
    a = draw(st.sampled_from([(), (k,), (n, k), lead_a + (n, k)]))
    b = draw(st.sampled_from([(), (k,), (k, m), lead_b + (k, m)]))
    return [a, b]


ANY_SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def _dot_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy.dot by its definition: sum over the last axis of a and the second-to-last of b."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim == 1:
        return np.einsum("...k,k->...", a, b)
    bb = np.moveaxis(b, -2, 0)  # (k, *rest)
    return np.tensordot(a, bb, axes=([-1], [0]))


def _matmul_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Products summed by einsum (vectors promoted to matrices and the axis dropped again)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out = np.einsum("...ij,...jk->...ik", a2, b2)
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim > 1 else out[..., 0]
    return out


BIG_PAIR = [([[1e200, -1e200]], [[1e200], [1e200]])]  # the product overflows to inf

OPINFOS = [
    OpInfo(
        "matmul",
        gg.matmul,
        nargs=2,
        shapes=matmul_shapes(),
        sample=[(4, 3), (3, 2)],
        ref=_matmul_ref,
        edges=BIG_PAIR,
    ),
    OpInfo(
        "outer",
        gg.outer,
        nargs=2,
        shapes=st.tuples(ANY_SHAPE, ANY_SHAPE).map(list),
        ref=lambda a, b: a.reshape(-1, 1) * b.reshape(1, -1),
        edges=[([1e200], [1e200])],
    ),
    OpInfo(
        "dot",
        gg.dot,
        nargs=2,
        shapes=dot_shapes(),
        sample=[(2, 4, 3), (2, 3, 5)],
        ref=_dot_ref,
        covers=("matmul",),
        edges=BIG_PAIR,
    ),
]

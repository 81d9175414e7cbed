"""OpInfo entries of the linear-algebra family."""

from __future__ import annotations

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

OPINFOS = [
    OpInfo("matmul", gg.matmul, nargs=2, shapes=matmul_shapes(), sample=[(4, 3), (3, 2)]),
    OpInfo("outer", gg.outer, nargs=2, shapes=st.tuples(ANY_SHAPE, ANY_SHAPE).map(list)),
    OpInfo("dot", gg.dot, nargs=2, shapes=dot_shapes(), sample=[(2, 4, 3), (2, 3, 5)]),
]

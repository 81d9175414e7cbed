"""OpInfo entries of the linear-algebra family."""

from __future__ import annotations

from hypothesis import strategies as st

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


OPINFOS = [
    OpInfo("matmul", gg.matmul, nargs=2, shapes=matmul_shapes(), sample=[(4, 3), (3, 2)]),
]

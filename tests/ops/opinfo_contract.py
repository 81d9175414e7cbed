"""OpInfo entries of the contraction family (contract.py), against NumPy.

einsum is checked on one entry per kind of subscript: a matrix product, implicit output, a
trace and a diagonal (repeated indices), a sum over an index of one operand, ellipsis batches
that broadcast, three operands, and the interleaved sublist form.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes

SIDE = st.integers(1, 3)


def _fixed(*shapes: tuple[int, ...]) -> st.SearchStrategy:
    return st.just(list(shapes))


SQUARE = SIDE.map(lambda n: [(n, n)])
THREE_VEC = same_shapes(2, min_dims=1, max_dims=2).map(lambda s: [s[0][:-1] + (3,), s[1][:-1] + (3,)])


def _einsum(subscripts: str, n: int, shapes: st.SearchStrategy, sample: list) -> OpInfo:
    return OpInfo(
        f"einsum[{subscripts}]" if subscripts != "ij,jk->ik" else "einsum",
        lambda *ts: gg.einsum(subscripts, *ts),
        nargs=n,
        shapes=shapes,
        ref=lambda *arrays: np.einsum(subscripts, *arrays),
        sample=sample,
    )


OPINFOS = [
    _einsum("ij,jk->ik", 2, st.tuples(SIDE, SIDE, SIDE).map(lambda t: [(t[0], t[1]), (t[1], t[2])]), [(2, 3), (3, 4)]),
    _einsum("ij,jk", 2, st.tuples(SIDE, SIDE, SIDE).map(lambda t: [(t[0], t[1]), (t[1], t[2])]), [(2, 3), (3, 4)]),
    _einsum("ii", 1, SQUARE, [(3, 3)]),
    _einsum("ii->i", 1, SQUARE, [(3, 3)]),
    _einsum("ij->i", 1, same_shapes(1, min_dims=2, max_dims=2), [(2, 3)]),
    _einsum("i,j->ij", 2, st.tuples(SIDE, SIDE).map(lambda t: [(t[0],), (t[1],)]), [(2,), (3,)]),
    _einsum("...ij,...jk->...ik", 2, _fixed((2, 1, 2, 3), (4, 3, 2)), [(2, 1, 2, 3), (4, 3, 2)]),
    _einsum("iij->ji", 1, st.tuples(SIDE, SIDE).map(lambda t: [(t[0], t[0], t[1])]), [(2, 2, 3)]),
    _einsum("i,jk,kl->ijl", 3, _fixed((2,), (3, 2), (2, 4)), [(2,), (3, 2), (2, 4)]),
    OpInfo(
        "einsum[sublists]",
        lambda a, b: gg.einsum(a, [0, Ellipsis], b, [1, 0], [Ellipsis, 1]),
        nargs=2,
        shapes=_fixed((3, 2), (4, 3)),
        ref=lambda a, b: np.einsum(a, [0, Ellipsis], b, [1, 0], [Ellipsis, 1]),
        sample=[(3, 2), (4, 3)],
    ),
    OpInfo(
        "tensordot",
        lambda a, b: gg.tensordot(a, b, 2),
        nargs=2,
        shapes=_fixed((2, 3, 4), (3, 4, 2)),
        ref=lambda a, b: np.tensordot(a, b, 2),
        sample=[(2, 3, 4), (3, 4, 2)],
    ),
    OpInfo(
        "tensordot[axis lists]",
        lambda a, b: gg.tensordot(a, b, ([0, 2], [2, 0])),
        nargs=2,
        shapes=_fixed((2, 3, 4), (4, 1, 2)),
        ref=lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0])),
        sample=[(2, 3, 4), (4, 1, 2)],
    ),
    OpInfo(
        "inner",
        gg.inner,
        nargs=2,
        shapes=st.tuples(SIDE, SIDE, SIDE).map(lambda t: [(t[0], t[2]), (t[1], 2, t[2])]),
        ref=np.inner,
        sample=[(2, 3), (4, 2, 3)],
    ),
    OpInfo(
        "kron",
        gg.kron,
        nargs=2,
        shapes=st.tuples(same_shapes(1), same_shapes(1)).map(lambda p: [p[0][0], p[1][0]]),
        ref=np.kron,
    ),
    OpInfo("cross", gg.cross, nargs=2, shapes=THREE_VEC, ref=np.cross, sample=[(4, 3), (3,)]),
    OpInfo(
        "cross[axes]",
        lambda a, b: gg.cross(a, b, axisa=0, axisb=-1, axisc=0),
        nargs=2,
        shapes=_fixed((3, 2), (2, 3)),
        ref=lambda a, b: np.cross(a, b, axisa=0, axisb=-1, axisc=0),
        sample=[(3, 2), (2, 3)],
    ),
]

"""OpInfo entries of the joining and splitting family (join.py), against NumPy.

Split results are joined back with a distinct weight per part, so that a gradient landing in the
wrong part shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes


@st.composite
def rows_and_rows(draw: st.DrawFn, rank: int) -> list[tuple[int, ...]]:
    """Two shapes of ``rank`` that differ only on the joining axis (0 for rank 2, last otherwise)."""
    rest = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    axis = 0 if rank == 2 else rank - 1
    a, b = list(rest), list(rest)
    a[axis], b[axis] = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return [tuple(a), tuple(b)]


def _joined(parts: list[Any], axis: int = -1) -> Any:
    weighted = [p * (i + 1.0) for i, p in enumerate(parts)]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(weighted, axis=axis)
    return gg.concatenate(weighted, axis=axis)


def _split_pair(gg_split: Callable[..., Any], np_split: Callable[..., Any], arg: Any, axis: int = -1) -> Any:
    return (lambda x: _joined(gg_split(x, arg), axis)), (lambda a: _joined(np_split(a, arg), axis))


SAME2 = same_shapes(2, min_dims=1, max_dims=1)
SAME3 = same_shapes(1, min_dims=3, max_dims=3).map(lambda s: [(s[0][0], s[0][1], 2 * s[0][2])])
V2 = same_shapes(1, min_dims=2, max_dims=2).map(lambda s: [(2 * s[0][0], s[0][1])])

OPINFOS = [
    OpInfo(
        "vstack",
        lambda a, b: gg.vstack([a, b]),
        nargs=2,
        shapes=rows_and_rows(2),
        ref=lambda a, b: np.vstack([a, b]),
        sample=[(2, 3), (1, 3)],
    ),
    OpInfo("vstack[1-D]", lambda a, b: gg.vstack([a, b]), nargs=2, shapes=SAME2, ref=lambda a, b: np.vstack([a, b])),
    OpInfo(
        "hstack", lambda a, b: gg.hstack([a, b]), nargs=2, shapes=rows_and_rows(1), ref=lambda a, b: np.hstack([a, b])
    ),
    OpInfo(
        "hstack[2-D]",
        lambda a, b: gg.hstack([a.T, b.T]),
        nargs=2,
        shapes=rows_and_rows(2),
        ref=lambda a, b: np.hstack([a.T, b.T]),
    ),
    OpInfo("dstack", lambda a, b: gg.dstack([a, b]), nargs=2, shapes=SAME2, ref=lambda a, b: np.dstack([a, b])),
    OpInfo(
        "column_stack",
        lambda a, b: gg.column_stack([a, b]),
        nargs=2,
        shapes=SAME2,
        ref=lambda a, b: np.column_stack([a, b]),
    ),
    OpInfo(
        "append",
        lambda a, b: gg.append(a, b),
        nargs=2,
        shapes=st.tuples(same_shapes(1), same_shapes(1)).map(lambda p: [p[0][0], p[1][0]]),
        ref=lambda a, b: np.append(a, b),
    ),
    OpInfo(
        "append[axis]",
        lambda a, b: gg.append(a, b, axis=-1),
        nargs=2,
        shapes=rows_and_rows(3),
        ref=lambda a, b: np.append(a, b, axis=-1),
    ),
]

SEVEN = st.just([(7, 2)])  # 7 rows in 3 sections: sizes 3, 2, 2

for _name, _gg, _np, _arg, _axis, _shapes, _sample in [
    ("array_split", gg.array_split, np.array_split, 3, 0, SEVEN, (7, 2)),
    ("array_split[indices]", gg.array_split, np.array_split, [1, 3], 0, same_shapes(1, min_dims=1), (4, 3)),
    ("vsplit", gg.vsplit, np.vsplit, 2, 0, V2, (4, 3)),
    ("hsplit", gg.hsplit, np.hsplit, [1], 1, same_shapes(1, min_dims=2), (2, 3)),
    ("dsplit", gg.dsplit, np.dsplit, 2, 2, SAME3, (2, 3, 4)),
]:
    _fn, _ref = _split_pair(_gg, _np, _arg, _axis)
    OPINFOS.append(OpInfo(_name, _fn, shapes=_shapes, ref=_ref, sample=[_sample]))

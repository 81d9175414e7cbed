"""OpInfo entries of the nn family.

Integer class targets carry no gradient, so they are closed over in ``fn``, derived from the
drawn logits' shape (``_classes``); probability targets are drawn as a second input.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near, same_shapes


def _classes(shape: tuple[int, ...], axis: int = -1) -> np.ndarray:
    """Fixed class indices for logits of ``shape``: every class appears, some more than once."""
    ncls = shape[axis]
    rows = shape[:axis % len(shape)] + shape[axis % len(shape) + 1 :]
    return (np.arange(int(np.prod(rows))).reshape(rows) * 2 + 1) % ncls


@st.composite
def rows_by_classes(draw: st.DrawFn, n: int = 1, min_dims: int = 2) -> list[tuple[int, ...]]:
    """``n`` copies of a ``(..., C)`` shape with C >= 2."""
    lead = draw(hnp.array_shapes(min_dims=min_dims - 1, max_dims=2, min_side=1, max_side=4))
    return [lead + (draw(st.integers(2, 5)),)] * n


@st.composite
def linear_shapes(draw: st.DrawFn, bias: bool = True) -> list[tuple[int, ...]]:
    """x (..., in), weight (out, in) and bias (out,)."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (3,), (2, 3)]))
    shapes = [lead + (n_in,), (n_out, n_in)]
    return shapes + [(n_out,)] if bias else shapes


PROBS = [(-3.0, 3.0), (0.0, 1.0)]

OPINFOS = [
    OpInfo("softmax", lambda x: gg.softmax(x), shapes=same_shapes(1, min_dims=1)),
    OpInfo("softmax[axis 0]", lambda x: gg.softmax(x, axis=0), shapes=same_shapes(1, min_dims=1)),
    OpInfo("log_softmax", lambda x: gg.log_softmax(x), shapes=same_shapes(1, min_dims=1)),
    OpInfo("log_softmax[axis 0]", lambda x: gg.log_softmax(x, axis=0), shapes=same_shapes(1, min_dims=1)),
    OpInfo("linear", gg.linear, nargs=3, shapes=linear_shapes(), sample=[(5, 3), (4, 3), (4,)]),
    OpInfo("linear[no bias]", gg.linear, nargs=2, shapes=linear_shapes(bias=False), sample=[(5, 3), (4, 3)]),
    OpInfo(
        "cross_entropy",
        lambda z: gg.cross_entropy(z, _classes(z.shape)),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
    ),
    OpInfo(
        "cross_entropy[none, smoothing]",
        lambda z: gg.cross_entropy(z, _classes(z.shape), reduction="none", label_smoothing=0.2),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
    ),
    OpInfo(
        "cross_entropy[axis 1]",
        lambda z: gg.cross_entropy(z, _classes(z.shape, 1), reduction="sum", axis=1),
        shapes=st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 3)).map(lambda s: [s]),
        sample=[(2, 3, 4)],
    ),
    OpInfo(
        "cross_entropy[probabilities]",
        lambda z, q: gg.cross_entropy(z, q, label_smoothing=0.1),
        nargs=2,
        domain=PROBS,
        shapes=rows_by_classes(2),
        sample=[(4, 3), (4, 3)],
    ),
    OpInfo(
        "nll_loss",
        lambda lp: gg.nll_loss(lp, _classes(lp.shape)),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
    ),
    OpInfo(
        "binary_cross_entropy_with_logits",
        gg.binary_cross_entropy_with_logits,
        nargs=2,
        domain=PROBS,
        shapes=same_shapes(2),
    ),
    OpInfo(
        "binary_cross_entropy_with_logits[pos_weight]",
        lambda x, y, w: gg.binary_cross_entropy_with_logits(x, y, reduction="sum", pos_weight=w),
        nargs=3,
        domain=[(-3.0, 3.0), (0.0, 1.0), (0.5, 3.0)],
        shapes=same_shapes(3),
    ),
    OpInfo(
        "binary_cross_entropy",
        lambda p, y: gg.binary_cross_entropy(p, y, reduction="none"),
        nargs=2,
        domain=[(0.05, 0.95), (0.0, 1.0)],
        shapes=same_shapes(2),
    ),
    OpInfo("mse_loss", gg.mse_loss, nargs=2, shapes=same_shapes(2)),
    OpInfo(
        "l1_loss",
        lambda x, y: gg.l1_loss(x, y, reduction="sum"),
        nargs=2,
        shapes=same_shapes(2),
        avoid=lambda xs: near(xs[0] - xs[1], [0.0]),
    ),
    OpInfo("dropout", lambda x: gg.dropout(x, 0.3, rng=0)),
    OpInfo("dropout[not inverted]", lambda x: gg.dropout(x, 0.3, rng=1, inverted=False)),
]

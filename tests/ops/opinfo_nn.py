"""OpInfo entries of the nn family.

Integer class targets carry no gradient, so they are closed over in ``fn``, derived from the
drawn logits' shape (``_classes``); probability targets are drawn as a second input.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from tests.ops.opinfo import OpInfo, fixed, near, operand, same_shapes


@fixed
def _classes(shape: tuple[int, ...], axis: int = -1) -> np.ndarray:
    """Fixed class indices for logits of ``shape``: every class appears, some more than once."""
    ncls = shape[axis]
    rows = shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
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


def _log_softmax_ref(z: np.ndarray, axis: int = -1) -> np.ndarray:
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))  # logits within +-3: no overflow


def _ce_ref(
    z: np.ndarray, target: np.ndarray, reduction: str = "mean", smoothing: float = 0.0, axis: int = -1
) -> np.ndarray:
    """-sum_c q_c log softmax(z)_c per row with q the (smoothed) target distribution, then reduced."""
    ncls = z.shape[axis]
    if target.dtype.kind in "iu":
        q = np.moveaxis(np.eye(ncls)[target], -1, axis)
    else:
        q = target
    q = (1.0 - smoothing) * q + smoothing / ncls
    loss = -np.sum(q * _log_softmax_ref(z, axis), axis=axis)
    return _reduced(loss, reduction)


def _reduced(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    return loss


def _bce_logits_ref(x: np.ndarray, y: np.ndarray, pos_weight: np.ndarray | float = 1.0) -> np.ndarray:
    s = 1.0 / (1.0 + np.exp(-x))
    return -(pos_weight * y * np.log(s) + (1.0 - y) * np.log(1.0 - s))


def _dropout_ref(x: np.ndarray, seed: int, scale: float) -> np.ndarray:
    """The mask that ``rng=seed`` promises: one float64 uniform draw per entry, kept where < 0.7."""
    keep = np.random.default_rng(seed).random(x.shape) < 0.7
    return np.where(keep, x * scale, 0.0)


PROBS = [(-3.0, 3.0), (0.0, 1.0)]
SOFTMAX_EDGE = [([[1e308, -1e308, 0.0]],)]  # exp overflows without the shift; -inf log-probabilities

OPINFOS = [
    OpInfo(
        "softmax",
        lambda x: gg.softmax(x),
        shapes=same_shapes(1, min_dims=1),
        ref=lambda z: np.exp(_log_softmax_ref(z)),
        ref_rtol=1e-13,
        edges=SOFTMAX_EDGE,
    ),
    OpInfo(
        "softmax[axis 0]",
        lambda x: gg.softmax(x, axis=0),
        shapes=same_shapes(1, min_dims=1),
        ref=lambda z: np.exp(_log_softmax_ref(z, 0)),
        ref_rtol=1e-13,
    ),
    OpInfo(
        "log_softmax",
        lambda x: gg.log_softmax(x),
        shapes=same_shapes(1, min_dims=1),
        ref=_log_softmax_ref,
        edges=SOFTMAX_EDGE,
    ),
    OpInfo(
        "log_softmax[axis 0]",
        lambda x: gg.log_softmax(x, axis=0),
        shapes=same_shapes(1, min_dims=1),
        ref=lambda z: _log_softmax_ref(z, 0),
    ),
    OpInfo(
        "linear",
        gg.linear,
        nargs=3,
        shapes=linear_shapes(),
        sample=[(5, 3), (4, 3), (4,)],
        ref=lambda x, w, b: np.einsum("...i,oi->...o", x, w) + b,
        edges=[([[1e200, 1e200]], [[1e200, -1e200]], [1e308])],
    ),
    OpInfo(
        "linear[no bias]",
        gg.linear,
        nargs=2,
        shapes=linear_shapes(bias=False),
        sample=[(5, 3), (4, 3)],
        ref=lambda x, w: np.einsum("...i,oi->...o", x, w),
    ),
    OpInfo(
        "cross_entropy",
        lambda z: gg.cross_entropy(z, operand(_classes(z.shape), z)),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
        ref=lambda z: _ce_ref(z, _classes(z.shape)),
        edges=SOFTMAX_EDGE,
    ),
    OpInfo(
        "cross_entropy[none, smoothing]",
        lambda z: gg.cross_entropy(z, operand(_classes(z.shape), z), reduction="none", label_smoothing=0.2),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
        ref=lambda z: _ce_ref(z, _classes(z.shape), "none", 0.2),
        edges=SOFTMAX_EDGE,
    ),
    OpInfo(
        "cross_entropy[axis 1]",
        lambda z: gg.cross_entropy(z, operand(_classes(z.shape, 1), z), reduction="sum", axis=1),
        shapes=st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 3)).map(lambda s: [s]),
        sample=[(2, 3, 4)],
        ref=lambda z: _ce_ref(z, _classes(z.shape, 1), "sum", axis=1),
        covers=("cross_entropy", "transpose"),
    ),
    OpInfo(
        "cross_entropy[probabilities]",
        lambda z, q: gg.cross_entropy(z, q, label_smoothing=0.1),
        nargs=2,
        domain=PROBS,
        shapes=rows_by_classes(2),
        sample=[(4, 3), (4, 3)],
        ref=lambda z, q: _ce_ref(z, q, smoothing=0.1),
        edges=[([[1e308, -1e308, 0.0]], [[0.2, 0.3, 0.5]])],
    ),
    OpInfo(
        "nll_loss",
        lambda lp: gg.nll_loss(lp, _classes(lp.shape)),
        shapes=rows_by_classes(),
        sample=[(4, 3)],
        ref=lambda lp: -np.mean(np.take_along_axis(lp, _classes(lp.shape)[..., None], axis=-1)),
        covers=("getitem", "negative"),
        edges=[([[-1e308, 1e308, 0.0]],)],
    ),
    OpInfo(
        "binary_cross_entropy_with_logits",
        gg.binary_cross_entropy_with_logits,
        nargs=2,
        domain=PROBS,
        shapes=same_shapes(2),
        ref=lambda x, y: np.mean(_bce_logits_ref(x, y)),
        ref_rtol=1e-9,
        covers=("binary_cross_entropy_with_logits", "mean"),
        edges=[([1e300, -1e300, 800.0], [0.0, 1.0, 1.0])],
    ),
    OpInfo(
        "binary_cross_entropy_with_logits[pos_weight]",
        lambda x, y, w: gg.binary_cross_entropy_with_logits(x, y, reduction="sum", pos_weight=w),
        nargs=3,
        domain=[(-3.0, 3.0), (0.0, 1.0), (0.5, 3.0)],
        shapes=same_shapes(3),
        ref=lambda x, y, w: np.sum(_bce_logits_ref(x, y, w)),
        ref_rtol=1e-9,
        covers=("binary_cross_entropy_with_logits", "sum"),
        edges=[([1e300, -1e300, 800.0], [0.0, 1.0, 1.0], [2.0, 1e300, 2.0])],
    ),
    OpInfo(
        "binary_cross_entropy",
        lambda p, y: gg.binary_cross_entropy(p, y, reduction="none"),
        nargs=2,
        domain=[(0.05, 0.95), (0.0, 1.0)],
        shapes=same_shapes(2),
        ref=lambda p, y: -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)),
        ref_rtol=1e-9,
        edges=[([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0])],
    ),
    OpInfo(
        "mse_loss",
        gg.mse_loss,
        nargs=2,
        shapes=same_shapes(2),
        ref=lambda x, y: np.mean((x - y) ** 2),
        covers=("subtract", "multiply", "mean"),
        edges=[([1e200, -1e200], [-1e200, 1e200])],
    ),
    OpInfo(
        "l1_loss",
        lambda x, y: gg.l1_loss(x, y, reduction="sum"),
        nargs=2,
        shapes=same_shapes(2),
        avoid=lambda xs: near(xs[0] - xs[1], [0.0]),
        ref=lambda x, y: np.sum(np.abs(x - y)),
        covers=("subtract", "abs", "sum"),
        edges=[([1e308, -1e308], [-1e308, 1e308])],
    ),
    OpInfo(
        "dropout",
        lambda x: gg.dropout(x, 0.3, rng=0),
        ref=lambda x: _dropout_ref(x, 0, 1.0 / 0.7),
        edges=[([1e308, -1e308, 1e308],)],
    ),
    OpInfo(
        "dropout[not inverted]",
        lambda x: gg.dropout(x, 0.3, rng=1, inverted=False),
        ref=lambda x: _dropout_ref(x, 1, 1.0),
    ),
]

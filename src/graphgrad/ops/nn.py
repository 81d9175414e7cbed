"""Neural-network primitives: fused, numerically stable ops (softmax, linear, losses, dropout).

These ops are the hot path of a training step, so the big ones are single nodes with a NumPy
forward that makes as few passes as it can: ``linear`` is one matmul plus an in-place bias add,
``cross_entropy`` computes its log-sum-exp once and keeps the softmax it already has for backward.

Each op declares its rules once, with graphgrad ops (so second derivatives work). The hot ones
(linear, cross_entropy, binary_cross_entropy_with_logits) also declare a raw-array fast path
(``Op(array_vjps=...)``) that the engine uses in an ordinary backward, where nothing is recorded:
the same formulas on the arrays, in place where the array is theirs, skipping per-op overhead.

Conventions (PyTorch's where PyTorch has the function):
- the class axis is ``axis=-1`` (the last one), which for ``(N, C)`` logits is PyTorch's axis 1;
  pass ``axis=1`` for ``(N, C, d1, ...)`` inputs laid out as in PyTorch;
- ``reduction`` is ``"mean"`` (over every loss term, i.e. the batch; for class-index targets with
  ``weight`` or ``ignore_index``, PyTorch's weighted mean), ``"sum"`` or ``"none"``; the mean of
  no terms is NaN, as in PyTorch;
- integer targets (class indices) get no gradient; float targets (probabilities, regression
  targets, binary labels) get theirs, which makes distillation from a trained teacher work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import RECORD, get_mode
from graphgrad.errors import ConfigError, DataError, DTypeError, ShapeError
from graphgrad.ops import elementwise as ew
from graphgrad.ops.core import CAPTURE, TRACER, Op, applied, host, inplace_flag, lift, lift_pair
from graphgrad.ops.elementwise import annihilating_multiply
from graphgrad.ops.linalg import matmul, outer
from graphgrad.ops.reduce import mean as _mean
from graphgrad.ops.reduce import sum as _sum
from graphgrad.ops.shape import getitem, transpose
from graphgrad.tensor import Tensor

__all__ = [
    "softmax",
    "log_softmax",
    "linear",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "mse_loss",
    "l1_loss",
    "dropout",
]

REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ helpers
def _float_input(x: Any, op: str) -> Tensor:
    x = lift(x)
    if x.data.dtype.kind != "f":
        raise DTypeError(f"{op}: needs floating-point input, got dtype {x.dtype}")
    return x


def _class_axis(axis: int, ndim: int, op: str, shape: tuple[int, ...]) -> int:
    if ndim == 0 or not -ndim <= int(axis) < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for shape {shape}")
    return int(axis) % ndim


def _to_last(x: Tensor, axis: int) -> Tensor:
    """``x`` with ``axis`` moved to the end (no node when it is already there)."""
    if axis == x.ndim - 1:
        return x
    return transpose(x, tuple(i for i in range(x.ndim) if i != axis) + (axis,))


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ConfigError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return _mean(loss)
    if reduction == "sum":
        return _sum(loss)
    return loss


def _same_shape(a: Tensor, b: Tensor, op: str) -> None:
    if a.shape != b.shape:
        raise ShapeError(
            f"{op}: input shape {a.shape} and target shape {b.shape} differ; they must match "
            "(broadcasting them is almost always a bug, e.g. (N, 1) against (N,))"
        )


_UNSIGNED: dict[int, np.dtype[Any]] = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}
"""The unsigned integer dtype of each size: a class index viewed as one makes a negative index huge,
so one maximum checks both ends of the range."""

_ROWS: dict[int, np.ndarray] = {}
"""``arange(n)`` (read-only) by ``n``: row numbers for fancy indexing recur with every batch."""


def _row_index(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """The index that picks ``a[..., t]`` row by row from a class-last array (fancy indexing)."""
    if t.ndim == 1:
        n = t.shape[0]
        rows = _ROWS.get(n)
        if rows is None:
            rows = np.arange(n)
            rows.flags.writeable = False
            if len(_ROWS) < 64:
                _ROWS[n] = rows
        return (rows, t)
    return (*np.indices(t.shape, sparse=True), t)


class _Saved:
    """A forward result that backward may use once (the softmax of cross_entropy, and its per-row
    target terms in ``extra``).

    The rule takes it (and so owns it and may overwrite it); a second backward through a
    retained graph finds it gone and recomputes.
    """

    __slots__ = ("value", "extra")

    def __init__(self) -> None:
        self.value: np.ndarray | None = None
        self.extra: Any = None

    def take(self) -> np.ndarray | None:
        value, self.value = self.value, None
        return value

    def __repr__(self) -> str:
        return "<saved>"


# ------------------------------------------------------------------ softmax
def _softmax_array(a: np.ndarray, axis: int) -> np.ndarray:
    # the largest entry becomes exp(0): no overflow; C order so that backward can reshape it in place
    e = np.subtract(a, a.max(axis=axis, keepdims=True), order="C")
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_rule(g: Tensor, out: Tensor, a: Tensor, axis: int) -> Tensor:
    # J^T g for p = softmax(a): p * (g - <g, p>)
    return out * (g - _sum(g * out, axis=axis, keepdims=True))


_softmax = Op("softmax", _softmax_array, (_softmax_rule,))


class _LastAxis(int):
    """-1, the default ``axis``, as an object of its own: so a call that also passes PyTorch's ``dim``
    is told from one that names both (``axis=-1`` written out is another object)."""

    __slots__ = ()


LAST_AXIS: int = _LastAxis(-1)


def axis_or_dim(axis: int, dim: int | None, op: str) -> int:
    """The axis a softmax works along: ``axis`` (NumPy's name) or ``dim`` (PyTorch's), not both."""
    if dim is None:
        value, name = axis, "axis"
    elif axis is not LAST_AXIS:
        raise ConfigError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one (dim is PyTorch's name for axis)")
    else:
        value, name = dim, "dim"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{op}: {name} must be an integer, got {value!r}")
    return int(value)


def softmax(x: Any, axis: int = LAST_AXIS, *, dim: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed after subtracting the max (stable).

    ``dim`` (keyword only) is PyTorch's name for ``axis``: ``softmax(x, dim=1)``.
    """
    ax = axis_or_dim(axis, dim, "softmax")
    x = _float_input(x, "softmax")
    return _softmax(x, axis=_class_axis(ax, x.ndim, "softmax", x.shape))


def _log_softmax_forward(a: np.ndarray, axis: int) -> np.ndarray:
    out = a - a.max(axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))
    return out


def _log_softmax_rule(g: Tensor, out: Tensor, a: Tensor, axis: int) -> Tensor:
    # J^T g for l = log_softmax(a): g - softmax(a) * sum(g)
    return g - ew.exp(out) * _sum(g, axis=axis, keepdims=True)


_log_softmax = Op("log_softmax", _log_softmax_forward, (_log_softmax_rule,))


def log_softmax(x: Any, axis: int = LAST_AXIS, *, dim: int | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``axis`` (or PyTorch's ``dim``, keyword only), stable for any finite logits."""
    ax = axis_or_dim(axis, dim, "log_softmax")
    x = _float_input(x, "log_softmax")
    return _log_softmax(x, axis=_class_axis(ax, x.ndim, "log_softmax", x.shape))


# ------------------------------------------------------------------ linear
def _linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    out = np.matmul(x, w.T)
    if b is not None:
        if b.dtype == out.dtype:
            out += b  # in place: no second output-sized array
        else:
            out = out + b
    return out


def _linear_grad_x(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    return matmul(g, w)


def _linear_grad_w(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    if x.ndim == 1:
        return outer(g, x)
    if x.ndim > 2:
        g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    return matmul(g.T, x)


def _linear_grad_b(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return g if g.ndim == 1 else _sum(g, axis=tuple(range(g.ndim - 1)))


def _linear_array_x(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: Any = None) -> np.ndarray:
    if x.ndim == 2 and x.T.flags.c_contiguous and not x.flags.c_contiguous:
        # in x's memory layout, features outermost (images flattened from a convolution's (C, H, W, N)
        # memory): the product's own orientation, where a pooling's gradient needs no transposing copy
        return np.matmul(w.T, g.T).T
    return np.matmul(g, w)


def _linear_array_w(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: Any = None) -> np.ndarray:
    if x.ndim == 1:
        return np.outer(g, x)
    if x.ndim > 2:
        g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    return np.matmul(g.T, x)


def _linear_array_b(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return g.copy() if g.ndim == 1 else np.add.reduce(g, axis=0 if g.ndim == 2 else tuple(range(g.ndim - 1)))


_linear = Op(
    "linear",
    _linear_forward,
    (_linear_grad_x, _linear_grad_w, _linear_grad_b),
    array_vjps=(_linear_array_x, _linear_array_w, _linear_array_b),
)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one node; PyTorch's layout.

    ``x`` is ``(..., in_features)``, ``weight`` is ``(out_features, in_features)``, ``bias`` is
    ``(out_features,)`` or None. Gradients: ``g @ weight`` for x, ``g^T @ x`` (batch axes
    flattened) for weight, ``g`` summed over the batch for bias.
    """
    if not (isinstance(x, Tensor) and isinstance(weight, Tensor)):  # (parameters are Tensor subclasses)
        x, weight = lift_pair(x, weight)
    wshape, xshape = weight.data.shape, x.data.shape  # plain attributes: this runs once per layer per step
    if len(wshape) != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {wshape}")
    if not xshape or xshape[-1] != wshape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: the input's "
            f"last axis must be in_features = {weight.shape[1]} (weight is (out_features, in_features))"
        )
    if bias is None:
        return _linear(x, weight)
    if not isinstance(bias, Tensor):
        bias = lift(bias, weight)
    if bias.data.shape != wshape[:1]:
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
    return _linear(x, weight, bias)


# ------------------------------------------------------------------ cross-entropy
# The loss of row i, for class-index targets t_i, is
#     alpha_i (lse_i - z_{i,t_i}) + beta_i sum_c w_c (lse_i - z_ic)
# with lse_i = log sum_c exp(z_ic), alpha_i = (1 - s) w_{t_i} (0 for an ignored row), beta_i = s / C
# (0 for an ignored row) and class weights w (ones without ``weight``): PyTorch's weighted, label-
# smoothed cross-entropy. Its gradient is p_i (alpha_i + beta_i sum(w)) - alpha_i e_{t_i} - beta_i w.
# For probability targets q it is sum_c qw_ic (lse_i - z_ic) with qw = w ((1 - s) q + s / C).
# "mean" divides by ``denom``: sum_i w_{t_i} over the rows that count (class indices), or the
# number of rows (probabilities).
def _coef(alpha: Any, beta: Any, weight: np.ndarray | None, ncls: int) -> Any:
    """The factor on row i's log-sum-exp (and softmax): alpha_i + beta_i sum(w)."""
    if isinstance(beta, float) and beta == 0.0:
        return alpha
    return alpha + beta * (ncls if weight is None else float(weight.sum()))


def _rows(factor: Any) -> Any:
    """A per-row factor, ready to multiply a (rows, C) array."""
    return factor[..., None] if isinstance(factor, np.ndarray) else factor


def _weighted_target(t: np.ndarray, smoothing: float, weight: np.ndarray | None) -> np.ndarray:
    q = t if not smoothing else t * (1.0 - smoothing) + smoothing / t.shape[-1]
    return q if weight is None else q * weight


def _target_terms(
    t: np.ndarray, ncls: int, smoothing: float, weight: np.ndarray | None, ignore_index: int, saved: Any = None
) -> tuple[Any, Any, Any, float]:
    """index, alpha, beta and the mean's divisor (see the formulas above), read from the target
    inside the op, so a captured step reads each batch's own (and checks its class range);
    the forward leaves them in ``saved`` for the rule."""
    if saved is not None and saved.extra is not None:
        terms, saved.extra = saved.extra, None
        return terms  # type: ignore[no-any-return]
    if t.dtype.kind in "iu":
        return _index_terms(t, weight, ignore_index, smoothing, ncls, "cross_entropy")
    return None, 1.0, 0.0, float(t.size // max(ncls, 1))


def _ce_forward(
    z: np.ndarray, t: np.ndarray, reduction: str, smoothing: float, saved: _Saved | None,
    weight: np.ndarray | None, ignore_index: int,
) -> np.ndarray:  # fmt: skip
    """Cross-entropy along the last axis, from one max, one exp pass and one sum.

    Every term is built from ``z - max`` (exact near the max, so logits of 1e4 lose nothing)
    minus ``log(sum(exp(z - max)))``, a number between 0 and log(C).
    """
    ncls = z.shape[-1]
    index, alpha, beta, denom = _target_terms(t, ncls, smoothing, weight, ignore_index)
    if saved is not None:
        saved.extra = (index, alpha, beta, denom)
    shifted = np.subtract(z, np.maximum.reduce(z, axis=-1, keepdims=True), order="C")  # C order: see _softmax_array
    if index is not None:
        target_term = shifted[index]
        if not (isinstance(alpha, float) and alpha == 1.0):
            target_term = alpha * target_term
        coef = alpha
        if not (isinstance(beta, float) and beta == 0.0):
            spread = shifted.sum(axis=-1) if weight is None else shifted @ weight
            target_term = target_term + beta * spread
            coef = _coef(alpha, beta, weight, ncls)
    else:
        qw = _weighted_target(t, smoothing, weight)
        target_term = (qw * shifted).sum(axis=-1)
        coef = qw.sum(axis=-1)  # the loss is sum_c qw_c (lse - z_c) = lse * sum(qw) - <qw, z>
    np.exp(shifted, out=shifted)
    total = np.add.reduce(shifted, axis=-1)
    if saved is not None:
        shifted /= total[..., None]
        saved.value = shifted  # the softmax, kept for backward
    loss = np.log(total)
    if not (isinstance(coef, float) and coef == 1.0):
        loss = loss * coef
    loss -= target_term
    if reduction == "none":
        return loss.astype(z.dtype, copy=False)
    total_loss = np.add.reduce(loss, axis=None)  # loss.sum() without its Python frame
    if reduction == "mean":
        total_loss = total_loss / denom if denom else np.nan  # no row counts: NaN, as PyTorch
    return np.asarray(total_loss, dtype=z.dtype)


def _ce_scale(g: Tensor, reduction: str, denom: float) -> Tensor:
    """The upstream gradient as a factor for each row's term, as a graphgrad expression."""
    if reduction == "none":
        return g.expand_dims(-1)
    if reduction == "mean":
        return g * (1.0 / denom if denom else np.inf)  # no row counts: every row's factor is 0
    return g


def _ce_grad_logits(
    g: Tensor, out: Tensor, z: Tensor, t: Tensor, reduction: str, smoothing: float, saved: Any,
    weight: np.ndarray | None, ignore_index: int,
) -> Tensor:  # fmt: skip
    index, alpha, beta, denom = _target_terms(t.data, z.shape[-1], smoothing, weight, ignore_index, saved)
    p = softmax(z, axis=-1)
    if index is not None:
        q = np.zeros(z.shape, dtype=z.dtype)
        q[index] = alpha
        if not (isinstance(beta, float) and beta == 0.0):
            q += _rows(beta) * (1.0 if weight is None else weight)
        coef = _coef(alpha, beta, weight, z.shape[-1])
        grad = p * Tensor._wrap(np.asarray(_rows(coef), dtype=z.dtype)) - Tensor._wrap(q)
    else:
        qw = t if not smoothing else t * (1.0 - smoothing) + smoothing / z.shape[-1]
        if weight is not None:
            qw = qw * Tensor._wrap(weight)
        grad = p * _sum(qw, axis=-1, keepdims=True) - qw
    return grad * _ce_scale(g, reduction, denom)


def _ce_unscaled(
    z: np.ndarray, t: np.ndarray, smoothing: float, saved: Any, index: Any, alpha: Any, beta: Any,
    weight: np.ndarray | None,
) -> np.ndarray:  # fmt: skip
    """Each row's gradient before the upstream factor: p * coef - q, built in the saved softmax."""
    p = None if saved is None else saved.take()
    if p is None:
        p = _softmax_array(z, -1)
    if index is not None:
        plain = isinstance(beta, float) and beta == 0.0
        coef = alpha if plain else _coef(alpha, beta, weight, z.shape[-1])
        if not (isinstance(coef, float) and coef == 1.0):
            p *= _rows(coef)
        p[index] -= alpha  # one entry per row: no repeats
        if not plain:
            p -= _rows(beta) * (1.0 if weight is None else weight)
    else:
        qw = _weighted_target(t, smoothing, weight)
        p *= qw.sum(axis=-1, keepdims=True)
        p -= qw
    return p


def _ce_array_logits(
    g: np.ndarray, out: np.ndarray, z: np.ndarray, t: np.ndarray, reduction: str, smoothing: float,
    saved: Any, weight: np.ndarray | None, ignore_index: int,
) -> np.ndarray:  # fmt: skip
    index, alpha, beta, denom = _target_terms(t, z.shape[-1], smoothing, weight, ignore_index, saved)
    p = _ce_unscaled(z, t, smoothing, saved, index, alpha, beta, weight)
    # times the upstream factor, in place (this array is ours), with 0 * x = 0 for every x
    if reduction == "none":
        p *= g[..., None]
        zero = g == 0
        if zero.any():
            p[zero] = 0
        return p
    factor = float(g)
    if factor == 0.0:
        return np.zeros_like(p)
    if not denom and reduction == "mean":  # no row counts: the factor is infinite, rows of zeros stay 0
        return annihilating_multiply(p, np.inf if factor > 0 else -np.inf)
    p *= factor / denom if reduction == "mean" else factor
    return p


def _ce_grad_target(
    g: Tensor, out: Tensor, z: Tensor, t: Tensor, reduction: str, smoothing: float, saved: Any,
    weight: np.ndarray | None, ignore_index: int,
) -> Tensor:  # fmt: skip
    denom = float(t.data.size // max(z.shape[-1], 1))  # probability targets (the only ones with a gradient)
    # d/dq_c of sum_c qw_c (lse - z_c), with qw = w ((1 - s) q + s / C): -(1 - s) w_c log_softmax(z)_c
    grad = log_softmax(z, axis=-1) * (smoothing - 1.0)
    if weight is not None:
        grad = grad * Tensor._wrap(weight)
    return grad * _ce_scale(g, reduction, denom)


_cross_entropy = Op(
    "cross_entropy",
    _ce_forward,
    (_ce_grad_logits, _ce_grad_target),
    array_vjps=(_ce_array_logits, None),
)


def _class_weight(weight: Any, ncls: int, dtype: np.dtype, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    if isinstance(weight, Tensor):
        if weight.requires_grad:
            raise ConfigError(f"{op}: weight is a constant per class and gets no gradient; pass weight.detach()")
        weight = weight.data
    w = np.asarray(weight, dtype=dtype)
    if w.shape != (ncls,):
        raise ShapeError(f"{op}: weight must hold one value per class, shape ({ncls},); got shape {w.shape}")
    return w


def _class_target(target: Any, logits: Tensor, axis: int, ignore_index: int, op: str) -> Tensor:
    """The target as a tensor in the layout of the (class-last) logits, checked."""
    t = target if isinstance(target, Tensor) else Tensor._wrap(np.asarray(target))
    kind = t.data.dtype.kind
    shape = logits.data.shape
    rows = shape[:axis] + shape[axis + 1 :]
    if kind in "iu":
        if t.data.shape != rows:
            torch_layout = len(shape) > 2 and axis != 1 and t.data.shape == shape[:1] + shape[2:]
            raise ShapeError(
                f"{op}: integer target of shape {t.shape} does not fit logits of shape {logits.shape}: "
                f"class indices need shape {rows} (the logits without class axis {axis})"
                + ("; for PyTorch's (N, C, d1, ...) layout, classes on axis 1, pass axis=1" if torch_layout else "")
            )
        return t
    if kind != "f":
        raise DTypeError(f"{op}: target must hold class indices (int) or probabilities (float), got {t.dtype}")
    if t.shape != logits.shape:
        raise ShapeError(
            f"{op}: probability target of shape {t.shape} does not fit logits of shape {logits.shape} "
            f"(class indices must be integers, of shape {rows}; probabilities need the logits' shape)"
        )
    return _to_last(t, axis)


def _index_terms(
    t: np.ndarray, weight: np.ndarray | None, ignore_index: int, smoothing: float, ncls: int, op: str
) -> tuple[tuple[np.ndarray, ...], Any, Any, float]:
    """For class indices (checked here): the index of each row's target logit, alpha, beta and the
    mean's divisor (see the formulas above)."""
    ignored = None
    # one pass in the common case: viewed as unsigned, a negative index is a huge one
    if t.size and (np.maximum.reduce(t.view(_UNSIGNED[t.dtype.itemsize]) if t.dtype.kind == "i" else t,
                                     axis=None) >= ncls or 0 <= ignore_index < ncls):
        ignored = t == ignore_index
        if not ignored.any():
            ignored = None
        counted = t if ignored is None else t[~ignored]
        if counted.size and (counted.min() < 0 or counted.max() >= ncls):
            bad = counted.min() if counted.min() < 0 else counted.max()
            also = "" if ignore_index == -100 else f", or ignore_index {ignore_index}"
            raise DataError(f"{op}: target class {bad} is out of range for {ncls} classes (0..{ncls - 1}{also})")
    if weight is None and ignored is None:
        return _row_index(t), 1.0 - smoothing, smoothing / ncls, float(t.size)
    safe = t if ignored is None else np.where(ignored, 0, t)
    counted_rows = np.ones(t.shape) if ignored is None else (~ignored).astype(np.float64)
    row_weight = counted_rows if weight is None else weight[safe] * counted_rows
    alpha = (1.0 - smoothing) * row_weight
    beta = (smoothing / ncls) * counted_rows if smoothing else 0.0
    return _row_index(safe), alpha, beta, float(row_weight.sum())


def cross_entropy(
    logits: Any,
    target: Any,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: int = -1,
    *,
    weight: Any = None,
    ignore_index: int = -100,
) -> Tensor:
    """Softmax cross-entropy from raw logits, fused into one stable node.

    ``logits`` has classes along ``axis`` (default the last: ``(N, C)``, ``(..., C)``); for
    PyTorch's ``(N, C, d1, ...)`` layout pass ``axis=1``. ``target`` is either integer class
    indices of the logits' shape without the class axis, or probabilities (one-hot or soft)
    of the logits' shape; probabilities get a gradient, indices do not. ``label_smoothing``
    ``s`` mixes the target with the uniform distribution: ``(1 - s) q + s / C``.

    PyTorch's ``weight`` (one constant per class) scales each class's terms; rows whose target
    is ``ignore_index`` (class indices only) count for nothing. ``"mean"`` averages over the rows
    (every position but the class axis); with class indices and ``weight`` or ignored rows it is
    PyTorch's weighted mean, divided by the sum of the counted rows' target weights (NaN when
    nothing counts). The gradient with respect to the logits is ``(softmax - q) * g`` per row
    (weighted), from the softmax the forward already computed.
    """
    # one pass of checks, each cheap on the usual call (class-last float logits, integer targets)
    if reduction not in REDUCTIONS:
        _check_reduction(reduction, "cross_entropy")
    smoothing = float(label_smoothing)
    if not 0.0 <= smoothing <= 1.0:
        raise ConfigError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(logits, Tensor) and logits.data.dtype.kind == "f":
        z = logits
    else:
        z = _float_input(logits, "cross_entropy")
    zshape = z.data.shape
    last = len(zshape) - 1
    ax = last if axis == -1 and last >= 0 else _class_axis(axis, last + 1, "cross_entropy", zshape)
    ignore_index = int(ignore_index)
    t = _class_target(target, z, ax, ignore_index, "cross_entropy")
    w = None if weight is None else _class_weight(weight, zshape[ax], z.data.dtype, "cross_entropy")
    if ax != last:
        z = _to_last(z, ax)
    if ignore_index != -100 and t.data.dtype.kind not in "iu":
        raise ConfigError("cross_entropy: ignore_index applies to class-index targets, not probabilities")
    saved = _Saved() if z._requires_grad and get_mode() & RECORD else None
    return _cross_entropy(
        z, t, reduction=reduction, smoothing=smoothing, saved=saved, weight=w, ignore_index=ignore_index
    )


def nll_loss(
    log_probs: Any,
    target: Any,
    reduction: str = "mean",
    axis: int = -1,
    *,
    weight: Any = None,
    ignore_index: int = -100,
) -> Tensor:
    """Negative log-likelihood of integer class ``target`` under ``log_probs`` (e.g. log_softmax).

    ``-weight[t] * log_probs[..., t]`` per row, then reduced; classes along ``axis`` as in
    cross_entropy, and ``weight`` / ``ignore_index`` as there (the mean is PyTorch's weighted
    mean: divided by the sum of the counted rows' weights).
    """
    _check_reduction(reduction, "nll_loss")
    lp = _float_input(log_probs, "nll_loss")
    ax = _class_axis(axis, lp.ndim, "nll_loss", lp.shape)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise DTypeError(f"nll_loss: target must hold integer class indices, got dtype {t.dtype}")
    ignore_index = int(ignore_index)
    _class_target(Tensor._wrap(t), lp, ax, ignore_index, "nll_loss")  # same shape checks
    w = _class_weight(weight, lp.shape[ax], lp.data.dtype, "nll_loss")
    lp = _to_last(lp, ax)
    if get_mode() & CAPTURE:
        TRACER[0].refuse(
            "capture: nll_loss reads its targets in Python (ignored rows, class weights, the class range), "
            "so a captured step would keep the first batches' reading; use cross_entropy on the logits, "
            "or run this step without capture"
        )
    index, alpha, _, denom = _index_terms(t, w, ignore_index, 0.0, lp.shape[-1], "nll_loss")
    picked = -getitem(lp, index)
    if isinstance(alpha, np.ndarray):  # weighted or ignored rows
        picked = picked * Tensor._wrap(alpha.astype(lp.data.dtype))
    if reduction == "none":
        return picked
    total = _sum(picked)
    if reduction == "sum":
        return total
    return total * (1.0 / denom if denom else np.nan)  # the (weighted) mean; NaN when nothing counts


# ------------------------------------------------------------------ binary cross-entropy
def _softplus_neg_array(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(-x)) without overflow: max(-x, 0) + log1p(exp(-|x|))."""
    return np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))


def _bce_logits_forward(x: np.ndarray, y: np.ndarray, pw: np.ndarray | None = None) -> np.ndarray:
    if pw is None:  # max(x, 0) - x y + log1p(exp(-|x|)): each term exact where it dominates
        return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    return (1 - y) * x + (1 + (pw - 1) * y) * _softplus_neg_array(x)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) = inf for x << 0 gives the right limit, 0
        return 1.0 / (1.0 + np.exp(-x))


def _bce_logits_grad_x(g: Tensor, out: Tensor, x: Tensor, y: Tensor, pw: Tensor | None = None) -> Tensor:
    if pw is None:
        return g * (ew.sigmoid(x) - y)
    return g * ((1.0 - y) - (1.0 + (pw - 1.0) * y) * ew.sigmoid(-x))


def _bce_logits_grad_y(g: Tensor, out: Tensor, x: Tensor, y: Tensor, pw: Tensor | None = None) -> Tensor:
    if pw is None:
        return -g * x
    return g * ((pw - 1.0) * ew.softplus(-x) - x)


def _bce_logits_grad_pw(g: Tensor, out: Tensor, x: Tensor, y: Tensor, pw: Tensor) -> Tensor:
    return g * y * ew.softplus(-x)


def _bce_logits_array_x(g: np.ndarray, out: np.ndarray, x: np.ndarray, y: np.ndarray, pw: Any = None) -> np.ndarray:
    if pw is None:
        return annihilating_multiply(g, _sigmoid_array(x) - y)
    return annihilating_multiply(g, (1 - y) - (1 + (pw - 1) * y) * _sigmoid_array(-x))


def _bce_logits_array_y(g: np.ndarray, out: np.ndarray, x: np.ndarray, y: np.ndarray, pw: Any = None) -> np.ndarray:
    if pw is None:
        return annihilating_multiply(-g, x)
    return annihilating_multiply(g, (pw - 1) * _softplus_neg_array(x) - x)


def _bce_logits_array_pw(g: np.ndarray, out: np.ndarray, x: np.ndarray, y: np.ndarray, pw: np.ndarray) -> np.ndarray:
    return annihilating_multiply(g, y * _softplus_neg_array(x))


_bce_logits = Op(
    "binary_cross_entropy_with_logits",
    _bce_logits_forward,
    (_bce_logits_grad_x, _bce_logits_grad_y, _bce_logits_grad_pw),
    array_vjps=(_bce_logits_array_x, _bce_logits_array_y, _bce_logits_array_pw),
)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """``-[w y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` from logits, stable for any x.

    ``pos_weight`` ``w`` (broadcast against the last axis, as in PyTorch) weighs the positive
    term. Gradient ``sigmoid(x) - y`` (times g) without pos_weight; target and pos_weight
    get gradients too.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _float_input(logits, "binary_cross_entropy_with_logits")
    y = lift(target, x)
    _same_shape(x, y, "binary_cross_entropy_with_logits")
    if pos_weight is None:
        return _reduce(_bce_logits(x, y), reduction)
    pw = lift(pos_weight, x)
    try:
        np.broadcast_shapes(pw.shape, x.shape)
    except ValueError:
        raise ShapeError(
            f"binary_cross_entropy_with_logits: pos_weight of shape {pw.shape} does not broadcast "
            f"against logits of shape {x.shape}"
        ) from None
    return _reduce(_bce_logits(x, y, pw), reduction)


_LOG_FLOOR = -100.0  # PyTorch's clamp: log(0) counts as -100, so a confident mistake stays finite
_EPS = 1e-12


def _clamped_log(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(a), _LOG_FLOOR)


def _bce_forward(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    log_p = _clamped_log(p)
    log_q = _clamped_log(1 - p)
    return -(log_q + y * (log_p - log_q))


def _bce_grad_p(g: Tensor, out: Tensor, p: Tensor, y: Tensor) -> Tensor:
    # d/dp = (p - y) / (p (1 - p)), the denominator floored at 1e-12 as PyTorch does
    d = p * (1.0 - p)
    return g * (p - y) / ew.where(d < _EPS, _EPS, d)  # chosen by ops: a captured step repeats them


def _clamped_log_tensor(a: Tensor) -> Tensor:
    with np.errstate(divide="ignore"):
        return ew.where(a <= math.exp(_LOG_FLOOR), _LOG_FLOOR, ew.log(ew.where(a > 0, a, 1.0)))


def _bce_grad_y(g: Tensor, out: Tensor, p: Tensor, y: Tensor) -> Tensor:
    return g * (_clamped_log_tensor(1.0 - p) - _clamped_log_tensor(p))


_bce = Op("binary_cross_entropy", _bce_forward, (_bce_grad_p, _bce_grad_y))


def binary_cross_entropy(probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``-[y log p + (1 - y) log(1 - p)]`` from probabilities, each log clamped at -100 (PyTorch).

    Prefer :func:`binary_cross_entropy_with_logits` (stable without clamping). Probabilities
    outside [0, 1] are an error.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = _float_input(probs, "binary_cross_entropy")
    y = lift(target, p)
    _same_shape(p, y, "binary_cross_entropy")
    host(_check_probabilities, p)  # at every call of a captured step too
    return _reduce(_bce(p, y), reduction)


def _check_probabilities(p: np.ndarray) -> None:
    if p.size and (p.min() < 0 or p.max() > 1):
        raise DataError(
            f"binary_cross_entropy: probabilities must lie in [0, 1], got values in "
            f"[{p.min():g}, {p.max():g}]; for raw scores use binary_cross_entropy_with_logits"
        )


# ------------------------------------------------------------------ regression losses
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, reduced; both get gradients."""
    _check_reduction(reduction, "mse_loss")
    x, y = lift_pair(input, target)
    _same_shape(x, y, "mse_loss")
    d = x - y
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, reduced; the gradient at a tie is 0 (sign(0))."""
    _check_reduction(reduction, "l1_loss")
    x, y = lift_pair(input, target)
    _same_shape(x, y, "l1_loss")
    return _reduce(ew.abs(x - y), reduction)


# ------------------------------------------------------------------ dropout
_dropout = Op("dropout", np.multiply, (lambda g, out, x, m: g * m, lambda g, out, x, m: None))
_DEFAULT_RNG: list[np.random.Generator] = []


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        if not _DEFAULT_RNG:
            _DEFAULT_RNG.append(np.random.default_rng())
        return _DEFAULT_RNG[0]
    return np.random.default_rng(rng)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: Any = None, inverted: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each entry with probability ``p`` while training.

    ``inverted=True`` (PyTorch's, the default): training gives ``x * mask / (1 - p)`` so the
    expected value is unchanged, and evaluation is the identity. ``inverted=False`` is the
    lecture notes' rule: training gives ``x * mask`` and evaluation scales by the keep probability,
    ``x * (1 - p)``. ``p = 1`` drops everything (zeros, zero gradient). ``rng`` is a
    ``numpy.random.Generator`` (fresh masks on every call) or a seed (the same mask on every
    call); None uses a generator kept by this module. ``inplace=True`` (PyTorch's) writes the
    result into ``x`` and returns ``x`` (a copy of the old values is kept while a gradient is
    recorded, as for ``+=``).
    """
    return _drop(lift(x), p, training, rng, inverted, inplace, "dropout", 0)


def dropout2d(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, rng: Any = None) -> Tensor:
    """Zero whole channels of an ``(N, C, H, W)`` input, each with probability ``p``, while training.

    One draw per (sample, channel): the mask has shape ``(N, C, 1, 1)`` and the kept channels are
    scaled by ``1 / (1 - p)``; evaluation is the identity. Arguments in PyTorch's order, and ``rng``
    as :func:`dropout`'s. Unlike PyTorch, a 3-D input is refused rather than read as ``(N, C, L)``
    (PyTorch warns that it will read it as ``(C, H, W)`` later): use :func:`dropout1d` for that.
    """
    x = lift(x)
    if x.ndim != 4:
        also = "; for (N, C, L) input use dropout1d" if x.ndim == 3 else ""
        raise ShapeError(f"dropout2d: input must be (N, C, H, W), got shape {x.shape}{also}")
    return _drop(x, p, training, rng, True, inplace, "dropout2d", 2)


def dropout1d(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, rng: Any = None) -> Tensor:
    """Zero whole channels of an ``(N, C, L)`` (or unbatched ``(C, L)``) input: :func:`dropout2d`'s
    rule with a mask of shape ``(N, C, 1)`` (``(C, 1)``)."""
    x = lift(x)
    if x.ndim not in (2, 3):
        raise ShapeError(f"dropout1d: input must be (N, C, L) or (C, L), got shape {x.shape}")
    return _drop(x, p, training, rng, True, inplace, "dropout1d", 1)


def _drop(x: Tensor, p: Any, training: bool, rng: Any, inverted: bool, inplace: Any, op: str, spatial: int) -> Tensor:
    """Dropout with one mask entry per entry of ``x`` but its last ``spatial`` axes (0: every entry;
    2: every channel of an image)."""
    from graphgrad.ops.core import drawn  # here, not at the top: this block is all of nn.py the capture work touches

    unit = "an entry" if spatial == 0 else "a channel"
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{op}: p is the probability of dropping {unit} and must be in [0, 1], got {p}")
    inplace = inplace_flag(inplace, op, takes_rng=True)  # a generator passed where PyTorch puts inplace
    keep = 1.0 - p
    if p == 0.0 or (inverted and not training):
        return x  # the identity: nothing to write, in place or not
    if inplace:
        return applied(lambda t: _drop(t, p, training, rng, inverted, False, op, spatial), x, True, op)
    if not training:
        return ew.multiply(x, keep)
    dtype = x.data.dtype if x.data.dtype.kind == "f" else np.dtype(np.float32)
    scale = 1.0 / keep if inverted and keep > 0.0 else 1.0
    shape = x.shape[: x.ndim - spatial] + (1,) * spatial
    return _dropout(x, drawn(_dropout_mask, rng, shape, keep, scale, dtype))


def _dropout_mask(rng: Any, shape: tuple[int, ...], keep: float, scale: float, dtype: np.dtype) -> np.ndarray:
    """``scale`` where a uniform draw from ``rng`` falls below ``keep``, else 0. Drawn through
    :func:`core.drawn`, so a captured step draws a fresh mask from the same generator at every replay."""
    u = _generator(rng).random(shape, dtype=np.float64 if dtype == np.float64 else np.float32)
    return np.multiply(u < keep, scale, dtype=dtype)

"""Elementwise ops: arithmetic, transcendental functions, activations, comparisons, where.

Each op's NumPy forward and its VJP rules sit together. Rules receive ``(g, out, *inputs)`` as
tensors and return the gradient in the broadcast shape (the engine unbroadcasts). Rules are plain
``g * local``: where a local derivative is infinite or NaN (log, sqrt, division, powers, a branch
that ``where`` discards), the engine's rule mode makes multiply and divide treat ``0 * x`` and
``0 / x`` as 0 (:func:`annihilating_multiply`), so a zero upstream gradient stays exactly zero and
``x ** 0`` has derivative 0 at 0, with no guard in any rule.

Conventions at points where a derivative does not exist (each op's docstring repeats its own):
at 0, abs and relu have gradient 0, leaky_relu ``negative_slope`` and elu ``alpha`` (the x < 0
side); sign has gradient 0 everywhere; maximum / minimum split the gradient evenly between tied
operands; clip passes the gradient at the bounds themselves (gradient 1 for a_min <= x <= a_max).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.ops.core import Op, _constant, applied, lift, lift_pair
from graphgrad.tensor import Tensor

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "negative",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "square",
    "reciprocal",
    "abs",
    "sign",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "maximum",
    "minimum",
    "clip",
    "astype",
    "where",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
]
NON_DIFFERENTIABLE = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")


# ------------------------------------------------------------------ the rule-mode products
def _clean(result: Any) -> bool:
    """Whether a ufunc's result holds no NaN: one reduction (NaN propagates through a sum; a sum that
    is NaN without one, inf - inf, only costs the exact check that follows). NumPy scalars (from 0-d
    operands) are compared directly."""
    if result.__class__ is not np.ndarray:
        return bool(result == result)
    if result.dtype.kind != "f" or not result.size:
        return True
    total = np.add.reduce(result, axis=None)
    return bool(total == total)


def _annihilate(out: Any, zero: np.ndarray) -> np.ndarray:
    """``out`` (which holds a NaN) with its NaN entries set to 0 where ``zero`` holds."""
    out = np.asarray(out)
    bad = np.isnan(out) & zero
    if out.ndim == 0 or not out.flags.writeable:
        return np.where(bad, np.zeros((), out.dtype), out)
    out[bad] = 0
    return out


def annihilating_multiply(a: Any, b: Any, out: np.ndarray | None = None) -> Any:
    """``a * b`` with ``0 * x = 0`` for every x (inf and NaN included): multiply's forward while
    the engine applies rules, so a zero gradient annihilates whatever it meets. ``out`` as NumPy's
    (``out=a`` is allowed: then ``a``'s zeros are noted before the product overwrites them). Like
    NumPy, gives a NumPy scalar for 0-d operands."""
    zero_a = a == 0 if out is not None and out is a else None
    result = np.multiply(a, b) if out is None else np.multiply(a, b, out=out)  # (no keyword to parse)
    if result == result if result.__class__ is not np.ndarray else _clean(result):  # scalars: no call
        return result
    zero = (np.asarray(a) == 0 if zero_a is None else zero_a) | (np.asarray(b) == 0)
    return _annihilate(result, zero)


def annihilating_divide(a: Any, b: Any) -> Any:
    """``a / b`` with ``0 / x = 0`` for every x (0, inf and NaN included): divide's rule-mode forward."""
    result = np.true_divide(a, b)
    if _clean(result):
        return result
    return _annihilate(result, np.asarray(a) == 0)


# ------------------------------------------------------------------ arithmetic
_add = Op("add", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g))
_subtract = Op("subtract", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g))
# multiply also declares its rules on arrays (the engine's fast path in an ordinary backward): the
# same products, without a Tensor and an op call per gradient, most of a scalar chain's cost
_multiply = Op(
    "multiply",
    np.multiply,
    (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a),
    array_vjps=(lambda g, out, a, b: annihilating_multiply(g, b), lambda g, out, a, b: annihilating_multiply(g, a)),
    zero_safe_forward=annihilating_multiply,
)
_divide = Op(
    "divide",
    np.true_divide,
    (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * out / b),
    zero_safe_forward=annihilating_divide,
)


# ------------------------------------------------------------------ comparisons
# (above the rules below that choose per entry with them: a plan repeats these ops)
def _comparison(name: str, fn: Any) -> Callable[[Any, Any], Tensor]:
    op = Op(name, fn, None)

    def compare(a: Any, b: Any) -> Tensor:
        return op(*lift_pair(a, b))

    compare.__name__ = name
    compare.__doc__ = f"Elementwise {name.replace('_', ' ')} (a boolean tensor; no gradient)."
    return compare


equal = _comparison("equal", np.equal)
not_equal = _comparison("not_equal", np.not_equal)
less = _comparison("less", np.less)
less_equal = _comparison("less_equal", np.less_equal)
greater = _comparison("greater", np.greater)
greater_equal = _comparison("greater_equal", np.greater_equal)


def _pow_grad_base(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # b a^(b-1): at b = 0 this is 0 * a^-1, which rule mode makes 0 (also at a = 0)
    return g * (b * power(a, b - 1.0))


def _pow_grad_exponent(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # a^b log a: at a = 0 (b > 0) this is 0 * -inf, which rule mode makes 0; at a = 0, b = 0 it
    # would be 1 * -inf, taken as 0 as PyTorch does (0^b is 0 for every b > 0)
    local = out * log(a)
    return g * where(equal(a, 0.0), where(greater_equal(b, 0.0), 0.0, local), local)


_power = Op("power", np.power, (_pow_grad_base, _pow_grad_exponent))
_negative = Op("negative", np.negative, (lambda g, out, a: -g,))


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting."""
    return _add(*lift_pair(a, b))


def subtract(a: Any, b: Any) -> Tensor:
    """a - b, broadcasting."""
    return _subtract(*lift_pair(a, b))


def multiply(a: Any, b: Any) -> Tensor:
    """a * b, broadcasting."""
    return _multiply(*lift_pair(a, b))


def divide(a: Any, b: Any) -> Tensor:
    """a / b (true division), broadcasting."""
    return _divide(*lift_pair(a, b))


def power(a: Any, b: Any) -> Tensor:
    """a ** b; the exponent may be a tensor too (its gradient is a^b log a)."""
    return _power(*lift_pair(a, b))


def negative(a: Any) -> Tensor:
    """-a."""
    return _negative(lift(a))


# ------------------------------------------------------------------ transcendental
_exp = Op("exp", np.exp, (lambda g, out, a: g * out,))
_log = Op("log", np.log, (lambda g, out, a: g / a,))


def exp(x: Any) -> Tensor:
    """e ** x."""
    return _exp(lift(x))


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return _log(lift(x))


_log1p = Op("log1p", np.log1p, (lambda g, out, a: g / (a + 1.0),))
_sqrt = Op("sqrt", np.sqrt, (lambda g, out, a: g * 0.5 / out,))
_square = Op("square", np.square, (lambda g, out, a: g * (a * 2.0),))
_reciprocal = Op("reciprocal", lambda a: np.divide(1.0, a), (lambda g, out, a: g * -(out * out),))


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x; gradient 1 / (1 + x)."""
    return _log1p(lift(x))


def sqrt(x: Any) -> Tensor:
    """Square root; gradient 1 / (2 sqrt(x)) (inf at 0, kept 0 where the upstream gradient is 0)."""
    return _sqrt(lift(x))


def square(x: Any) -> Tensor:
    """x * x in one pass; gradient 2x."""
    return _square(lift(x))


def reciprocal(x: Any) -> Tensor:
    """1 / x (true division, so integer input gives floats); gradient -1 / x^2."""
    return _reciprocal(lift(x))


def _sign_rule(g: Tensor, out: Tensor, a: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros_like(g.data))


_abs = Op("abs", np.abs, (lambda g, out, a: g * sign(a),))
_sign = Op("sign", np.sign, (_sign_rule,))


def abs(x: Any) -> Tensor:  # noqa: A001 (NumPy's name)
    """|x|; gradient sign(x), so 0 at x = 0 (a subgradient)."""
    return _abs(lift(x))


def sign(x: Any) -> Tensor:
    """-1, 0 or 1; piecewise constant, so its gradient is 0 everywhere (also at the jump at 0)."""
    return _sign(lift(x))


_sin = Op("sin", np.sin, (lambda g, out, a: g * cos(a),))
_cos = Op("cos", np.cos, (lambda g, out, a: g * -sin(a),))


def sin(x: Any) -> Tensor:
    """Sine (radians)."""
    return _sin(lift(x))


def cos(x: Any) -> Tensor:
    """Cosine (radians)."""
    return _cos(lift(x))


# ------------------------------------------------------------------ activations
def _sigmoid_forward(a: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-x) is accurate everywhere; for x << 0, e^-x overflows to inf and 1 / inf is
    # the right limit 0, so only the overflow warning needs silencing. One buffer, four passes.
    t = np.negative(a, out=np.empty_like(a, dtype=a.dtype if a.dtype.kind == "f" else np.float64))
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    np.add(t, 1.0, out=t)
    return np.reciprocal(t, out=t)


_ZEROS = 1 << 16  # entries per piece of a ReLU: 256 KiB of float32, one zeros array for all
_PIECES_FROM = 1 << 14  # smaller arrays: NumPy's own maximum is quicker than the pieces' Python


def _memory_order(a: np.ndarray) -> np.ndarray | None:
    """The entries of ``a`` as one flat view in the order memory holds them (any axis order:
    convolutions hand out (C, H, W, N) memory seen as (N, C, H, W)), or None if they have gaps."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    moved = a.transpose(sorted(range(a.ndim), key=lambda i: a.strides[i], reverse=True))
    return moved.reshape(-1) if moved.flags.c_contiguous else None


def _relu_forward(a: np.ndarray) -> np.ndarray:
    """``max(a, 0)``. NumPy's maximum of an array and a number runs its loop without vector
    instructions (float32: 2-2.5x slower than against an array of zeros, NumPy 2.4 on x86-64), so
    floats in one block of memory are compared a piece at a time with one read-only array of zeros."""
    flat = _memory_order(a) if a.dtype.kind == "f" and a.size >= _PIECES_FROM else None
    if flat is None:
        return np.maximum(a, 0)  # type: ignore[no-any-return]
    out = np.empty_like(a)  # a's memory layout
    into = _memory_order(out)
    assert into is not None
    zeros = _constant(0, a.dtype, (_ZEROS,)).data
    for start in range(0, flat.size, _ZEROS):
        stop = min(flat.size, start + _ZEROS)
        np.maximum(flat[start:stop], zeros[: stop - start], out=into[start:stop])
    return out


_tanh = Op("tanh", np.tanh, (lambda g, out, a: g * (1.0 - out * out),))
_sigmoid = Op("sigmoid", _sigmoid_forward, (lambda g, out, a: g * (out * (1.0 - out)),))
_relu = Op(
    "relu",
    _relu_forward,
    (lambda g, out, a: where(greater(out, 0.0), g, 0.0),),
    array_vjps=(lambda g, out, a: np.multiply(g, out > 0),),  # every MLP's hot path (np.where is 3x slower)
)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent; gradient 1 - tanh(x)^2 from the saved output."""
    return _tanh(lift(x))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), with no overflow warning for large |x|; gradient s (1 - s)."""
    return _sigmoid(lift(x))


def relu(x: Any, inplace: bool = False) -> Tensor:
    """max(x, 0); gradient 1 for x > 0 and 0 for x <= 0 (0 at the kink).

    ``inplace=True`` (PyTorch's) writes the result into ``x`` and returns ``x``; while a gradient is
    recorded graphgrad keeps a copy of the old values for it (as for ``+=``), so nothing is saved.
    """
    return applied(_relu, x, inplace, "relu")


def _leaky_forward(a: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(a > 0, a, a * negative_slope)


def _leaky_rule(g: Tensor, out: Tensor, a: Tensor, negative_slope: float) -> Tensor:
    return where(greater(a, 0.0), g, g * negative_slope)


_leaky_relu = Op("leaky_relu", _leaky_forward, (_leaky_rule,))


def leaky_relu(x: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, ``negative_slope * x`` otherwise; gradient ``negative_slope`` at 0.

    ``inplace=True`` (PyTorch's) writes the result into ``x`` and returns ``x``; while a gradient is
    recorded graphgrad keeps a copy of the old values for it (as for ``+=``), so nothing is saved.
    """
    slope = float(negative_slope)
    return applied(lambda t: _leaky_relu(t, negative_slope=slope), x, inplace, "leaky_relu")


def _elu_forward(a: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0)))


def _elu_rule(g: Tensor, out: Tensor, a: Tensor, alpha: float) -> Tensor:
    # for x <= 0 the derivative alpha e^x equals out + alpha: no second exp
    return where(greater(a, 0.0), g, g * (out + alpha))


_elu = Op("elu", _elu_forward, (_elu_rule,))


def elu(x: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, ``alpha (e^x - 1)`` otherwise; gradient ``alpha`` at 0 (the x < 0 side).

    ``inplace=True`` (PyTorch's) writes the result into ``x`` and returns ``x``; while a gradient is
    recorded graphgrad keeps a copy of the old values for it (as for ``+=``), so nothing is saved.
    """
    a = float(alpha)
    return applied(lambda t: _elu(t, alpha=a), x, inplace, "elu")


def _softplus_forward(a: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    ba = a * beta if beta != 1.0 else a
    soft = np.logaddexp(0.0, ba)  # log(1 + e^(beta x)) without overflow
    if beta != 1.0:
        soft = soft / beta
    return np.where(ba > threshold, a, soft).astype(soft.dtype, copy=False)


def _softplus_rule(g: Tensor, out: Tensor, a: Tensor, beta: float, threshold: float) -> Tensor:
    ba = a * beta if beta != 1.0 else a
    return where(greater(ba, threshold), g, g * sigmoid(ba))


_softplus = Op("softplus", _softplus_forward, (_softplus_rule,))


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^(beta x)) / beta``, stable for any x; x itself where ``beta x > threshold``.

    As in PyTorch, above the threshold the op is the identity (gradient 1); below, the gradient
    is sigmoid(beta x).
    """
    if beta <= 0:
        raise ConfigError(f"softplus: beta must be positive, got {beta}")
    return _softplus(lift(x), beta=float(beta), threshold=float(threshold))


# ------------------------------------------------------------------ erf and gelu
_SPLIT = {8: 2.5, 4: 2.0}  # |x| below: power series for erf; above: continued fraction for erfc
_TERMS = {8: 36, 4: 20}  # per float size: < 1e-15 absolute error in float64, float32 rounding in float32
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_COEFFS = [1.0]
for _n in range(1, 37):
    _SERIES_COEFFS.append(_SERIES_COEFFS[-1] / (2 * _n + 1))  # 1 / (2n+1)!!


def _erf_series(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) x e^(-x^2) sum_n (2x^2)^n / (2n+1)!!: all terms positive, no cancellation."""
    n_terms = _TERMS.get(x.dtype.itemsize, 36)
    t = 2.0 * x * x
    s = np.full_like(x, _SERIES_COEFFS[n_terms])
    for n in range(n_terms - 1, -1, -1):  # Horner in t
        s *= t
        s += _SERIES_COEFFS[n]
    return _TWO_OVER_SQRT_PI * x * np.exp(-x * x) * s


def _erfc_fraction(x: np.ndarray) -> np.ndarray:
    """erfc(x) for large x by Laplace's continued fraction e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + ...)))."""
    f = x.copy()
    for k in range(_TERMS.get(x.dtype.itemsize, 36), 0, -1):
        np.divide(k / 2, f, out=f)
        f += x
    return np.exp(-x * x) / (math.sqrt(math.pi) * f)


def _split(x: np.ndarray) -> float:
    return _SPLIT.get(x.dtype.itemsize, 2.5)


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function on an array, to about 1e-16 absolute in float64 (NumPy has no erf)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    small = np.abs(x) < _split(x)
    if small.all():
        return _erf_series(x)
    out = np.empty_like(x)
    out[small] = _erf_series(x[small])
    big = ~small
    if big.any():
        xb = x[big]
        with np.errstate(invalid="ignore"):  # NaN inputs stay NaN
            out[big] = np.sign(xb) * (1.0 - _erfc_fraction(np.abs(xb)))
    return out


def erfc_array(x: np.ndarray) -> np.ndarray:
    """1 - erf(x) on an array, with relative accuracy in the far right tail (where 1 - erf cancels)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    small = np.abs(x) < _split(x)
    if small.all():
        return 1.0 - _erf_series(x)
    out = np.empty_like(x)
    out[small] = 1.0 - _erf_series(x[small])
    right = x >= _split(x)
    out[right] = _erfc_fraction(x[right])
    left = ~(small | right)
    if left.any():
        with np.errstate(invalid="ignore"):
            out[left] = 2.0 - _erfc_fraction(-x[left])
    return out


_erfc = Op("erfc", erfc_array, (lambda g, out, a: g * (exp(-(a * a)) * -_TWO_OVER_SQRT_PI),))
"""Internal: the Gaussian CDF inside gelu's rule needs a differentiable erfc (not a public op)."""

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


def _gelu_forward(a: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * a * (1.0 + np.tanh(_TANH_K * (a + _TANH_C * a * a * a)))
    return 0.5 * a * erfc_array(a * -_SQRT_HALF)  # x Phi(x), accurate for x << 0 too


def _gelu_rule(g: Tensor, out: Tensor, a: Tensor, approximate: str) -> Tensor:
    if approximate == "tanh":
        a2 = a * a
        t = tanh((a + a2 * a * _TANH_C) * _TANH_K)
        inner = (a2 * (3.0 * _TANH_C) + 1.0) * _TANH_K
        return g * ((t + 1.0) * 0.5 + a * (1.0 - t * t) * inner * 0.5)
    cdf = _erfc(a * -_SQRT_HALF) * 0.5
    pdf = exp(a * a * -0.5) * _INV_SQRT_2PI
    return g * (cdf + a * pdf)


_gelu = Op("gelu", _gelu_forward, (_gelu_rule,))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x) (Phi: the standard normal CDF, via a float64-accurate erf), or with
    ``approximate="tanh"`` the tanh approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    if approximate not in ("none", "tanh"):
        raise ConfigError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu(lift(x), approximate=approximate)


# ------------------------------------------------------------------ maximum, minimum, clip
def share(wins: Tensor, tie: Tensor, dtype: np.dtype) -> Tensor:
    """An operand's share of the gradient: 1 where it wins, 1/2 where tied, 0 where it loses; from
    comparison ops, so a captured step compares again at each call (maximum, fmax, max)."""
    return where(tie, 0.5, astype(wins, dtype))


def _extreme_rule(first_wins: Callable[[Any, Any], Tensor], first: bool) -> Any:
    def rule(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
        wins = first_wins(a, b) if first else first_wins(b, a)
        return g * share(wins, a == b, g.data.dtype)

    return rule


_maximum = Op("maximum", np.maximum, (_extreme_rule(greater, True), _extreme_rule(greater, False)))
_minimum = Op("minimum", np.minimum, (_extreme_rule(less, True), _extreme_rule(less, False)))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise larger of ``a`` and ``b``, broadcasting.

    The gradient goes to the larger operand; where ``a == b`` each gets half of it (so the sum of
    their gradients is still the upstream gradient, as for max(x, x) = x).
    """
    return _maximum(*lift_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise smaller of ``a`` and ``b``, broadcasting; ties split the gradient evenly (see maximum)."""
    return _minimum(*lift_pair(a, b))


def _clip_rule(g: Tensor, out: Tensor, a: Tensor, a_min: Any, a_max: Any) -> Tensor:
    if a_min is not None:
        g = where(greater_equal(a, a_min), g, 0.0)
    if a_max is not None:
        g = where(less_equal(a, a_max), g, 0.0)
    return g


_clip = Op("clip", lambda a, a_min, a_max: np.clip(a, a_min, a_max), (_clip_rule,))


def _clip_bound(bound: Any, x: Tensor, which: str) -> Any:
    if bound is None:
        return None
    if isinstance(bound, Tensor):
        if bound.requires_grad:
            raise ConfigError(
                f"clip: {which} gets no gradient; use maximum/minimum for a bound that must learn"
            )
        bound = bound.data
    if isinstance(bound, np.ndarray) and x.data.dtype.kind == "f":
        return bound.astype(x.data.dtype, copy=False)  # no silent upcast of x
    return bound


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Limit values to ``[a_min, a_max]`` (either may be None; bounds are constants, no gradient).

    Gradient 1 where ``a_min <= x <= a_max`` (the bounds themselves included, as in PyTorch's
    clamp) and 0 strictly outside. With both bounds None, ``x`` is returned unchanged.
    """
    x = lift(x)
    if a_min is None and a_max is None:
        return x
    return _clip(x, a_min=_clip_bound(a_min, x, "a_min"), a_max=_clip_bound(a_max, x, "a_max"))


_astype = Op(
    "astype",
    lambda a, dtype: a.astype(dtype, copy=False),
    (lambda g, out, a, dtype: g.astype(a.data.dtype),),
)


def astype(x: Any, dtype: Any) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype."""
    x = lift(x)
    dtype = np.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    return _astype(x, dtype=dtype)


# ------------------------------------------------------------------ where


def _where_forward(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(cond, a, b)


_where = Op(
    "where",
    _where_forward,
    (
        None,  # the condition carries no gradient (it never requires one)
        lambda g, out, c, a, b: where(c, g, 0.0),
        lambda g, out, c, a, b: where(c, 0.0, g),
    ),
)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; the branch not taken gets exactly 0 gradient."""
    cond = lift(condition)
    if cond.data.dtype != np.bool_:
        cond = not_equal(cond, 0)
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        a = lift(a)
        b = lift(b, a)
    else:
        b = lift(b)
        a = lift(a, b)
    return _where(cond, a, b)

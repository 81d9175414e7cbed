"""Elementwise ops: arithmetic, transcendental functions, activations, comparisons, where.

Each op's NumPy forward and its VJP rules sit together. Rules receive ``(g, out, *inputs)`` as
tensors and return the gradient in the broadcast shape (the engine unbroadcasts). Where a local
derivative can be infinite or NaN (log, sqrt, division, powers), the rule multiplies with
:func:`_times`, which keeps a zero upstream gradient zero: so ``where(x > 0, sqrt(x), 0)`` gives a
zero gradient, not NaN, at x < 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.ops.core import Op, lift, lift_pair
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


def _times(g: Tensor, d: Tensor) -> Tensor:
    """``g * d``, except exactly 0 where ``g`` is 0 (even if ``d`` is inf or NaN there)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return where(g.data == 0, 0.0, g * d) if not np.all(np.isfinite(d.data)) else g * d


# ------------------------------------------------------------------ arithmetic
_add = Op("add", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g))
_subtract = Op("subtract", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g))
_multiply = Op("multiply", np.multiply, (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a))
_divide = Op(
    "divide",
    np.true_divide,
    (
        lambda g, out, a, b: _times(g, 1.0 / b),
        lambda g, out, a, b: _times(g, -out / b),
    ),
)


def _pow_grad_base(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return _times(g, b * power(a, b - 1.0))


def _pow_grad_exponent(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # d(a^b)/db = a^b log a; at a = 0 the product is 0 (for b > 0), which where() keeps finite
    with np.errstate(divide="ignore", invalid="ignore"):
        return _times(g, where(a.data == 0, 0.0, out * log(a)))


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
_log = Op("log", np.log, (lambda g, out, a: _times(g, 1.0 / a),))


def exp(x: Any) -> Tensor:
    """e ** x."""
    return _exp(lift(x))


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return _log(lift(x))


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


# ------------------------------------------------------------------ comparisons and where
def _comparison(name: str, fn: Any) -> Any:
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
        cond = Tensor._wrap(cond.data != 0)
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        a = lift(a)
        b = lift(b, a)
    else:
        b = lift(b)
        a = lift(a, b)
    return _where(cond, a, b)

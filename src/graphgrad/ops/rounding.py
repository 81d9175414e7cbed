"""Rounding and piecewise ops: floor, ceil, round, fabs, remainder (mod), fmax, fmin, nan_to_num.

Conventions where a derivative does not exist: floor, ceil and round are piecewise constant, so
their gradient is 0 everywhere (the jumps included); remainder's gradient is 1 for ``a`` and
``-floor(a / b)`` for ``b`` (the jumps at multiples of ``b`` take the right-hand side's value);
fmax and fmin split the gradient evenly between tied operands, as maximum and minimum do, and
give all of it to the operand that is not NaN; nan_to_num passes the gradient where ``x`` is
finite and gives 0 to the entries it replaced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.ops.core import Op, lift, lift_pair
from graphgrad.ops.elementwise import abs, astype, greater, less, share, where
from graphgrad.tensor import Tensor

__all__ = ["floor", "ceil", "round", "fabs", "remainder", "mod", "fmax", "fmin", "nan_to_num"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _zero_rule(g: Tensor, out: Tensor, a: Tensor, **params: Any) -> Tensor:
    return Tensor._wrap(np.zeros_like(g.data))


_floor = Op("floor", np.floor, (_zero_rule,))
_ceil = Op("ceil", np.ceil, (_zero_rule,))
_round = Op("round", lambda a, decimals: np.round(a, decimals), (_zero_rule,))


def floor(x: Any) -> Tensor:
    """The largest integer <= x (as a float); piecewise constant, so its gradient is 0."""
    return _floor(lift(x))


def ceil(x: Any) -> Tensor:
    """The smallest integer >= x (as a float); gradient 0."""
    return _ceil(lift(x))


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001 (NumPy's name)
    """Round to ``decimals`` places, halves to even, as ``numpy.round``; gradient 0."""
    return _round(lift(x), decimals=int(decimals))


def fabs(x: Any) -> Tensor:
    """|x| as a float (integers become float64, as in NumPy); gradient sign(x), 0 at 0."""
    x = lift(x)
    if x.data.dtype.kind not in "fc":
        x = astype(x, np.float64)
    return abs(x)


def _remainder_grad_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # a mod b = a - b floor(a / b); the quotient is piecewise constant: a constant here
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.floor_divide(a.data, b.data)
    return g * -Tensor._wrap(quotient.astype(g.data.dtype, copy=False))


_remainder = Op("remainder", np.remainder, (lambda g, out, a, b: g, _remainder_grad_b))


def remainder(a: Any, b: Any) -> Tensor:
    """a mod b with the sign of ``b`` (Python's ``%``), broadcasting, as ``numpy.remainder``.

    Gradients 1 for ``a`` and -floor(a / b) for ``b`` (piecewise; see the module's conventions).
    """
    return _remainder(*lift_pair(a, b))


mod = remainder
"""NumPy's other name for :func:`remainder` (the same function)."""


def _first_share(first_wins: Any) -> Any:
    """Rules of fmax/fmin: ``a`` gets its share (1 if it wins or ``b`` is NaN, 1/2 on a tie), ``b`` the rest."""

    def first(a: Tensor, b: Tensor, dtype: np.dtype) -> Tensor:
        return share(where(b != b, True, first_wins(a, b)), a == b, dtype)  # b != b: b is NaN

    def rule_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return g * first(a, b, g.data.dtype)

    def rule_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return g * (1.0 - first(a, b, g.data.dtype))

    return (rule_a, rule_b)


_fmax = Op("fmax", np.fmax, _first_share(greater))
_fmin = Op("fmin", np.fmin, _first_share(less))


def fmax(a: Any, b: Any) -> Tensor:
    """Elementwise larger of ``a`` and ``b`` ignoring NaN (NaN only where both are), broadcasting.

    The gradient goes to the operand chosen; ties split it evenly, as for :func:`maximum`.
    """
    return _fmax(*lift_pair(a, b))


def fmin(a: Any, b: Any) -> Tensor:
    """Elementwise smaller of ``a`` and ``b`` ignoring NaN; gradient as for :func:`fmax`."""
    return _fmin(*lift_pair(a, b))


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:
    """NaN and +-inf replaced by ``nan``, ``posinf`` and ``neginf`` (NumPy's defaults: 0 and the
    largest finite values). The gradient passes where ``x`` was finite; replaced entries get 0.

    ``copy`` is accepted for NumPy's signature; the result is always a new tensor.
    """
    x = lift(x)
    if x.data.dtype.kind != "f":  # integers hold no NaN or inf; complex numbers: part by part, in NumPy
        return where(np.isfinite(x.data), x, np.nan_to_num(x.data, nan=nan, posinf=posinf, neginf=neginf))
    # the mask and the replacements by ops (a captured step finds each batch's NaN and inf)
    big = float(np.finfo(x.data.dtype).max)
    top, bottom, nan_value = (lift(big if posinf is None else posinf, x), lift(-big if neginf is None else neginf, x),
                              lift(nan, x))
    replaced = where(x != x, nan_value, where(x > 0, top, bottom))  # comparisons: no gradient flows there
    return where(abs(x) < np.inf, x, replaced)  # false for inf and NaN

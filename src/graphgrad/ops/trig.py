"""Trigonometric and hyperbolic ops, their inverses, hypot, sinc and angle conversion.

Each op's NumPy forward and its VJP rules sit together; rules are written with graphgrad ops,
so they can be differentiated again. Conventions where a derivative does not exist: ``arctan2``
and ``hypot`` have gradient 0 at the origin (0, 0) (the subgradient, as for a norm at 0); the
inverse functions at the ends of their domain (arcsin, arccos at +-1; arccosh at 1; arctanh at
+-1) have an infinite derivative, and the gradient is inf there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.ops.core import Op, lift, lift_pair
from graphgrad.ops.elementwise import cos, multiply, sin, sqrt, where
from graphgrad.tensor import Tensor

__all__ = [
    "tan",
    "sinh",
    "cosh",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "arcsinh",
    "arccosh",
    "arctanh",
    "hypot",
    "sinc",
    "deg2rad",
    "rad2deg",
]
NON_DIFFERENTIABLE: tuple[str, ...] = ()

# ------------------------------------------------------------------ circular
_tan = Op("tan", np.tan, (lambda g, out, a: g * (1.0 + out * out),))
_arcsin = Op("arcsin", np.arcsin, (lambda g, out, a: g / sqrt(1.0 - a * a),))
_arccos = Op("arccos", np.arccos, (lambda g, out, a: -g / sqrt(1.0 - a * a),))
_arctan = Op("arctan", np.arctan, (lambda g, out, a: g / (1.0 + a * a),))


def tan(x: Any) -> Tensor:
    """Tangent (radians); gradient 1 + tan(x)^2, from the saved output."""
    return _tan(lift(x))


def arcsin(x: Any) -> Tensor:
    """Inverse sine on [-1, 1]; gradient 1 / sqrt(1 - x^2) (inf at +-1)."""
    return _arcsin(lift(x))


def arccos(x: Any) -> Tensor:
    """Inverse cosine on [-1, 1]; gradient -1 / sqrt(1 - x^2) (-inf at +-1)."""
    return _arccos(lift(x))


def arctan(x: Any) -> Tensor:
    """Inverse tangent; gradient 1 / (1 + x^2)."""
    return _arctan(lift(x))


def _over_radius_squared(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """``c / (a^2 + b^2)``, 0 at the origin (where the rules' numerator ``c`` is 0 too). Where the sum
    of squares leaves the normal range (|a|, |b| near 1e-160 or 1e160 in float64) it is
    ``(c / r) / r`` with ``r = hypot(a, b)``, which neither underflows nor overflows; elsewhere the
    plain quotient (its bits). Chosen per entry by ops, so a captured step repeats the choice."""
    r2 = a * a + b * b
    finfo = np.finfo(r2.data.dtype if r2.data.dtype.kind == "f" else np.float64)
    normal = where(r2 >= float(finfo.tiny), r2, np.inf) <= float(finfo.max)  # tiny <= r2 <= max
    r = hypot(a, b)
    r = where(r == 0, 1.0, r)
    return where(normal, c / where(normal, r2, 1.0), (c / r) / r)


def _arctan2_grad_y(g: Tensor, out: Tensor, y: Tensor, x: Tensor) -> Tensor:
    return g * _over_radius_squared(y, x, x)  # x / (x^2 + y^2)


def _arctan2_grad_x(g: Tensor, out: Tensor, y: Tensor, x: Tensor) -> Tensor:
    return g * _over_radius_squared(y, x, -y)


_arctan2 = Op("arctan2", np.arctan2, (_arctan2_grad_y, _arctan2_grad_x))


def arctan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y) in (-pi, pi], broadcasting, as ``numpy.arctan2(y, x)``.

    Gradients x / (x^2 + y^2) for y and -y / (x^2 + y^2) for x; 0 at the origin, where the angle
    jumps (a documented convention: PyTorch gives NaN there).
    """
    return _arctan2(*lift_pair(y, x))


# ------------------------------------------------------------------ hyperbolic
_sinh = Op("sinh", np.sinh, (lambda g, out, a: g * cosh(a),))
_cosh = Op("cosh", np.cosh, (lambda g, out, a: g * sinh(a),))
_arcsinh = Op("arcsinh", np.arcsinh, (lambda g, out, a: g / sqrt(a * a + 1.0),))
_arccosh = Op("arccosh", np.arccosh, (lambda g, out, a: g / (sqrt(a - 1.0) * sqrt(a + 1.0)),))
_arctanh = Op("arctanh", np.arctanh, (lambda g, out, a: g / (1.0 - a * a),))


def sinh(x: Any) -> Tensor:
    """Hyperbolic sine; gradient cosh(x)."""
    return _sinh(lift(x))


def cosh(x: Any) -> Tensor:
    """Hyperbolic cosine; gradient sinh(x)."""
    return _cosh(lift(x))


def arcsinh(x: Any) -> Tensor:
    """Inverse hyperbolic sine; gradient 1 / sqrt(x^2 + 1)."""
    return _arcsinh(lift(x))


def arccosh(x: Any) -> Tensor:
    """Inverse hyperbolic cosine on [1, inf); gradient 1 / sqrt(x^2 - 1) (inf at 1)."""
    return _arccosh(lift(x))


def arctanh(x: Any) -> Tensor:
    """Inverse hyperbolic tangent on (-1, 1); gradient 1 / (1 - x^2)."""
    return _arctanh(lift(x))


# ------------------------------------------------------------------ hypot, sinc
def _hypot_rule(first: bool) -> Any:
    def rule(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
        r = where(out == 0, 1.0, out)  # compared by an op, not in Python: a captured step repeats it
        return g * ((a if first else b) / r)  # the operand is 0 at the origin: gradient 0

    return rule


_hypot = Op("hypot", np.hypot, (_hypot_rule(True), _hypot_rule(False)))


def hypot(a: Any, b: Any) -> Tensor:
    """sqrt(a^2 + b^2) without overflow, broadcasting; gradients a / out and b / out, 0 at the origin."""
    return _hypot(*lift_pair(a, b))


_SERIES_BELOW = 0.1  # |pi x| below this: sinc'(x) from its Taylor series (no cancellation)


def _sinc_slope(u: Tensor) -> Tensor:
    """d/du (sin u / u) for u = pi x, with graphgrad ops (so sinc's second derivative is right too).

    (cos u - sin u / u) / u cancels near 0; there the odd series -u/3 + u^3/30 - u^5/840 + u^7/45360
    (next term below 3e-16 for |u| < 0.1) is used instead. Both are computed and ``where`` picks
    per entry, by a comparison op: a captured step repeats the choice for every batch.
    """
    small = abs(u) < _SERIES_BELOW
    u2 = u * u
    series = u * (u2 * (u2 * (u2 * (1.0 / 45360) - 1.0 / 840) + 1.0 / 30) - 1.0 / 3)
    safe = where(small, 1.0, u)
    closed = (cos(safe) - sin(safe) / safe) / safe
    return where(small, series, closed)


_sinc = Op("sinc", np.sinc, (lambda g, out, a: g * (_sinc_slope(a * math.pi) * math.pi),))


def sinc(x: Any) -> Tensor:
    """The normalized sinc, sin(pi x) / (pi x) with sinc(0) = 1, as ``numpy.sinc``; smooth at 0."""
    return _sinc(lift(x))


def deg2rad(x: Any) -> Tensor:
    """Degrees to radians: x * (pi / 180), the same product NumPy computes."""
    return multiply(x, math.pi / 180.0)


def rad2deg(x: Any) -> Tensor:
    """Radians to degrees: x * (180 / pi)."""
    return multiply(x, 180.0 / math.pi)

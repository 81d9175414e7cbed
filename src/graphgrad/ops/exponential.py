"""Exponentials and logarithms beyond exp/log: expm1, exp2, log2, log10, logaddexp, logaddexp2.

Each op's NumPy forward and its VJP rules sit together; rules reuse the saved output where it is
the derivative (expm1, exp2) and are written with graphgrad ops, so they differentiate again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.ops.core import Op, lift, lift_pair
from graphgrad.ops.elementwise import exp
from graphgrad.tensor import Tensor

__all__ = ["expm1", "exp2", "log2", "log10", "logaddexp", "logaddexp2"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

_expm1 = Op("expm1", np.expm1, (lambda g, out, a: g * (out + 1.0),))
_exp2 = Op("exp2", np.exp2, (lambda g, out, a: g * (out * _LN2),))
_log2 = Op("log2", np.log2, (lambda g, out, a: g / (a * _LN2),))
_log10 = Op("log10", np.log10, (lambda g, out, a: g / (a * _LN10),))


def expm1(x: Any) -> Tensor:
    """e^x - 1, accurate for small x; gradient e^x = out + 1."""
    return _expm1(lift(x))


def exp2(x: Any) -> Tensor:
    """2^x; gradient 2^x ln 2."""
    return _exp2(lift(x))


def log2(x: Any) -> Tensor:
    """Base-2 logarithm; gradient 1 / (x ln 2)."""
    return _log2(lift(x))


def log10(x: Any) -> Tensor:
    """Base-10 logarithm; gradient 1 / (x ln 10)."""
    return _log10(lift(x))


# d/da log(e^a + e^b) = e^(a - out): a weight in [0, 1], computed without overflow
_logaddexp = Op(
    "logaddexp",
    np.logaddexp,
    (lambda g, out, a, b: g * exp(a - out), lambda g, out, a, b: g * exp(b - out)),
)
_logaddexp2 = Op(
    "logaddexp2",
    np.logaddexp2,
    (lambda g, out, a, b: g * exp2(a - out), lambda g, out, a, b: g * exp2(b - out)),
)


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(e^a + e^b) without overflow, broadcasting; gradients e^(a - out) and e^(b - out)."""
    return _logaddexp(*lift_pair(a, b))


def logaddexp2(a: Any, b: Any) -> Tensor:
    """log2(2^a + 2^b) without overflow, broadcasting; gradients 2^(a - out) and 2^(b - out)."""
    return _logaddexp2(*lift_pair(a, b))

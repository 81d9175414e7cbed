"""OpInfo entries of the rounding family (rounding.py), against NumPy.

Piecewise ops avoid inputs near their jumps (integers, multiples of the divisor) and fmax/fmin
shift one operand so that Hypothesis' constant arrays do not tie everywhere (ties and NaN by
hand in test_rounding.py).
"""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near


def _near_integer(values: np.ndarray, tol: float = 1e-3) -> bool:
    v = np.asarray(values)
    return bool(np.any(np.abs(v - np.round(v)) < tol))


def _remainder_jump(xs: list[np.ndarray]) -> bool:
    return _near_integer(np.asarray(xs[0]) / np.asarray(xs[1]))


OPINFOS = [
    OpInfo("floor", gg.floor, avoid=lambda xs: _near_integer(xs[0]), ref=np.floor),
    OpInfo("ceil", gg.ceil, avoid=lambda xs: _near_integer(xs[0]), ref=np.ceil),
    OpInfo("round", gg.round, avoid=lambda xs: _near_integer(xs[0] + 0.5), ref=np.round),
    OpInfo(
        "round[decimals=1]",
        lambda x: gg.round(x, 1),
        avoid=lambda xs: _near_integer(xs[0] * 10 + 0.5, tol=1e-2),
        ref=lambda x: np.round(x, 1),
    ),
    OpInfo("fabs", gg.fabs, avoid=lambda xs: near(xs[0], [0.0]), ref=np.fabs),
    OpInfo("remainder", gg.remainder, nargs=2, domain=[(-5, 5), (0.5, 2)], avoid=_remainder_jump, ref=np.remainder),
    OpInfo(
        "remainder[negative divisor]",
        lambda a, b: gg.remainder(a, -b),
        nargs=2,
        domain=[(-5, 5), (0.5, 2)],
        avoid=_remainder_jump,
        ref=lambda a, b: np.remainder(a, -b),
    ),
    OpInfo("mod", gg.mod, nargs=2, domain=[(-5, 5), (0.5, 2)], avoid=_remainder_jump, ref=np.mod),
    OpInfo(
        "fmax",
        lambda a, b: gg.fmax(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(xs[0] - xs[1] - 0.25, [0.0]),
        ref=lambda a, b: np.fmax(a, b + 0.25),
    ),
    OpInfo(
        "fmin",
        lambda a, b: gg.fmin(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(xs[0] - xs[1] - 0.25, [0.0]),
        ref=lambda a, b: np.fmin(a, b + 0.25),
    ),
    OpInfo("nan_to_num", gg.nan_to_num, ref=np.nan_to_num),
]

"""OpInfo entries of the elementwise family.

Piecewise ops avoid inputs near their kinks; binary max/min shift one operand so that the
constant-filled arrays Hypothesis likes do not tie everywhere (ties are tested by hand).
"""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near


def _gap(a: np.ndarray, b: np.ndarray, shift: float) -> np.ndarray:
    return np.asarray(a) - (np.asarray(b) + shift)


def _softplus_kink(xs: list[np.ndarray]) -> bool:
    return near(2.0 * xs[0], [4.0], tol=2e-3)  # beta x == threshold: the op switches to x there


OPINFOS = [
    OpInfo("add", gg.add, nargs=2),
    OpInfo("subtract", gg.subtract, nargs=2),
    OpInfo("multiply", gg.multiply, nargs=2),
    OpInfo("divide", gg.divide, nargs=2, domain=[(-3, 3), (0.5, 3)]),
    OpInfo("power", gg.power, nargs=2, domain=[(0.2, 3), (-2, 2)]),
    OpInfo("negative", gg.negative),
    OpInfo("exp", gg.exp),
    OpInfo("log", gg.log, domain=(0.1, 5)),
    OpInfo("log1p", gg.log1p, domain=(-0.9, 5)),
    OpInfo("sqrt", gg.sqrt, domain=(0.1, 5)),
    OpInfo("square", gg.square),
    OpInfo("reciprocal", gg.reciprocal, avoid=lambda xs: near(xs[0], [0.0], tol=0.3)),
    OpInfo("abs", gg.abs, avoid=lambda xs: near(xs[0], [0.0])),
    OpInfo("sign", lambda x: gg.sign(x) * x, avoid=lambda xs: near(xs[0], [0.0]), notes="sign alone has 0 gradient"),
    OpInfo("sin", gg.sin, domain=(-6, 6)),
    OpInfo("cos", gg.cos, domain=(-6, 6)),
    OpInfo("tanh", gg.tanh),
    OpInfo("sigmoid", gg.sigmoid, domain=(-8, 8)),
    OpInfo("relu", gg.relu, avoid=lambda xs: near(xs[0], [0.0])),
    OpInfo("leaky_relu", lambda x: gg.leaky_relu(x, negative_slope=0.2), avoid=lambda xs: near(xs[0], [0.0])),
    OpInfo("elu", lambda x: gg.elu(x, alpha=1.5), avoid=lambda xs: near(xs[0], [0.0])),
    OpInfo("elu[alpha=1]", gg.elu, avoid=lambda xs: near(xs[0], [0.0])),
    OpInfo("gelu", gg.gelu, domain=(-5, 5)),
    OpInfo("gelu[tanh]", lambda x: gg.gelu(x, approximate="tanh"), domain=(-5, 5)),
    OpInfo("softplus", gg.softplus, domain=(-30, 30), avoid=lambda xs: near(xs[0], [20.0])),
    OpInfo("softplus[beta=2,threshold=4]", lambda x: gg.softplus(x, beta=2.0, threshold=4.0), avoid=_softplus_kink),
    OpInfo(
        "maximum",
        lambda a, b: gg.maximum(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(_gap(xs[0], xs[1], 0.25), [0.0]),
    ),
    OpInfo(
        "minimum",
        lambda a, b: gg.minimum(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(_gap(xs[0], xs[1], 0.25), [0.0]),
    ),
    OpInfo("clip", lambda x: gg.clip(x, -1.0, 1.5), avoid=lambda xs: near(xs[0], [-1.0, 1.5])),
    OpInfo("clip[a_max only]", lambda x: gg.clip(x, None, 0.5), avoid=lambda xs: near(xs[0], [0.5])),
    OpInfo("astype", lambda x: gg.astype(gg.astype(x, "float32") * 2.0, x.dtype), eps=1e-2, atol=1e-4, rtol=1e-3),
    OpInfo(
        "where",
        lambda a, b: gg.where(a > 0, a * b, b),
        nargs=2,
        avoid=lambda xs: near(xs[0], [0.0]),
    ),
]

"""OpInfo entries of the elementwise family.

Piecewise ops avoid inputs near their kinks; binary max/min shift one operand so that the
constant-filled arrays Hypothesis likes do not tie everywhere (ties are tested by hand).
References are closed formulas on float64 arrays; ``edges`` are inputs where the op (or its
derivative) overflows or is undefined.
"""

from __future__ import annotations

import math

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gap(a: np.ndarray, b: np.ndarray, shift: float) -> np.ndarray:
    return np.asarray(a) - (np.asarray(b) + shift)


def _softplus_kink(xs: list[np.ndarray]) -> bool:
    return near(2.0 * xs[0], [4.0], tol=2e-3)  # beta x == threshold: the op switches to x there


def _softplus_ref(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _gelu_tanh_ref(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


HUGE = 1e308  # sums and products of two of these overflow to inf
BIG = 1e200  # squares overflow
TINY = 1e-320  # subnormal: 1 / TINY overflows

OPINFOS = [
    OpInfo("add", gg.add, nargs=2, ref=np.add, edges=[([HUGE, -HUGE], [HUGE, -HUGE])]),
    OpInfo("subtract", gg.subtract, nargs=2, ref=np.subtract, edges=[([HUGE], [-HUGE])]),
    OpInfo("multiply", gg.multiply, nargs=2, ref=np.multiply, edges=[([BIG, -BIG], [BIG, BIG])]),
    OpInfo(
        "divide",
        gg.divide,
        nargs=2,
        domain=[(-3, 3), (0.5, 3)],
        ref=lambda a, b: a / b,
        edges=[([1.0, 0.0, -1.0, BIG], [0.0, 0.0, 0.0, 1e-200])],
    ),
    OpInfo(
        "power",
        gg.power,
        nargs=2,
        domain=[(0.2, 3), (-2, 2)],
        ref=lambda a, b: np.exp(b * np.log(a)),
        ref_rtol=1e-13,
        edges=[([0.0, 0.0, -1.0, 10.0, 0.0], [-1.0, 0.5, 0.5, 400.0, 2.0])],
    ),
    OpInfo("negative", gg.negative, ref=lambda x: -x),
    OpInfo("exp", gg.exp, ref=lambda x: math.e**x, ref_rtol=1e-14, edges=[([1000.0, 710.0],)]),
    OpInfo("log", gg.log, domain=(0.1, 5), ref=np.log, edges=[([0.0, -1.0, TINY],)]),
    OpInfo(
        "log1p",
        gg.log1p,
        domain=(-0.9, 5),
        ref=lambda x: np.log(1.0 + x),
        ref_rtol=1e-9,
        edges=[([-1.0, -2.0],)],
    ),
    OpInfo("sqrt", gg.sqrt, domain=(0.1, 5), ref=lambda x: x**0.5, edges=[([0.0, -1.0],)]),
    OpInfo("square", gg.square, ref=lambda x: x * x, edges=[([BIG, -BIG],)]),
    OpInfo(
        "reciprocal",
        gg.reciprocal,
        avoid=lambda xs: near(xs[0], [0.0], tol=0.3),
        ref=lambda x: 1.0 / x,
        edges=[([0.0, TINY, -TINY],)],
    ),
    OpInfo("abs", gg.abs, avoid=lambda xs: near(xs[0], [0.0]), ref=lambda x: np.where(x < 0, -x, x)),
    OpInfo(
        "sign",
        lambda x: gg.sign(x) * x,
        avoid=lambda xs: near(xs[0], [0.0]),
        notes="sign alone has 0 gradient",
        ref=lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)) * x,
        covers=("sign", "multiply"),
    ),
    OpInfo("sin", gg.sin, domain=(-6, 6), ref=np.sin, edges=[([1e300, -1e300],)]),
    OpInfo("cos", gg.cos, domain=(-6, 6), ref=np.cos, edges=[([1e300, -1e300],)]),
    OpInfo(
        "tanh",
        gg.tanh,
        ref=lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1),
        ref_rtol=1e-9,
        edges=[([1e300, -1e300],)],
    ),
    OpInfo(
        "sigmoid",
        gg.sigmoid,
        domain=(-8, 8),
        ref=lambda x: 1.0 / (1.0 + np.exp(-x)),
        ref_rtol=1e-14,
        edges=[([1000.0, -1000.0, -1e300],)],
    ),
    OpInfo("relu", gg.relu, avoid=lambda xs: near(xs[0], [0.0]), ref=lambda x: np.where(x > 0, x, 0.0)),
    OpInfo(
        "leaky_relu",
        lambda x: gg.leaky_relu(x, negative_slope=0.2),
        avoid=lambda xs: near(xs[0], [0.0]),
        ref=lambda x: np.where(x > 0, x, 0.2 * x),
        edges=[([-1e308, 1e308],)],
    ),
    OpInfo(
        "elu",
        lambda x: gg.elu(x, alpha=1.5),
        avoid=lambda xs: near(xs[0], [0.0]),
        ref=lambda x: np.where(x > 0, x, 1.5 * (np.exp(np.minimum(x, 0.0)) - 1.0)),
        edges=[([-1e300, 1e300],)],
    ),
    OpInfo(
        "elu[alpha=1]",
        gg.elu,
        avoid=lambda xs: near(xs[0], [0.0]),
        ref=lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0.0)) - 1.0),
    ),
    OpInfo(
        "gelu",
        gg.gelu,
        domain=(-5, 5),
        ref=lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        ref_atol=1e-14,
        covers=("gelu", "erfc"),
        edges=[([1e300, -1e300, -40.0],)],
    ),
    OpInfo(
        "gelu[tanh]",
        lambda x: gg.gelu(x, approximate="tanh"),
        domain=(-5, 5),
        ref=_gelu_tanh_ref,
        edges=[([1e300, -1e300],)],
    ),
    OpInfo(
        "softplus",
        gg.softplus,
        domain=(-30, 30),
        avoid=lambda xs: near(xs[0], [20.0]),
        ref=_softplus_ref,
        edges=[([1e300, -1e300, 1000.0],)],
    ),
    OpInfo(
        "softplus[beta=2,threshold=4]",
        lambda x: gg.softplus(x, beta=2.0, threshold=4.0),
        avoid=_softplus_kink,
        ref=lambda x: _softplus_ref(x, 2.0, 4.0),
    ),
    OpInfo(
        "maximum",
        lambda a, b: gg.maximum(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(_gap(xs[0], xs[1], 0.25), [0.0]),
        ref=lambda a, b: np.where(a > b + 0.25, a, b + 0.25),
        covers=("maximum", "add"),
        edges=[([HUGE, -HUGE], [HUGE, HUGE])],
    ),
    OpInfo(
        "minimum",
        lambda a, b: gg.minimum(a, b + 0.25),
        nargs=2,
        avoid=lambda xs: near(_gap(xs[0], xs[1], 0.25), [0.0]),
        ref=lambda a, b: np.where(a < b + 0.25, a, b + 0.25),
        covers=("minimum", "add"),
        edges=[([HUGE, -HUGE], [HUGE, HUGE])],
    ),
    OpInfo(
        "clip",
        lambda x: gg.clip(x, -1.0, 1.5),
        avoid=lambda xs: near(xs[0], [-1.0, 1.5]),
        ref=lambda x: np.where(x < -1.0, -1.0, np.where(x > 1.5, 1.5, x)),
    ),
    OpInfo(
        "clip[a_max only]",
        lambda x: gg.clip(x, None, 0.5),
        avoid=lambda xs: near(xs[0], [0.5]),
        ref=lambda x: np.where(x > 0.5, 0.5, x),
    ),
    OpInfo(
        "astype",
        lambda x: gg.astype(gg.astype(x, "float32") * 2.0, x.dtype),
        eps=1e-2,
        atol=1e-4,
        rtol=1e-3,
        ref=lambda x: (x.astype(np.float32) * np.float32(2.0)).astype(np.float64),
        ref_rtol=0.0,
        ref_atol=0.0,
        edges=[([1e300, -1e300],)],
    ),
    OpInfo(
        "where",
        lambda a, b: gg.where(a > 0, a * b, b),
        nargs=2,
        avoid=lambda xs: near(xs[0], [0.0]),
        ref=lambda a, b: np.where(a > 0, a * b, b),
        covers=("where", "greater", "multiply"),
        edges=[([BIG, -BIG], [BIG, BIG])],
    ),
    *[
        OpInfo(name, getattr(gg, name), nargs=2, ref=getattr(np, name), differentiable=False)
        for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
    ],
]

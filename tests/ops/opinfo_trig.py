"""OpInfo entries of the trigonometric family (trig.py): each against NumPy's own function."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near

OPINFOS = [
    OpInfo("tan", gg.tan, domain=(-1.4, 1.4), ref=np.tan),
    OpInfo("sinh", gg.sinh, ref=np.sinh),
    OpInfo("cosh", gg.cosh, ref=np.cosh),
    OpInfo("arcsin", gg.arcsin, domain=(-0.9, 0.9), ref=np.arcsin),
    OpInfo("arccos", gg.arccos, domain=(-0.9, 0.9), ref=np.arccos),
    OpInfo("arctan", gg.arctan, ref=np.arctan),
    OpInfo(
        "arctan2",
        gg.arctan2,
        nargs=2,
        domain=[(-3, 3), (0.2, 3)],  # x > 0: away from the branch cut on the negative x axis
        ref=np.arctan2,
    ),
    OpInfo(
        "arctan2[left half-plane]",
        lambda y, x: gg.arctan2(y, -x),
        nargs=2,
        domain=[(0.2, 3), (0.2, 3)],
        ref=lambda y, x: np.arctan2(y, -x),
    ),
    OpInfo("arcsinh", gg.arcsinh, ref=np.arcsinh),
    OpInfo("arccosh", gg.arccosh, domain=(1.1, 5), ref=np.arccosh),
    OpInfo("arctanh", gg.arctanh, domain=(-0.9, 0.9), ref=np.arctanh),
    OpInfo("hypot", gg.hypot, nargs=2, avoid=lambda xs: near(np.hypot(*xs), [0.0], tol=0.1), ref=np.hypot),
    OpInfo("sinc", gg.sinc, ref=np.sinc),
    OpInfo("sinc[near 0]", gg.sinc, domain=(-0.05, 0.05), ref=np.sinc, notes="the series branch"),
    OpInfo("deg2rad", gg.deg2rad, domain=(-360, 360), ref=np.deg2rad),
    OpInfo("rad2deg", gg.rad2deg, ref=np.rad2deg),
]

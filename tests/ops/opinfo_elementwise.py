"""OpInfo entries of the elementwise family."""

from __future__ import annotations

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near

OPINFOS = [
    OpInfo("add", gg.add, nargs=2),
    OpInfo("subtract", gg.subtract, nargs=2),
    OpInfo("multiply", gg.multiply, nargs=2),
    OpInfo("divide", gg.divide, nargs=2, domain=[(-3, 3), (0.5, 3)]),
    OpInfo("power", gg.power, nargs=2, domain=[(0.2, 3), (-2, 2)]),
    OpInfo("negative", gg.negative),
    OpInfo("exp", gg.exp),
    OpInfo("log", gg.log, domain=(0.1, 5)),
    OpInfo("astype", lambda x: gg.astype(gg.astype(x, "float32") * 2.0, x.dtype), eps=1e-2, atol=1e-4, rtol=1e-3),
    OpInfo(
        "where",
        lambda a, b: gg.where(a > 0, a * b, b),
        nargs=2,
        avoid=lambda xs: near(xs[0], [0.0]),
    ),
]

"""OpInfo entries of NumPy's second names (aliases.py): the same ops under another name."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, near

OPINFOS = [
    OpInfo("absolute", gg.absolute, avoid=lambda xs: near(xs[0], [0.0]), ref=np.absolute),
    OpInfo("true_divide", gg.true_divide, nargs=2, domain=[(-3, 3), (0.5, 3)], ref=np.true_divide),
]

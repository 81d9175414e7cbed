"""OpInfo entries of the exponential family (exponential.py), against NumPy."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo

OPINFOS = [
    OpInfo("expm1", gg.expm1, ref=np.expm1),
    OpInfo("exp2", gg.exp2, ref=np.exp2),
    OpInfo("log2", gg.log2, domain=(0.1, 5), ref=np.log2),
    OpInfo("log10", gg.log10, domain=(0.1, 5), ref=np.log10),
    OpInfo("logaddexp", gg.logaddexp, nargs=2, domain=(-30, 30), ref=np.logaddexp),
    OpInfo("logaddexp2", gg.logaddexp2, nargs=2, domain=(-30, 30), ref=np.logaddexp2),
]

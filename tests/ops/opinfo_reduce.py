"""OpInfo entries of the reduction family (axes drawn per example)."""

from __future__ import annotations

import graphgrad as gg
from tests.ops.opinfo import OpInfo

OPINFOS = [
    OpInfo("sum", lambda x: gg.sum(x, axis=-1, keepdims=True) if x.ndim else gg.sum(x)),
    OpInfo("mean", lambda x: gg.mean(x, axis=0) if x.ndim else gg.mean(x)),
]

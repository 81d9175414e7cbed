"""OpInfo entries of the shape family."""

from __future__ import annotations

import graphgrad as gg
from tests.ops.opinfo import OpInfo

OPINFOS = [
    OpInfo("reshape", lambda x: gg.reshape(x, (-1,))),
    OpInfo("transpose", gg.transpose),
    OpInfo("broadcast_to", lambda x: gg.broadcast_to(x, (2,) + x.shape)),
    OpInfo("expand_dims", lambda x: gg.expand_dims(x, 0)),
    OpInfo("squeeze", lambda x: gg.squeeze(gg.expand_dims(x, 0))),
    OpInfo("flatten", gg.flatten),
    OpInfo("swapaxes", lambda x: gg.swapaxes(x, 0, -1) if x.ndim else x * 1.0),
    OpInfo("getitem", lambda x: x[..., :1] if x.ndim else x[()]),
]

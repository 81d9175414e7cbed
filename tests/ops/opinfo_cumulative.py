"""OpInfo entries of the cumulative family (cumulative.py), against NumPy.

cumprod's domain includes 0 (Hypothesis draws it often): its gradient uses no division.
"""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes

ONE_UP = same_shapes(1, min_dims=1)

OPINFOS = [
    OpInfo("cumsum", gg.cumsum, ref=np.cumsum),
    OpInfo("cumsum[axis 0]", lambda x: gg.cumsum(x, axis=0), shapes=ONE_UP, ref=lambda a: np.cumsum(a, axis=0)),
    OpInfo("cumprod", gg.cumprod, domain=(-1.2, 1.2), ref=np.cumprod, rtol=1e-3),  # up to 48 factors: keep them small
    OpInfo(
        "cumprod[axis -1]",
        lambda x: gg.cumprod(x, axis=-1),
        shapes=ONE_UP,
        domain=(-2, 2),
        ref=lambda a: np.cumprod(a, axis=-1),
    ),
    OpInfo(
        "cumprod[long]",
        lambda x: gg.cumprod(x, axis=0),
        shapes=same_shapes(1, min_dims=1, max_dims=1).map(lambda s: [(11,)]),
        domain=(-1.5, 1.5),
        ref=lambda a: np.cumprod(a, axis=0),
        sample=[(11,)],
    ),
    OpInfo("diff", gg.diff, shapes=ONE_UP, ref=np.diff),
    OpInfo("diff[n=2, axis 0]", lambda x: gg.diff(x, 2, axis=0), shapes=ONE_UP, ref=lambda a: np.diff(a, 2, axis=0)),
    OpInfo(
        "diff[prepend, append]",
        lambda x: gg.diff(x, prepend=0.5, append=x[..., :1]),
        shapes=ONE_UP,
        ref=lambda a: np.diff(a, prepend=0.5, append=a[..., :1]),
    ),
]

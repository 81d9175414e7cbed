"""OpInfo entries of the NaN-skipping reductions (nanreduce.py), against NumPy.

Every third entry is made NaN inside the function (never the first of a slice along the last
axis), so the NaN entries' zero gradient is checked by finite differences too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, fixed, operand, same_shapes


@fixed
def _holes(shape: tuple[int, ...]) -> np.ndarray:
    """NaN positions: last-axis index 1, 4, 7, ... (so index 0 of each slice stays a number)."""
    if not shape:
        return np.zeros((), dtype=bool)
    return np.broadcast_to(np.arange(shape[-1]) % 3 == 1, shape).copy()


def _with_nan(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.where(_holes(x.shape), np.nan, x)
    return gg.where(operand(_holes(x.shape), x), operand(_nan(x.dtype), x), x)


@fixed
def _nan(dtype: Any) -> np.ndarray:
    return np.array(np.nan, dtype=dtype)


OPINFOS = [
    OpInfo("nansum", lambda x: gg.nansum(_with_nan(x)), ref=lambda a: np.nansum(_with_nan(a))),
    OpInfo(
        "nansum[axis, keepdims]",
        lambda x: gg.nansum(_with_nan(x), axis=-1, keepdims=True),
        shapes=same_shapes(1, min_dims=1),
        ref=lambda a: np.nansum(_with_nan(a), axis=-1, keepdims=True),
    ),
    OpInfo("nanmean", lambda x: gg.nanmean(_with_nan(x)), ref=lambda a: np.nanmean(_with_nan(a))),
    OpInfo(
        "nanmean[axis]",
        lambda x: gg.nanmean(_with_nan(x), axis=-1),
        shapes=same_shapes(1, min_dims=1),
        ref=lambda a: np.nanmean(_with_nan(a), axis=-1),
    ),
]

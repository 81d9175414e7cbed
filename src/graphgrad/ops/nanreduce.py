"""Reductions that skip NaN: nansum and nanmean.

A NaN entry is replaced by 0 through ``where`` (its mask made by an op), so it gets exactly 0 gradient;
nanmean divides by the count of the other entries. An all-NaN slice has nanmean NaN (with
NumPy's warning) and gradient 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from graphgrad.ops.core import host, lift
from graphgrad.ops.elementwise import astype, divide, where
from graphgrad.ops.reduce import normalize_axis, sum
from graphgrad.ops.shape import squeeze
from graphgrad.tensor import Tensor

__all__ = ["nansum", "nanmean"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _without_nan(x: Tensor, dtype: Any) -> tuple[Tensor, Tensor]:
    """``x`` with its NaN entries set to 0, and where ``x`` is not NaN (a boolean tensor).

    NaN is the one value unequal to itself: the mask is an op's result, not a NumPy array, so a
    captured step computes it again at each call (a mask read in Python was frozen at capture:
    a plan recorded on batches without NaN summed the NaN of later ones)."""
    if dtype is not None and x.data.dtype != np.dtype(dtype):
        x = astype(x, dtype)
    present = x == x
    return (where(present, x, 0.0) if x.data.dtype.kind in "fc" else x), present


def nansum(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` treating NaN as 0; NaN entries get gradient 0."""
    x, _ = _without_nan(lift(x), dtype)
    return sum(x, axis=axis, keepdims=keepdims)


def _warn_if_empty(count: np.ndarray) -> None:
    if not count.all():
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=4)


def nanmean(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` of the entries that are not NaN; NaN entries get gradient 0."""
    x = lift(x)
    axes = normalize_axis(axis, x.ndim, "nanmean")
    clean, present = _without_nan(x, dtype)
    count = sum(astype(present, clean.data.dtype), axis=axes, keepdims=True)
    total = sum(clean, axis=axes, keepdims=True)
    host(_warn_if_empty, count)  # at every call of a captured step too
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = divide(total, count)
    if keepdims:
        return mean
    return squeeze(mean, axes) if axes is not None else squeeze(mean)

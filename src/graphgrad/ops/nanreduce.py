"""Reductions that skip NaN: nansum and nanmean.

A NaN entry is replaced by 0 through ``where`` (a constant mask), so it gets exactly 0 gradient;
nanmean divides by the count of the other entries. An all-NaN slice has nanmean NaN (with
NumPy's warning) and gradient 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from graphgrad.ops.core import lift
from graphgrad.ops.elementwise import astype, divide, where
from graphgrad.ops.reduce import normalize_axis, sum
from graphgrad.ops.shape import squeeze
from graphgrad.tensor import Tensor

__all__ = ["nansum", "nanmean"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _without_nan(x: Tensor, dtype: Any) -> tuple[Tensor, np.ndarray]:
    if dtype is not None and x.data.dtype != np.dtype(dtype):
        x = astype(x, dtype)
    missing = np.isnan(x.data) if x.data.dtype.kind in "fc" else np.zeros(x.shape, dtype=bool)
    return (where(missing, 0.0, x) if missing.any() else x), missing


def nansum(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` treating NaN as 0; NaN entries get gradient 0."""
    x, _ = _without_nan(lift(x), dtype)
    return sum(x, axis=axis, keepdims=keepdims)


def nanmean(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` of the entries that are not NaN; NaN entries get gradient 0."""
    x = lift(x)
    axes = normalize_axis(axis, x.ndim, "nanmean")
    clean, missing = _without_nan(x, dtype)
    count = np.sum(~missing, axis=axes, keepdims=True).astype(clean.data.dtype)
    total = sum(clean, axis=axes, keepdims=True)
    if not count.all():
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = divide(total, count)
    if keepdims:
        return mean
    return squeeze(mean, axes) if axes is not None else squeeze(mean)

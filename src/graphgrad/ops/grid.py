"""Grids from tensors: linspace and meshgrid, differentiable in their inputs.

``linspace`` computes ``start + i * step`` and ends exactly on ``stop`` as NumPy does, so a
learned ``start`` gets gradient ``1 - i / div`` and ``stop`` gets ``i / div``; ``meshgrid`` is a
reshape and a broadcast of each input, whose gradient is the sum over the copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.ops.arrange import moveaxis
from graphgrad.ops.core import fixed, lift
from graphgrad.ops.elementwise import astype, where
from graphgrad.ops.shape import broadcast_to, reshape
from graphgrad.tensor import Tensor

__all__ = ["linspace", "meshgrid"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()


def _bounds_dtype(bounds: tuple[Any, ...], dtype: Any) -> np.dtype:
    """NumPy's result dtype, except that Python numbers alone give float32 (graphgrad's default)."""
    if dtype is not None:
        return np.dtype(dtype)
    arrays = [b.data if isinstance(b, Tensor) else b for b in bounds if isinstance(b, (Tensor, np.ndarray, np.generic))]
    if not arrays:
        return np.dtype(np.float32)
    dt = np.result_type(*arrays)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (excluded when ``endpoint=False``).

    As ``numpy.linspace``: array bounds give one sequence per element, along the new ``axis``;
    ``retstep=True`` returns ``(samples, step)``. Python numbers give float32.
    """
    num = int(num)
    if num < 0:
        raise ConfigError(f"linspace: the number of samples must be non-negative, got {num}")
    dt = _bounds_dtype((start, stop), dtype)
    s, e = lift(start), lift(stop)
    s = s if s.data.dtype == dt else astype(s, dt)
    e = e if e.data.dtype == dt else astype(e, dt)
    div = num - 1 if endpoint else num
    delta = e - s
    # the ranges and masks below depend on num, the dtype and the shape only: made once (core.fixed)
    lead = (1,) * delta.ndim
    i = fixed(("arange", num, dt, lead), lambda: np.arange(num, dtype=dt).reshape((-1,) + lead))
    if div > 0:
        step = delta / float(div)
        y = i * step + s
    else:
        step = fixed(("nan", delta.shape, dt), lambda: np.full(delta.shape, np.nan, dtype=dt))
        y = i * delta + s
    if endpoint and num > 1:
        y = where(fixed(("last", num, lead), lambda: np.arange(num).reshape((-1,) + lead) == num - 1), e, y)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    return (y, step) if retstep else y


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D coordinate vectors, as ``numpy.meshgrid``.

    ``indexing='xy'`` (Cartesian: the first two outputs have shape (len(y), len(x), ...)) or
    ``'ij'`` (matrix indexing). ``sparse=True`` returns the broadcastable, unexpanded shapes;
    ``copy=False`` returns read-only broadcast views instead of new tensors.
    """
    if indexing not in ("xy", "ij"):
        raise ConfigError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(xi)
    ones = (1,) * n
    out = [reshape(lift(x), ones[:i] + (-1,) + ones[i + 1 :]) for i, x in enumerate(xi)]
    if indexing == "xy" and n > 1:
        out[0] = reshape(out[0], (1, -1) + ones[2:])
        out[1] = reshape(out[1], (-1, 1) + ones[2:])
    if not sparse:
        shape = np.broadcast_shapes(*(t.shape for t in out))
        out = [broadcast_to(t, shape) for t in out]
        if copy:
            out = [t * 1 for t in out]  # writable copies, as NumPy's (x * 1 is exact, -0.0 and NaN included)
    return tuple(out)

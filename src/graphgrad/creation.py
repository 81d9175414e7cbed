"""Making tensors: from data, filled, ranges and random (from a ``numpy.random.Generator`` or seed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.tensor import Tensor, _as_array, _check_float

__all__ = ["arange", "as_tensor", "full", "ones", "ones_like", "rand", "randn", "tensor", "zeros", "zeros_like"]

Shape = Any  # int | Sequence[int]


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python floats become float32)."""
    arr = _as_array(data, dtype, copy=True, float_ints=requires_grad)
    return Tensor(arr, requires_grad=requires_grad, name=name)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory with a NumPy array when possible."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(_as_array(data, dtype, copy=False))


def _shape(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(int(n) for n in shape[0])
    return tuple(int(n) for n in shape)


def _filled(value: float, shape: tuple[int, ...], dtype: Any, requires_grad: bool) -> Tensor:
    arr = np.full(shape, value, dtype=np.float32 if dtype is None else dtype)
    if requires_grad:
        _check_float(arr)
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``shape`` (float32 unless ``dtype``)."""
    return _filled(0.0, _shape(shape), dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``shape`` (float32 unless ``dtype``)."""
    return _filled(1.0, _shape(shape), dtype, requires_grad)


def full(shape: Shape, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere in ``shape``."""
    return _filled(fill_value, _shape((shape,)), dtype, requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    return _filled(0.0, arr.shape, dtype or arr.dtype, requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    return _filled(1.0, arr.shape, dtype or arr.dtype, requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values, as ``numpy.arange`` (float32 when any bound is a float)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = np.float32
    return Tensor(np.arange(start, stop, step, dtype=dtype))


def _generator(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def randn(*shape: Any, rng: Any = None, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from ``rng`` (a ``numpy.random.Generator`` or a seed)."""
    arr = _generator(rng).standard_normal(_shape(shape)).astype(dtype, copy=False)
    return Tensor(arr, requires_grad=requires_grad)


def rand(*shape: Any, rng: Any = None, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from ``rng`` (a ``numpy.random.Generator`` or a seed)."""
    arr = _generator(rng).random(_shape(shape)).astype(dtype, copy=False)
    return Tensor(arr, requires_grad=requires_grad)

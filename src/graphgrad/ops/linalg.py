"""Linear algebra: matmul (1-D, 2-D and batched, as ``numpy.matmul``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.core import Op, lift_pair
from graphgrad.tensor import Tensor

__all__ = [
    "matmul",
]


def _matmul_grad_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:  # (..., n) @ (n,) -> (...): outer product with b
        return g.expand_dims(-1) * b
    if a.ndim == 1:  # (n,) @ (..., n, m) -> (..., m): sum over batches handled by unbroadcast
        return matmul(b, g.expand_dims(-1)).squeeze(-1)
    return matmul(g, b.swapaxes(-1, -2))


def _matmul_grad_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:
        if a.ndim == 1:  # (n,) @ (n,) -> (): a scalar times a
            return g * a
        return matmul(g.expand_dims(-2), a).squeeze(-2)  # (..., k, n) @ (n,) -> (..., k)
    if a.ndim == 1:  # (n,) @ (..., n, m): outer product of a with g
        return a.expand_dims(-1) * g.expand_dims(-2)
    return matmul(a.swapaxes(-1, -2), g)


_matmul = Op("matmul", np.matmul, (_matmul_grad_a, _matmul_grad_b))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's rules for 1-D and batched operands."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not fit: {a.shape[-1]} columns "
            f"against {b.shape[-2 if b.ndim > 1 else 0]} rows"
        )
    return _matmul(a, b)

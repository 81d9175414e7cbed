"""Gradient clipping (PyTorch's ``nn.utils.clip_grad_norm_`` / ``clip_grad_value_``).

Clipped gradients are new arrays assigned to ``p.grad`` (the old arrays are left as they were,
so a reference someone kept to an old gradient does not change under them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from graphgrad.errors import ConfigError, TrainingDivergedError
from graphgrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Iterable[Tensor] | Tensor) -> list[tuple[Tensor, np.ndarray]]:
    """Each parameter that has a gradient, with that gradient's array."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [(p, p.grad.data) for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over every gradient entry as one vector (``float('inf')``: the largest
    magnitude). Returns that norm before clipping, as a 0-d tensor. The scale factor is
    ``max_norm / (norm + 1e-6)``, applied only when below 1.
    """
    if not max_norm >= 0:
        raise ConfigError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ConfigError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type!r}")
    with_grads = _with_grads(parameters)
    if not with_grads:
        return Tensor(np.float32(0.0))
    grads = [g for _, g in with_grads]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise TrainingDivergedError(
            f"clip_grad_norm_: the total gradient norm is {total}; the gradients hold NaN or inf"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p, g in with_grads:
            p.grad = Tensor._wrap(np.multiply(g, coef, dtype=g.dtype, out=np.empty_like(g)))  # 0-d: still an array
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]``."""
    if not clip_value >= 0:
        raise ConfigError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for p, g in _with_grads(parameters):
        p.grad = Tensor._wrap(np.clip(g, -clip_value, clip_value, out=np.empty_like(g)))

"""L2 regularization as a loss term (the lecture notes' ``J = L + lambda * Omega(theta)``).

``l2_penalty(model, lam)`` is ``lam * sum(w^2)`` over the weights, a Tensor in the graph: add it
to the loss and backward gives each weight the extra gradient ``2 * lam * w``. Biases (and every
1-D parameter, e.g. normalization scales) are left out by default, as is usual: penalizing them
does not reduce overfitting and can hurt.

How it differs from an optimizer's ``weight_decay``:

- ``SGD(weight_decay=wd)`` adds ``wd * w`` to the gradient inside the update and is not part of
  the loss (the reported loss does not include it). The same update as ``l2_penalty(model, lam)``
  needs ``wd = 2 * lam``: a factor 2, because d(lam w^2)/dw = 2 lam w. It also applies to every
  parameter of the group, biases included, unless you put them in a group with ``weight_decay=0``.
- ``Adam(weight_decay=wd)`` adds ``wd * w`` to the gradient too, so the decay is rescaled by
  Adam's adaptive denominator (same as the loss term, with wd = 2 lam).
- ``AdamW(weight_decay=wd)`` decouples it: ``w <- w (1 - lr * wd)`` outside the adaptive moments.
  That is not an L2 loss term at all, and no ``lam`` reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module
from graphgrad.tensor import Tensor

__all__ = ["l2_penalty"]


def l2_penalty(params: Module | Iterable[Tensor], weight_decay: float, include_1d: bool = False) -> Tensor:
    """``weight_decay * sum of squared weights`` (``lambda * Omega(theta)``), differentiable.

    ``params`` is a Module or an iterable of parameters. Parameters with fewer than 2 dimensions
    (biases) are skipped unless ``include_1d``. Returns a scalar tensor (0 if nothing is penalized).
    """
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise ConfigError(f"l2_penalty: weight_decay must be a number >= 0, got {weight_decay!r}")
    tensors: Iterable[Any] = params.parameters() if isinstance(params, Module) else params
    total: Tensor | None = None
    for p in tensors:
        if not isinstance(p, Tensor):
            raise ConfigError(f"l2_penalty: expected a Module or tensors, got a {type(p).__name__}")
        if p.ndim < 2 and not include_1d:
            continue
        term = (p * p).sum()
        total = term if total is None else total + term
    if total is None:
        return Tensor(0.0)
    return total * weight_decay

"""Adagrad: per-coordinate step sizes shrinking with the sum of squared past gradients.

PyTorch's update (``torch.optim.Adagrad``), at step t:

    clr <- lr / (1 + (t - 1) * lr_decay)
    g   <- g + weight_decay * p
    s   <- s + g * g                   (s starts at initial_accumulator_value)
    p   <- p - clr * g / (sqrt(s) + eps)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from graphgrad.optim.optimizer import Optimizer, ParamGroup, check_hyper

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as in PyTorch."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_hyper(name, group[name])

    def _state_keys(self, group: ParamGroup) -> frozenset[str]:
        return frozenset({"step", "sum"})

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: ParamGroup) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        acc = state["sum"]
        tmp = np.multiply(g, g, dtype=param.dtype, out=np.empty_like(param))  # an array even for a 0-d param
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        param -= tmp

"""RMSprop: divide the step by a running root mean square of recent gradients.

PyTorch's update (``torch.optim.RMSprop``):

    g <- g + weight_decay * p
    v <- alpha * v + (1 - alpha) * g * g
    if centered:  m <- alpha * m + (1 - alpha) * g;   d <- sqrt(v - m * m) + eps
    else:         d <- sqrt(v) + eps
    if momentum > 0:  b <- momentum * b + g / d;   p <- p - lr * b
    else:             p <- p - lr * g / d
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from graphgrad.optim.optimizer import Optimizer, ParamGroup, check_hyper

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture notes), optionally centered and with momentum, as in PyTorch."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
            momentum=momentum, centered=centered, maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_hyper(name, group[name])

    def _state_keys(self, group: ParamGroup) -> frozenset[str]:
        keys = {"step", "square_avg"}
        keys |= {"momentum_buffer"} if group["momentum"] > 0 else set()
        return frozenset(keys | {"grad_avg"} if group["centered"] else keys)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: ParamGroup) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        alpha = group["alpha"]
        square_avg = state["square_avg"]
        tmp = np.multiply(g, g, dtype=param.dtype, out=np.empty_like(param))  # an array even for a 0-d param
        tmp *= 1 - alpha
        square_avg *= alpha
        square_avg += tmp
        if group["centered"]:
            grad_avg = state.setdefault("grad_avg", np.zeros_like(param))
            grad_avg *= alpha
            grad_avg += (1 - alpha) * g
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(square_avg, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)  # g / d
        if group["momentum"] > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param))
            buf *= group["momentum"]
            buf += tmp
            np.multiply(buf, group["lr"], out=tmp)
        else:
            tmp *= group["lr"]
        param -= tmp

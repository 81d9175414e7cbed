"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

The update is PyTorch's (``torch.optim.SGD``), with g the gradient and t the step:

    g <- g + weight_decay * p                      (L2 as a gradient term: see nn.l2_penalty)
    b <- g                                 at t = 1
    b <- momentum * b + (1 - dampening) * g    at t > 1
    g <- g + momentum * b   if nesterov,   else g <- b
    p <- p - lr * g        (p + lr * g when maximize)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.optim.optimizer import Optimizer, ParamGroup, check_hyper

__all__ = ["SGD"]


class SGD(Optimizer):
    """Plain, momentum or Nesterov SGD (the lecture notes' mini-batch update p <- p - lr * grad)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
            weight_decay=weight_decay, maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        check_hyper("lr", group["lr"])
        check_hyper("momentum", group["momentum"])
        check_hyper("dampening", group["dampening"])
        check_hyper("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ConfigError(
                f"nesterov=True needs momentum > 0 and dampening = 0 "
                f"(got momentum={group['momentum']!r}, dampening={group['dampening']!r})"
            )

    def _state_keys(self, group: ParamGroup) -> frozenset[str]:
        return frozenset({"momentum_buffer"} if group["momentum"] != 0 else ())

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: ParamGroup) -> None:
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param  # a new array: the shared grad is never written
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=param.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * g

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
from graphgrad.tensor import Tensor

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

    def _step_group(self, params: list[Tensor], group: ParamGroup) -> None:
        # the hyperparameters once per group, then the update per parameter, in NumPy
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        keep, nesterov, maximize = 1 - group["dampening"], group["nesterov"], group["maximize"]
        for p in params:
            param = p.data
            g = p.grad.data  # type: ignore[union-attr]  # shared: never written
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * param
            if momentum != 0:
                s = self._state_of(p)
                buf = s.get("momentum_buffer")
                if buf is None:
                    buf = s["momentum_buffer"] = np.array(g, dtype=param.dtype, copy=True)
                else:
                    buf *= momentum
                    buf += keep * g
                g = g + momentum * buf if nesterov else buf
            param -= lr * g

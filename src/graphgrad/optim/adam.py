"""Adam and AdamW: steps from bias-corrected running moments of the gradient.

PyTorch's update (``torch.optim.Adam`` / ``AdamW``), at step t:

    Adam:   g <- g + weight_decay * p            (L2 through the gradient)
    AdamW:  p <- p * (1 - lr * weight_decay)     (decoupled: the decay skips the moments)
    m <- beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g * g
    v_max <- max(v_max, v)                       (amsgrad; then v_max replaces v below)
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.optim.optimizer import Optimizer, ParamGroup, check_hyper

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with the AMSGrad variant, as in PyTorch."""

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        check_hyper("lr", group["lr"])
        check_hyper("eps", group["eps"])
        check_hyper("weight_decay", group["weight_decay"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ConfigError(f"invalid betas: {betas!r} (must be a pair (beta1, beta2))")
        group["betas"] = tuple(betas)
        check_hyper("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_hyper("betas[1]", betas[1], 0.0, 1.0, high_open=True)

    def _state_keys(self, group: ParamGroup) -> frozenset[str]:
        keys = {"step", "exp_avg", "exp_avg_sq"}
        return frozenset(keys | {"max_exp_avg_sq"} if group["amsgrad"] else keys)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: ParamGroup) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        g = -grad if group["maximize"] else grad
        if wd != 0:
            if self._decoupled:
                param *= 1 - lr * wd
            else:
                g = g + wd * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = np.multiply(g, 1 - beta1, dtype=param.dtype, out=np.empty_like(param))  # an array even for a 0-d param
        m *= beta1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            v = state.setdefault("max_exp_avg_sq", np.zeros_like(param))
            np.maximum(v, state["exp_avg_sq"], out=v)
        step_size = lr / (1 - beta1**t)
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2**t)
        tmp += group["eps"]
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        param -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p shrinks by lr * weight_decay
    each step, outside the adaptive moments, so decay is not rescaled by 1/sqrt(v)."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )

"""Losses as modules: ``criterion = CrossEntropyLoss(); loss = criterion(logits, target)``.

Each wraps one fused function of :mod:`graphgrad.nn.functional` and keeps its settings.
``reduction`` is ``"mean"`` (the average over loss terms: the lecture notes' batch average), ``"sum"``
or ``"none"`` (one loss per term). Classification losses take classes on the last axis
(``(N, C)`` logits); pass ``axis=1`` for PyTorch's ``(N, C, d1, ...)`` layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.nn import functional
from graphgrad.nn.module import Module
from graphgrad.tensor import Tensor

__all__ = [
    "SquareLoss",
    "MSELoss",
    "L1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
]

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ConfigError(
                f"{type(self).__name__}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class SquareLoss(_Loss):
    """The lecture notes' square loss ``1/2 (y - y*)^2`` per term, reduced; its gradient is ``y - y*``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.mse_loss(input, target, reduction=self.reduction) * 0.5


class MSELoss(_Loss):
    """``(input - target)^2`` per term, reduced (no 1/2: PyTorch's MSELoss)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """``|input - target|`` per term, reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy ``-[y log p + (1 - y) log(1 - p)]`` from probabilities p in [0, 1]."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits (sigmoid inside, stable for any logit); ``pos_weight``
    weighs the positive term per class."""

    def __init__(self, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.binary_cross_entropy_with_logits(
            input, target, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits; ``target`` holds integer class indices or class
    probabilities (one-hot or soft). PyTorch's arguments: ``weight`` (one constant per class),
    ``ignore_index`` (rows with that class index count for nothing), ``reduction`` (``"mean"`` is
    the weighted mean with weight or ignored rows), ``label_smoothing`` s (trains toward
    (1 - s) q + s / C); ``axis`` is the class axis (PyTorch's layout: ``axis=1``)."""

    weight: Tensor | None  # a buffer

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        axis: int = -1,
    ) -> None:
        if isinstance(weight, str):  # the old first argument was reduction: keep CrossEntropyLoss("sum") working
            weight, reduction = None, weight
        super().__init__(reduction)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not (
            0.0 <= label_smoothing <= 1.0
        ):
            raise ConfigError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.register_buffer("weight", _class_weights(weight, "CrossEntropyLoss"))  # saved, as in PyTorch
        self.ignore_index = _ignore_index(ignore_index, "CrossEntropyLoss")
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.cross_entropy(
            input,
            target,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
            weight=self.weight,
            ignore_index=self.ignore_index,
        )

    def extra_repr(self) -> str:
        extra = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return super().extra_repr() + _class_options(self.weight, self.ignore_index) + extra


class NLLLoss(_Loss):
    """Negative log-likelihood ``-weight[t] log_probs[t]`` (after LogSoftmax: together, cross-entropy),
    with PyTorch's ``weight`` and ``ignore_index`` (see CrossEntropyLoss)."""

    weight: Tensor | None  # a buffer

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean", axis: int = -1) -> None:
        if isinstance(weight, str):  # the old first argument was reduction
            weight, reduction = None, weight
        super().__init__(reduction)
        self.register_buffer("weight", _class_weights(weight, "NLLLoss"))
        self.ignore_index = _ignore_index(ignore_index, "NLLLoss")
        self.axis = axis

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.nll_loss(
            input, target, reduction=self.reduction, axis=self.axis, weight=self.weight, ignore_index=self.ignore_index
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + _class_options(self.weight, self.ignore_index)


def _class_weights(weight: Any, where: str) -> Tensor | None:
    """The per-class weights as a constant 1-D tensor (None: every class weighs 1)."""
    if weight is None:
        return None
    w = weight.detach() if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=np.float32))
    if w.ndim != 1 or w.dtype.kind != "f":
        raise ConfigError(f"{where}: weight must be a 1-D float tensor with one value per class, got shape {w.shape}")
    return w


def _ignore_index(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{where}: ignore_index must be an integer class index, got {value!r}")
    return int(value)


def _class_options(weight: Tensor | None, ignore_index: int) -> str:
    text = "" if weight is None else f", weight=shape {weight.shape}"
    return text + ("" if ignore_index == -100 else f", ignore_index={ignore_index}")

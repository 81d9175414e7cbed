"""Dropout: during training, zero each unit with probability ``p``.

``inverted=True`` (PyTorch, the default) scales the kept units by 1 / (1 - p) while training, so
evaluation is the identity. ``inverted=False`` is the lecture notes' original form: training only drops,
and evaluation scales every output by the keep probability 1 - p. Both give the same expected
output in training and evaluation. (The seeds call the *keep* probability p; here, as in PyTorch,
``p`` is the *drop* probability.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.nn import functional
from graphgrad.nn.module import Module
from graphgrad.ops.core import inplace_flag
from graphgrad.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _Dropping(Module):
    """What every dropout layer holds: the drop probability ``p``, PyTorch's ``inplace`` flag and
    the generator its masks come from (``rng``: a Generator or a seed)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng: Any = None) -> None:
        super().__init__()
        layer = type(self).__name__
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ConfigError(f"{layer} probability p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace_flag(inplace, layer, takes_rng=True)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout(_Dropping):
    """Randomly zero units in training mode; masks come from ``rng`` (a Generator or a seed).
    ``inplace=True`` (PyTorch's second argument) writes the result into the input."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng: Any = None, inverted: bool = True) -> None:
        super().__init__(p, inplace, rng=rng)
        self.inverted = bool(inverted)

    def forward(self, x: Tensor) -> Tensor:
        return functional.dropout(x, self.p, self.training, self.rng, inverted=self.inverted, inplace=self.inplace)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.inverted else ", inverted=False")


class Dropout2d(_Dropping):
    """Zero whole channels of ``(N, C, H, W)`` input in training mode, each with probability ``p``
    (one draw per sample and channel), the kept ones scaled by 1 / (1 - p); the identity in eval.
    For convolutional features, whose neighbouring pixels are correlated, dropping single pixels
    regularizes little (PyTorch's reasoning for this layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return functional.dropout2d(x, self.p, self.training, self.inplace, rng=self.rng)


class Dropout1d(_Dropping):
    """:class:`Dropout2d` for ``(N, C, L)`` (or ``(C, L)``) input: whole channels of a sequence."""

    def forward(self, x: Tensor) -> Tensor:
        return functional.dropout1d(x, self.p, self.training, self.inplace, rng=self.rng)

"""Layers without a nonlinearity: Linear (affine map), Identity, Flatten."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.nn import functional
from graphgrad.nn import init as nn_init
from graphgrad.nn.module import Module
from graphgrad.nn.parameter import Parameter
from graphgrad.tensor import Tensor

__all__ = ["Linear", "Identity", "Flatten"]


def _generator(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as PyTorch.

    Weight and bias start as U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's default,
    i.e. kaiming_uniform_ with a = sqrt(5)), drawn from ``rng`` (a Generator or a seed): weight
    first, then bias.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, rng: Any = None, dtype: Any = np.float32
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ConfigError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        gen = _generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        nn_init.uniform_(self.weight, -bound, bound, rng=gen)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
            nn_init.uniform_(self.bias, -bound, bound, rng=gen)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ShapeError(
                f"Linear(in_features={self.in_features}) got input of shape {tuple(x.shape)}; "
                f"its last dimension must be {self.in_features}"
            )
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. to switch a layer off by configuration)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge dimensions ``start_axis..end_axis`` into one: (N, 8, 8) -> (N, 64) by default.

    ``start_dim`` / ``end_dim`` are accepted as PyTorch spells them.
    """

    def __init__(
        self, start_axis: int = 1, end_axis: int = -1, *, start_dim: int | None = None, end_dim: int | None = None
    ) -> None:
        super().__init__()
        self.start_axis = start_axis if start_dim is None else start_dim
        self.end_axis = end_axis if end_dim is None else end_dim

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        start = self.start_axis % max(len(shape), 1)
        end = self.end_axis % max(len(shape), 1)
        if len(shape) == 0 or start > end:
            raise ShapeError(
                f"Flatten(start_axis={self.start_axis}, end_axis={self.end_axis}) cannot flatten shape {shape}"
            )
        merged = math.prod(shape[start:end + 1])
        return x.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"

"""Layers without a nonlinearity: Linear (affine map), Identity, Flatten, Unflatten."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.nn import functional
from graphgrad.nn import init as nn_init
from graphgrad.nn.module import Module, positive_int
from graphgrad.nn.parameter import Parameter
from graphgrad.tensor import Tensor

__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]


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
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        gen = _generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        nn_init.uniform_(self.weight, -bound, bound, rng=gen)
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
            nn_init.uniform_(self.bias, -bound, bound, rng=gen)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        if not shape or shape[-1] != self.in_features:
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
    """Merge dimensions ``start_dim..end_dim`` into one, as PyTorch's ``Flatten``: (N, 8, 8) -> (N, 64)
    by default. ``start_axis`` / ``end_axis`` are accepted as the same, in NumPy's words."""

    def __init__(
        self, start_dim: int = 1, end_dim: int = -1, *, start_axis: int | None = None, end_axis: int | None = None
    ) -> None:
        super().__init__()
        self.start_dim = int(start_dim if start_axis is None else start_axis)
        self.end_dim = int(end_dim if end_axis is None else end_axis)

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        ndim = max(len(shape), 1)  # a 0-d tensor flattens as if it had one axis, as in PyTorch
        if not (-ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim):
            raise ShapeError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) cannot flatten shape "
                             f"{shape}: a dimension is out of range for {len(shape)} dimensions")
        start, end = self.start_dim % ndim, self.end_dim % ndim
        if start > end:
            raise ShapeError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) cannot flatten shape "
                             f"{shape}: start_dim comes after end_dim")
        merged = math.prod(shape[start : end + 1])
        return x.reshape(shape[:start] + (merged,) + shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, as PyTorch's ``Unflatten``: with
    ``Unflatten(1, (1, 8, 8))`` a model takes rows of 64 pixels and sees (N, 1, 8, 8) images."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = int(dim)
        self.unflattened_size = tuple(int(n) for n in unflattened_size)
        if not self.unflattened_size or sum(n == -1 for n in self.unflattened_size) > 1 or any(
                n < -1 or n == 0 for n in self.unflattened_size):
            raise ConfigError(f"Unflatten: unflattened_size must be positive sizes (one may be -1), "
                              f"got {unflattened_size!r}")

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        if not -len(shape) <= self.dim < len(shape):
            raise ShapeError(f"Unflatten(dim={self.dim}) got input of shape {shape}: no dimension {self.dim}")
        d = self.dim % len(shape)
        known = math.prod(n for n in self.unflattened_size if n != -1)
        if (-1 in self.unflattened_size and shape[d] % known) or (
                -1 not in self.unflattened_size and known != shape[d]):
            raise ShapeError(f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size}) got input of "
                             f"shape {shape}: dimension {self.dim} has size {shape[d]}")
        return x.reshape(shape[:d] + self.unflattened_size + shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

"""Normalization layers: BatchNorm1d, BatchNorm2d (with running statistics as buffers), LayerNorm,
GroupNorm.

Batch normalization keeps ``running_mean``, ``running_var`` and ``num_batches_tracked`` as
buffers: saved in ``state_dict()`` and checkpoints, not trained. ``train()`` normalizes with each
batch's statistics and updates the running ones; ``eval()`` normalizes with the running ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.nn import functional
from graphgrad.nn.module import Module, positive_int
from graphgrad.nn.parameter import Parameter
from graphgrad.ops.core import host
from graphgrad.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm"]


class _Counter:
    """The buffer ``num_batches_tracked``, handed to :func:`_count_batch` as itself (not its array)."""

    __slots__ = ("seen",)

    def __init__(self, seen: Tensor) -> None:
        self.seen = seen


def _count_batch(counter: _Counter) -> None:
    counter.seen.data += 1
    counter.seen.bump_version()


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; subclasses say which input ranks they take."""

    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        num_features = positive_int(num_features, "num_features", name)
        if momentum is not None and not 0.0 <= float(momentum) <= 1.0:
            raise ConfigError(f"{name}: momentum must be in [0, 1] or None (a cumulative average), got {momentum!r}")
        if not float(eps) > 0:
            raise ConfigError(f"{name}: eps must be positive, got {eps!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine else None
        self.running_mean: Tensor | None = None
        self.running_var: Tensor | None = None
        self.num_batches_tracked: Tensor | None = None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        for buffer, value in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
            if buffer is not None:
                buffer.copy_(value)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}) got input of shape {tuple(x.shape)}; "
                             f"expected {self.layout} with C = {self.num_features}")
        momentum = 0.0 if self.momentum is None else self.momentum
        seen = self.num_batches_tracked
        if self.training and seen is not None:
            host(_count_batch, _Counter(seen))  # also at every replay of a captured step
            if self.momentum is None:  # a cumulative moving average, as PyTorch (not captured: it changes)
                momentum = 1.0 / float(seen.data)
        use_batch = self.training or not self.track_running_stats
        return functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
                                     momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` features or ``(N, C, L)`` sequences, per channel C.

    ``weight`` starts at ones, ``bias`` at zeros, ``running_mean`` at zeros, ``running_var`` at
    ones; the running variance is updated with the unbiased batch variance, as PyTorch.
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` images per channel; see :class:`BatchNorm1d`."""

    ranks = (4,)
    layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalize each example over its last axes (``normalized_shape``), then scale and shift
    elementwise (``weight`` ones, ``bias`` zeros, of that shape), as PyTorch's ``LayerNorm``."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
            raise ConfigError(f"LayerNorm: normalized_shape must be positive integers, got {normalized_shape!r}")
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalize each example's groups of channels (``num_groups`` groups of num_channels /
    num_groups channels, over every position), then scale and shift per channel (``weight`` ones,
    ``bias`` zeros, ``(num_channels,)``), as PyTorch's ``GroupNorm``. The same in training and
    evaluation: no running statistics, so it works at any batch size."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        num_groups = positive_int(num_groups, "num_groups", "GroupNorm")
        num_channels = positive_int(num_channels, "num_channels", "GroupNorm")
        if num_channels % num_groups:
            raise ConfigError(f"GroupNorm: num_channels {num_channels} must be divisible by num_groups {num_groups}")
        if not float(eps) > 0:
            raise ConfigError(f"GroupNorm: eps must be positive, got {eps!r}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        self.weight = Parameter(np.ones(self.num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype)) if affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}) got input of shape "
                             f"{tuple(x.shape)}; expected (N, C, ...) with C = {self.num_channels}")
        return functional.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d and ConvTranspose2d, with PyTorch's
arguments and default initialization."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, ShapeError
from graphgrad.nn import functional
from graphgrad.nn import init as nn_init
from graphgrad.nn.module import Module, positive_int
from graphgrad.nn.parameter import Parameter
from graphgrad.ops.conv import resolve_padding, transposed_size
from graphgrad.ops.shape import pad
from graphgrad.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
"""PyTorch's padding modes and the ``numpy.pad`` modes that do the same."""


def _tuple(value: Any, n: int, name: str, layer: str) -> tuple[int, ...]:
    items = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise ConfigError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvNd(Module):
    """What the convolution layers share: arguments, parameters, initialization, padding modes.

    A transposed convolution's weight is (in_channels, out_channels / groups, *kernel), an ordinary
    one's (out_channels, in_channels / groups, *kernel); both initialize from fan_in = weight.shape[1]
    times the kernel's size, as PyTorch."""

    dims = 2
    transposed = False

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", rng: Any = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        layer, n = type(self).__name__, self.dims
        self.in_channels = positive_int(in_channels, "in_channels", layer)
        self.out_channels = positive_int(out_channels, "out_channels", layer)
        self.groups = positive_int(groups, "groups", layer)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ConfigError(f"{layer}: in_channels {in_channels} and out_channels {out_channels} must both be "
                              f"divisible by groups {groups}")
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", layer)
        self.stride = _tuple(stride, n, "stride", layer)
        self.dilation = _tuple(dilation, n, "dilation", layer)
        numbers = None if isinstance(padding, str) else _tuple(padding, n, "padding", layer)
        self.padding: str | tuple[int, ...] = padding if numbers is None else numbers
        if padding_mode not in PADDING_MODES:
            raise ConfigError(f"{layer}: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ConfigError(f"{layer}: kernel_size, stride and dilation must be positive")
        # resolved here, so that a bad combination (padding='same' with stride 2) fails at construction;
        # Conv1d is a Conv2d on images of height 1
        def pair(values: tuple[int, ...], fill: int) -> tuple[int, int]:
            full = (fill,) * (2 - n) + values
            return full[0], full[1]

        self._pads = resolve_padding(padding if numbers is None else pair(numbers, 0),
                                     pair(self.kernel_size, 1), pair(self.dilation, 1), pair(self.stride, 1), layer)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.output_padding: tuple[int, ...] = (0,) * n
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        nn_init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=gen)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        self.bias = None
        if bias:
            bound = 1.0 / math.sqrt(math.prod(shape[1:]))
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
            nn_init.uniform_(self.bias, -bound, bound, rng=gen)

    def _check(self, x: Tensor) -> None:
        n = self.dims
        if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != self.in_channels:
            layout = "(N, C, L) or (C, L)" if n == 1 else "(N, C, H, W) or (C, H, W)"
            raise ShapeError(f"{type(self).__name__}(in_channels={self.in_channels}) got input of shape "
                             f"{tuple(x.shape)}; expected {layout} with C = {self.in_channels}")

    def _padded_input(self, x: Tensor) -> tuple[Tensor, Any]:
        """The input and the padding left for the convolution (modes other than zeros pad here)."""
        if self.padding_mode == "zeros":
            return x, self.padding
        pairs = self._pads[2 - self.dims:]
        widths = ((0, 0),) * (x.ndim - self.dims) + tuple(pairs)
        return pad(x, widths, mode=PADDING_MODES[self.padding_mode]), 0

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over ``(N, C, H, W)`` images, as PyTorch's ``Conv2d``.

    ``weight`` has shape (out_channels, in_channels / groups, kH, kW) and ``bias`` (out_channels,);
    both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * kH * kW,
    drawn from ``rng`` (a Generator or a seed), weight first. ``padding`` is an int, a pair,
    ``"same"`` or ``"valid"``; ``padding_mode`` ``"zeros"``, ``"reflect"``, ``"replicate"`` or
    ``"circular"``.
    """

    dims = 2

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        x, padding = self._padded_input(x)
        return functional.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C, L)`` sequences, as PyTorch's ``Conv1d``; arguments and
    initialization as :class:`Conv2d` with one spatial axis."""

    dims = 1

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        x, padding = self._padded_input(x)
        return functional.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d and ConvTranspose2d share: PyTorch's argument order, ``output_padding``
    (checked here: smaller than the stride or the dilation) and ``forward``'s ``output_size``."""

    transposed = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
        rng: Any = None, dtype: Any = np.float32,
    ) -> None:
        layer, n = type(self).__name__, self.dims
        if padding_mode != "zeros":
            raise ConfigError(f"{layer}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if isinstance(padding, str):
            raise ConfigError(f"{layer}: padding must be an int or a tuple of {n} ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, rng, dtype)
        self.output_padding = _tuple(output_padding, n, "output_padding", layer)
        for o, s, d in zip(self.output_padding, self.stride, self.dilation):
            if o < 0 or (o >= s and o >= d):
                raise ConfigError(f"{layer}: output_padding {self.output_padding} must be at least 0 and smaller "
                                  f"than the stride {self.stride} or the dilation {self.dilation}")

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        """``output_padding``, or the one that gives ``output_size`` (the spatial sizes, or the whole
        shape), as PyTorch: each size between the smallest output and that plus stride - 1."""
        if output_size is None:
            return self.output_padding
        n, layer = self.dims, type(self).__name__
        sizes = (output_size,) if isinstance(output_size, (int, np.integer)) else tuple(output_size)
        if len(sizes) == x.ndim:
            sizes = sizes[x.ndim - n:]
        if len(sizes) != n or not all(isinstance(v, (int, np.integer)) for v in sizes):
            raise ConfigError(f"{layer}: output_size must be {n} ints (or the output's whole shape, {x.ndim}) for "
                              f"input of shape {tuple(x.shape)}, got {output_size!r}")
        spatial, padding = x.shape[x.ndim - n:], self.padding
        assert not isinstance(padding, str)  # refused at construction
        smallest = [transposed_size(size, k, s, p, d, 0) for size, s, p, d, k in zip(
            spatial, self.stride, padding, self.dilation, self.kernel_size)]
        largest = [low + s - 1 for low, s in zip(smallest, self.stride)]
        if any(not low <= size <= high for size, low, high in zip(sizes, smallest, largest)):
            raise ShapeError(f"{layer}: output_size {tuple(int(v) for v in sizes)} is not reachable from input of "
                             f"shape {tuple(x.shape)}: each size must lie between {tuple(smallest)} and "
                             f"{tuple(largest)}")
        return tuple(int(size) - low for size, low in zip(sizes, smallest))


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over ``(N, C, H, W)`` images, as PyTorch's ``ConvTranspose2d``: the
    gradient of a :class:`Conv2d` with respect to its input, an upsampling layer.

    ``weight`` has shape (in_channels, out_channels / groups, kH, kW) and ``bias`` (out_channels,);
    both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = out_channels / groups * kH * kW,
    drawn from ``rng`` (a Generator or a seed), weight first. The output is
    (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1 high (W alike);
    ``forward(x, output_size)`` picks the ``output_padding`` that gives ``output_size``.
    """

    dims = 2

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        self._check(x)
        return functional.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                           self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over ``(N, C, L)`` sequences, as PyTorch's ``ConvTranspose1d``;
    arguments and initialization as :class:`ConvTranspose2d` with one spatial axis."""

    dims = 1

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        self._check(x)
        return functional.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                           self._output_padding(x, output_size), self.groups, self.dilation)

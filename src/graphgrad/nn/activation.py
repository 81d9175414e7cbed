"""Activation layers, each wrapping one function so it can sit in a Sequential.

Most wrap an op of :mod:`graphgrad.ops`. The ones PyTorch CNNs add (SiLU, ReLU6, Hardtanh,
Hardsigmoid, Hardswish, Mish) are defined here as functions composed of graphgrad ops, so their
gradients (second order included) and captured steps come from those ops. At the kinks of the
piecewise ones the gradient is PyTorch's: each kink belongs to the outer piece (see
:func:`hardtanh`).
"""

from __future__ import annotations

from typing import Any

from graphgrad import ops
from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module
from graphgrad.ops.core import applied, inplace_flag
from graphgrad.ops.nn import LAST_AXIS, axis_or_dim
from graphgrad.tensor import Tensor

__all__ = [
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "ELU", "Softplus", "Softmax", "LogSoftmax",
    "SiLU", "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish",
    "silu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "mish",
]


# ------------------------------------------------------------------ functions built from graphgrad ops
def _pieces(x: Tensor, lo: float, hi: float, below: Any, middle: Any, above: Any) -> Tensor:
    """``below`` where ``x <= lo``, ``above`` where ``x >= hi``, ``middle`` in between: the kinks
    belong to the outer pieces, as PyTorch's gradients have it (``where`` gives the pieces not
    taken exactly zero gradient; the comparisons are graphgrad ops, so a captured step repeats them)."""
    return ops.where(ops.less_equal(x, lo), below, ops.where(ops.greater_equal(x, hi), above, middle))


def _bound(value: Any, name: str, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _hardtanh_bounds(min_val: Any, max_val: Any, op: str) -> tuple[float, float]:
    lo, hi = _bound(min_val, "min_val", op), _bound(max_val, "max_val", op)
    if not lo < hi:
        raise ConfigError(f"{op}: min_val must be less than max_val, got min_val={min_val!r}, max_val={max_val!r}")
    return lo, hi


def silu(x: Any, inplace: bool = False) -> Tensor:
    """SiLU (swish): ``x * sigmoid(x)``; smooth, gradient ``s + x s (1 - s)`` with ``s = sigmoid(x)``."""
    return applied(lambda t: t * ops.sigmoid(t), x, inplace, "silu")


def mish(x: Any, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``; smooth (softplus is the identity above 20, where tanh is 1 in float64)."""
    return applied(lambda t: t * ops.tanh(ops.softplus(t)), x, inplace, "mish")


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]``. The gradient is 1 strictly inside and 0 outside and
    at the bounds themselves (PyTorch's; :func:`graphgrad.clip` passes it at the bounds)."""
    lo, hi = _hardtanh_bounds(min_val, max_val, "hardtanh")
    return applied(lambda t: _pieces(t, lo, hi, lo, t, hi), x, inplace, "hardtanh")


def relu6(x: Any, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``: :func:`hardtanh` on ``[0, 6]`` (gradient 0 at 0 and at 6, as PyTorch)."""
    return applied(lambda t: _pieces(t, 0.0, 6.0, 0.0, t, 6.0), x, inplace, "relu6")


def hardsigmoid(x: Any, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: 0 up to -3, 1 from 3, linear between; gradient 1/6 strictly between
    -3 and 3 and 0 elsewhere, at -3 and 3 included (PyTorch's)."""
    return applied(lambda t: _pieces(t, -3.0, 3.0, 0.0, (t + 3.0) / 6.0, 1.0), x, inplace, "hardsigmoid")


def hardswish(x: Any, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``: 0 up to -3, x from 3, ``x (x + 3) / 6`` between; gradient
    ``x / 3 + 1/2`` strictly between, 0 at -3 and 1 at 3 (PyTorch's)."""
    return applied(lambda t: _pieces(t, -3.0, 3.0, 0.0, t * (t + 3.0) / 6.0, t), x, inplace, "hardswish")


class _Activation(Module):
    """A layer applying one function, with PyTorch's ``inplace`` argument: ``True`` writes the
    result into the input (see :func:`graphgrad.relu`)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace_flag(inplace, type(self).__name__)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x, inplace=self.inplace)


class LeakyReLU(_Activation):
    """x for x > 0, ``negative_slope * x`` otherwise (``inplace`` as :class:`ReLU`'s)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return ops.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x)), the lecture notes' activation."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class GELU(Module):
    """x * Phi(x) (Phi: the standard normal CDF); ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return ops.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class ELU(_Activation):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (``inplace`` as :class:`ReLU`'s)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return ops.elu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, a smooth ReLU; the identity where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ConfigError(f"Softplus: beta must be a positive number, got {beta!r}")
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``axis`` (``dim`` is accepted as PyTorch spells it)."""

    def __init__(self, axis: int = LAST_AXIS, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis_or_dim(axis, dim, "Softmax")

    def forward(self, x: Tensor) -> Tensor:
        return ops.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``axis``, computed stably (x - logsumexp(x))."""

    def __init__(self, axis: int = LAST_AXIS, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis_or_dim(axis, dim, "LogSoftmax")

    def forward(self, x: Tensor) -> Tensor:
        return ops.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


# ------------------------------------------------------------------ the layers PyTorch CNNs add
class SiLU(_Activation):
    """``x * sigmoid(x)`` (see :func:`silu`)."""

    def forward(self, x: Tensor) -> Tensor:
        return silu(x, self.inplace)


class Mish(_Activation):
    """``x * tanh(softplus(x))`` (see :func:`mish`)."""

    def forward(self, x: Tensor) -> Tensor:
        return mish(x, self.inplace)


class ReLU6(_Activation):
    """``min(max(x, 0), 6)`` (see :func:`relu6`)."""

    def forward(self, x: Tensor) -> Tensor:
        return relu6(x, self.inplace)


class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6`` (see :func:`hardsigmoid`)."""

    def forward(self, x: Tensor) -> Tensor:
        return hardsigmoid(x, self.inplace)


class Hardswish(_Activation):
    """``x * relu6(x + 3) / 6`` (see :func:`hardswish`)."""

    def forward(self, x: Tensor) -> Tensor:
        return hardswish(x, self.inplace)


class Hardtanh(_Activation):
    """``x`` clipped to ``[min_val, max_val]`` (see :func:`hardtanh`)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.min_val, self.max_val = _hardtanh_bounds(min_val, max_val, "Hardtanh")

    def forward(self, x: Tensor) -> Tensor:
        return hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")

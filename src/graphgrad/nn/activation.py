"""Activation layers: each wraps one elementwise op (or softmax) so it can sit in a Sequential."""

from __future__ import annotations

from graphgrad import ops
from graphgrad.errors import ConfigError
from graphgrad.nn import functional
from graphgrad.nn.module import Module, inplace_flag
from graphgrad.tensor import Tensor

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "ELU", "Softplus", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """max(x, 0). ``inplace=True`` (PyTorch's) writes the result into the input (see :func:`relu`)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace_flag(inplace, "ReLU")

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise (``inplace`` as :class:`ReLU`'s)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace_flag(inplace, "LeakyReLU")

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


class ELU(Module):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (``inplace`` as :class:`ReLU`'s)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace_flag(inplace, "ELU")

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


def _axis(axis: int, dim: int | None, name: str) -> int:
    value = axis if dim is None else dim
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: axis must be an integer, got {value!r}")
    return value


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``axis`` (``dim`` is accepted as PyTorch spells it)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis(axis, dim, "Softmax")

    def forward(self, x: Tensor) -> Tensor:
        return functional.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``axis``, computed stably (x - logsumexp(x))."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis(axis, dim, "LogSoftmax")

    def forward(self, x: Tensor) -> Tensor:
        return functional.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

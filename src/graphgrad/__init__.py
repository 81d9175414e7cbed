"""graphgrad: reverse-mode automatic differentiation over a computational graph, on NumPy."""

from graphgrad import errors
from graphgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from graphgrad.ops import *  # noqa: F403  (every public op is graphgrad.<name>)
from graphgrad.ops import __all__ as _ops_all
from graphgrad.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor", "enable_grad", "errors", "is_grad_enabled", "no_grad", "set_grad_enabled",
    *_ops_all,
]  # fmt: skip

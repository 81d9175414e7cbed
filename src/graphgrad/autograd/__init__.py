"""The engine (backward), grad modes, function transforms, custom ops and checking tools."""

from graphgrad.autograd.anomaly import detect_anomaly
from graphgrad.autograd.check import gradcheck, naive_grad, path_sum_grad
from graphgrad.autograd.custom import CustomOp, custom_op
from graphgrad.autograd.functional import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from graphgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "CustomOp",
    "custom_op",
    "detect_anomaly",
    "elementwise_grad",
    "enable_grad",
    "grad",
    "gradcheck",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "jacrev",
    "jvp",
    "naive_grad",
    "no_grad",
    "path_sum_grad",
    "set_grad_enabled",
    "value_and_grad",
    "vjp",
]

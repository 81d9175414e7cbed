"""The engine (backward), grad modes, functional transforms and checking tools."""

from graphgrad.autograd.anomaly import detect_anomaly
from graphgrad.autograd.check import gradcheck, naive_grad, path_sum_grad
from graphgrad.autograd.functional import grad, hvp, jacobian, value_and_grad, vjp
from graphgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "naive_grad",
    "no_grad",
    "path_sum_grad",
    "set_grad_enabled",
    "value_and_grad",
    "vjp",
]

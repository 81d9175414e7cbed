"""The engine (backward), grad modes, functional transforms and checking tools."""

from graphgrad.autograd.anomaly import detect_anomaly
from graphgrad.autograd.check import gradcheck
from graphgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["detect_anomaly", "enable_grad", "gradcheck", "is_grad_enabled", "no_grad", "set_grad_enabled"]

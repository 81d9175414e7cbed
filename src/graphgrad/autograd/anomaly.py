"""detect_anomaly: stop at the first op whose forward value or backward gradient is NaN (or inf)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import RULES, STATE, get_mode
from graphgrad.errors import AnomalyError

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_line() -> str:
    """``file:line`` of the innermost caller outside graphgrad (where the user made the op)."""
    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _bad(arr: np.ndarray) -> str | None:
    if arr.dtype.kind not in "fc":
        return None
    if np.isnan(arr).any():
        return "NaN"
    if STATE.check_inf and np.isinf(arr).any():
        return "inf"
    return None


def check_forward(op: Any, inputs: tuple, out: Any) -> None:
    """Called by every op under anomaly mode: remember the user's line, stop on a bad value.

    Ops run by a gradient rule inside backward are not checked here: a rule may compute a NaN or
    inf that it then masks (``where``), and the engine checks the gradient each rule returns.
    """
    where = user_line()
    if out._node is not None:
        out._node.origin = where
    if get_mode() & RULES:  # an op inside a gradient rule, not the user's forward
        return
    bad = _bad(out.data)
    if bad:
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise AnomalyError(
            f"forward of '{op.name}' produced {bad} in its output of shape {out.shape} "
            f"(input shapes {shapes}), at {where}"
        )


def check_backward(node: Any, k: int, grad: Any) -> None:
    """Called for every gradient the engine computes under anomaly mode."""
    bad = _bad(grad.data)
    if bad:
        shapes = ", ".join(str(t.shape) for t in node.inputs)
        raise AnomalyError(
            f"backward of '{node.op.name}' produced {bad} in the gradient of input {k} "
            f"(input shapes {shapes}), op created at {node.origin or '<unknown>'}"
        )


def check_summed(t: Any, grad: Any) -> None:
    """For the engine to call on a tensor's complete gradient (the sum over its consumers).

    Each rule's result can be finite while their sum is not (+inf and -inf from two consumers).
    """
    bad = _bad(grad.data)
    if bad:
        node = t._node
        what = "a leaf" if node is None else f"the output of '{node.op.name}' (created at {node.origin or '<unknown>'})"
        raise AnomalyError(
            f"backward: the gradients flowing into {what}, shape {t.shape}, sum to {bad}; "
            "no single consumer's gradient was, so two of them cancel (e.g. +inf and -inf)"
        )


class detect_anomaly:  # noqa: N801 (PyTorch's name)
    """Context manager: every op checks its output, backward checks every gradient.

    ``check_inf=True`` also stops at infinities. Costs a NaN scan per op, so use it to debug.
    """

    def __init__(self, check_inf: bool = False) -> None:
        self.check_inf = check_inf
        self._saved: list[tuple[bool, bool]] = []

    def __enter__(self) -> detect_anomaly:
        self._saved.append((STATE.anomaly, STATE.check_inf))
        STATE.anomaly, STATE.check_inf = True, self.check_inf
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly, STATE.check_inf = self._saved.pop()

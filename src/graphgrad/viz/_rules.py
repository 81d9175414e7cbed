"""The views apply a node's derivative rules through the engine's own function, never recording.

``input_gradients(out, g)`` is :func:`graphgrad.autograd.engine.input_gradients` (the rules of the
node that made ``out`` applied to ``g``, unbroadcast and cast per input; None where an input gets
no gradient) run under ``no_grad``: a view reads gradients, it never builds a graph of them.
"""

from __future__ import annotations

from graphgrad.autograd import engine
from graphgrad.autograd.grad_mode import no_grad
from graphgrad.tensor import Tensor


def input_gradients(out: Tensor, g: Tensor) -> list[Tensor | None]:
    """``[dL/d input_k for k]`` given ``g = dL/d out``, without recording and without side effects."""
    with no_grad():
        return engine.input_gradients(out, g)

"""The one mechanism every op goes through.

An :class:`Op` pairs a NumPy forward with one vector-Jacobian-product rule per input. Calling it
runs the forward and, when grad recording is on and an input requires a gradient, attaches a
:class:`Node` to the output: the op, its inputs and parameters, and the inputs' version numbers
(for in-place checks). Rules are written with graphgrad ops, so the engine can run them without
recording (ordinary backward) or while recording (``create_graph=True``, higher derivatives).
Rules return the gradient in the *broadcast* shape; the engine sums it back to each input's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.errors import ShapeError
from graphgrad.tensor import Tensor

Rule = Callable[..., Tensor | None]

REGISTRY: dict[str, "Op"] = {}
"""Every op by name: the engine's table of primitives (tests and views read it)."""


class Op:
    """A primitive: ``forward(*arrays, **params) -> ndarray`` and ``vjps[i](g, out, *inputs, **params)``.

    ``vjps=None`` marks an op whose output carries no gradient (comparisons, argmax).
    A rule may return ``None`` when the gradient for that input is zero.
    """

    __slots__ = ("name", "forward", "vjps")

    def __init__(self, name: str, forward: Callable[..., Any], vjps: Sequence[Rule] | None) -> None:
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is defined twice")
        self.name = name
        self.forward = forward
        self.vjps = None if vjps is None else tuple(vjps)
        REGISTRY[name] = self

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        return apply(self, inputs, params)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


class Node:
    """How a tensor was made: the op, its inputs and parameters, and what backward must check."""

    __slots__ = ("op", "inputs", "params", "versions", "origin")

    def __init__(self, op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> None:
        self.op = op
        self.inputs: tuple[Tensor, ...] | None = inputs  # None once backward has freed the graph
        self.params = params
        self.versions = tuple([t._version for t in inputs])
        self.origin: str | None = None  # the user's line, recorded under detect_anomaly

    def __repr__(self) -> str:
        return f"<node {self.op.name}>"


def apply(op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """Run ``op`` on tensors; record a node if a gradient will be needed."""
    try:
        data = op.forward(*[t.data for t in inputs], **params)
    except (ValueError, IndexError) as exc:
        shapes = ", ".join(str(t.data.shape) for t in inputs)
        raise ShapeError(f"{op.name}: {exc} (input shapes {shapes})") from exc
    if data.__class__ is not np.ndarray:
        data = np.asarray(data)
    out = Tensor._wrap(data)
    if STATE.enabled and op.vjps is not None:
        for t in inputs:
            if t._requires_grad:
                out._requires_grad = True
                out._node = Node(op, inputs, params)
                break
    if STATE.anomaly:
        from graphgrad.autograd import anomaly

        anomaly.check_forward(op, inputs, out)
    return out


def lift(value: Any, like: Tensor | None = None) -> Tensor:
    """Make an op's operand a Tensor without copying.

    Python numbers take the dtype NumPy would give them next to ``like`` (a float next to a
    float32 tensor stays float32), so constants never upcast the hot path.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)
    if isinstance(value, (bool, int, float)) and like is not None:
        return Tensor._wrap(np.asarray(value, dtype=np.result_type(like.data.dtype, value)))
    return Tensor(value)


def lift_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Lift both operands of a binary op, each Python number taking the other's dtype."""
    if isinstance(a, Tensor):
        return a, lift(b, a)
    b = lift(b)
    return lift(a, b), b

"""The one mechanism every op goes through.

An :class:`Op` pairs a NumPy forward with one vector-Jacobian-product rule per input. Calling it
runs the forward and, when grad recording is on and an input requires a gradient, attaches a
:class:`Node` to the output: the op, its inputs and parameters, and the inputs' version numbers
(for in-place checks). Rules are written with graphgrad ops, so the engine can run them without
recording (ordinary backward) or while recording (``create_graph=True``, higher derivatives).
Rules return the gradient in the *broadcast* shape; the engine sums it back to each input's shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.errors import ShapeError
from graphgrad.tensor import Tensor

_wrap = Tensor._wrap

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
        """Run the forward on tensors; record a node if a gradient will be needed."""
        try:
            n = len(inputs)
            if params:
                data = self.forward(*[t.data for t in inputs], **params)
            elif n == 2:
                data = self.forward(inputs[0].data, inputs[1].data)
            elif n == 1:
                data = self.forward(inputs[0].data)
            else:
                data = self.forward(*[t.data for t in inputs])
        except (ValueError, IndexError) as exc:
            shapes = ", ".join(str(t.data.shape) for t in inputs)
            raise ShapeError(f"{self.name}: {exc} (input shapes {shapes})") from exc
        if data.__class__ is not np.ndarray:
            data = np.asarray(data)
        out = _wrap(data)
        if STATE.enabled and self.vjps is not None:
            for t in inputs:
                if t._requires_grad:
                    out._requires_grad = True
                    out._node = Node(self, inputs, params)
                    break
        if STATE.anomaly:
            from graphgrad.autograd import anomaly

            anomaly.check_forward(self, inputs, out)
        return out

    def __repr__(self) -> str:
        return f"<op {self.name}>"


class Node:
    """How a tensor was made: the op, its inputs and parameters, and what backward must check."""

    __slots__ = ("op", "inputs", "params", "versions", "out_version", "origin")

    def __init__(self, op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> None:
        self.op = op
        self.inputs: tuple[Tensor, ...] | None = inputs  # None once backward has freed the graph
        self.params = params
        self.versions = tuple([t._version for t in inputs])  # checked by backward
        self.out_version = 0  # the output's version when made (not 0 only for x[i] = v)
        self.origin: str | None = None  # the user's line, recorded under detect_anomaly

    def __repr__(self) -> str:
        return f"<node {self.op.name}>"


def apply(op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """``op(*inputs, **params)``."""
    return op(*inputs, **params)


_CONSTANTS: dict[tuple[Any, ...], Tensor] = {}
"""Tensors for Python-number operands, by (type, value, dtype): constants recur in every step."""


def _constant(value: bool | int | float, dtype: np.dtype) -> Tensor:
    key = (value.__class__, value, dtype)
    t = _CONSTANTS.get(key)
    if t is None:
        t = _wrap(np.array(value, dtype=dtype))
        t.data.flags.writeable = False
        if value == value and len(_CONSTANTS) < 4096:  # NaN never matches itself; keep the cache small
            _CONSTANTS[key] = t
    return t


def lift(value: Any, like: Tensor | None = None) -> Tensor:
    """Make an op's operand a Tensor without copying.

    Python numbers take the dtype NumPy would give them next to ``like`` (a float next to a
    float32 tensor stays float32), so constants never upcast the hot path.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _wrap(value)
    if isinstance(value, (bool, int, float)) and like is not None:
        dtype = like.data.dtype
        if dtype.kind not in "fc" or value.__class__ is not float and value.__class__ is not int:
            dtype = np.result_type(dtype, value)
        if value.__class__ is float and value == 0.0 and math.copysign(1.0, value) < 0:
            return _wrap(np.array(value, dtype=dtype))  # keep -0.0 out of the cache (0.0 == -0.0)
        return _constant(value, dtype)
    return Tensor(value)


def lift_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Lift both operands of a binary op, each Python number taking the other's dtype."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return a, b
        return a, lift(b, a)
    b = lift(b)
    return lift(a, b), b

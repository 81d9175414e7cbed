"""The one place the views apply a node's derivative rules (a stand-in for the engine's own).

``input_gradients(out, g)`` has exactly the signature of
``graphgrad.autograd.engine.input_gradients``: the rules of the node that made ``out``, applied to
the upstream gradient ``g``, each result summed back to its input's shape and cast to its dtype
(None where an input gets no gradient). Every view calls this function and nothing else, so when
the engine's version lands this module becomes one import.
"""

from __future__ import annotations

import numpy as np

from graphgrad.autograd.grad_mode import no_grad
from graphgrad.errors import GraphFreedError
from graphgrad.tensor import Tensor


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if g.shape == shape:
        return g
    if g.size == 1 and len(g.shape) <= len(shape):
        return np.broadcast_to(g.reshape(()), shape).copy()
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def input_gradients(out: Tensor, g: Tensor) -> list[Tensor | None]:
    """``[dL/d input_k for k]`` given ``g = dL/d out``, without recording and without side effects."""
    node = out._node
    if node is None:
        return []
    if node.inputs is None:
        raise GraphFreedError(
            f"cannot explain through '{node.op.name}': backward() already freed this graph; explain "
            "before backward, or call backward(retain_graph=True)"
        )
    rules = node.op.vjps
    result: list[Tensor | None] = []
    for k, p in enumerate(node.inputs):
        if rules is None or rules[k] is None or not p._requires_grad:
            result.append(None)
            continue
        with no_grad(), np.errstate(all="ignore"):
            gk = rules[k](g, out, *node.inputs, **node.params)
        if gk is None:
            result.append(None)
            continue
        arr = _unbroadcast(np.asarray(gk.data), p.data.shape).astype(p.data.dtype, copy=False)
        result.append(Tensor(arr))
    return result

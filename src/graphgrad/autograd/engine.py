"""Backward: reverse-mode accumulation over the recorded graph.

The graph is walked once, iteratively (no recursion, so a chain of a million ops works under the
default recursion limit), visiting only tensors that require a gradient. Nodes are then processed
in reverse topological order: each node's gradient is complete (the sum over all its consumers,
the multivariate chain rule) before its rule passes it on. Each node and edge is touched a
constant number of times, so the cost is linear in nodes + edges.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.errors import BackwardError, GraphFreedError, InplaceError, ShapeError
from graphgrad.ops.core import Node
from graphgrad.tensor import Tensor


def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors that lead to ``roots`` and require a gradient, each after all of its inputs.

    Raises :class:`GraphFreedError` on reaching a node whose graph an earlier backward freed.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots) if r._requires_grad]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is None:
            continue
        if node.inputs is None:
            raise GraphFreedError(
                f"backward through the graph of '{node.op.name}' a second time: its saved values "
                "were freed by the first backward; pass retain_graph=True to the first one"
            )
        for p in node.inputs:
            if p._requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor | None],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``inputs``, gradients accumulate into ``.grad`` of the leaves (and of tensors that
    called ``retain_grad()``). With ``inputs``, nothing is accumulated: the gradients with respect
    to those tensors are returned, in order (``None`` where no path leads there).
    """
    grads: dict[int, Tensor] = {}
    owned: set[int] = set()  # ids of gradient arrays this pass allocated and may add into in place
    for r, g in zip(roots, root_grads):
        if not r._requires_grad:
            raise BackwardError(
                f"backward of a tensor of shape {r.shape} that does not require a gradient "
                "(no input had requires_grad=True, or it was made under no_grad)"
            )
        g = _root_grad(r, g)
        _accumulate(grads, owned, id(r), g, create_graph)

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        order = topological_order(roots)
    finally:
        if gc_was_enabled:
            gc.enable()
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found: list[Tensor | None] = [None] * (0 if inputs is None else len(inputs))
    handed_out: set[int] = set()  # ids of arrays already stored in some .grad

    saved_mode = STATE.enabled
    STATE.enabled = create_graph
    gc_was_enabled = gc.isenabled()
    gc.disable()  # backward makes no reference cycles; collector passes over a big graph cost O(graph)
    pop = grads.pop
    try:
        for i in range(len(order) - 1, -1, -1):
            t = order[i]
            order[i] = None  # type: ignore[call-overload]  # let used tensors go early
            g = pop(id(t), None)
            if g is None:
                continue
            if owned:
                owned.discard(id(g.data))  # complete now: rules may pass it on, so never add into it
            if STATE.anomaly:
                from graphgrad.autograd import anomaly

                anomaly.check_summed(t, g)
            node = t._node
            if wanted is not None:
                if id(t) in wanted:
                    found[wanted[id(t)]] = g
            elif node is None or t._retain:
                _store_grad(t, g, handed_out)
            if node is None:
                continue
            ins = node.inputs
            for p, v in zip(ins, node.versions):
                if p._version != v:
                    _raise_inplace(node, p, v)
            if t._version != node.out_version:
                _raise_inplace(node, t, node.out_version)
            rules = node.op.vjps
            params = node.params
            for k, p in enumerate(ins):
                if not p._requires_grad:
                    continue
                gk = rules[k](g, t, *ins, **params)
                if gk is None:
                    continue
                pdata = p.data
                if gk.data.shape != pdata.shape:
                    gk = _unbroadcast(gk, p, node)
                if gk.data.dtype != pdata.dtype:
                    gk = gk.astype(pdata.dtype)
                if STATE.anomaly:
                    from graphgrad.autograd import anomaly

                    anomaly.check_backward(node, k, gk)
                key = id(p)
                if key in grads:
                    _accumulate(grads, owned, key, gk, create_graph)
                else:
                    grads[key] = gk
            if not retain_graph:
                node.inputs = None
    finally:
        STATE.enabled = saved_mode
        if gc_was_enabled:
            gc.enable()
    return found if inputs is not None else None


def _root_grad(root: Tensor, g: Tensor | None) -> Tensor:
    if g is None:
        if root.data.size != 1:
            raise BackwardError(
                f"backward of a non-scalar tensor of shape {root.shape} needs grad=: the gradient "
                "of some scalar with respect to it (for a loss, reduce it first, e.g. .sum())"
            )
        return Tensor._wrap(np.ones_like(root.data))
    if not isinstance(g, Tensor):
        g = Tensor._wrap(np.asarray(g, dtype=root.data.dtype))
    if g.shape != root.shape:
        raise ShapeError(f"backward: grad of shape {g.shape} for a tensor of shape {root.shape}")
    return g


def _accumulate(
    grads: dict[int, Tensor], owned: set[int], key: int, g: Tensor, create_graph: bool
) -> None:
    """Add ``g`` into the running gradient of tensor ``key``.

    The first gradient is kept as is (no copy). The second is summed into a new array that this
    pass owns; later ones are added into it in place, unless a graph is being recorded.
    """
    prev = grads.get(key)
    if prev is None:
        grads[key] = g
    elif create_graph:
        grads[key] = prev + g
    elif id(prev.data) in owned:
        np.add(prev.data, g.data, out=prev.data, casting="unsafe")
    else:
        total = Tensor._wrap(np.asarray(prev.data + g.data))  # 0-d sums come back as NumPy scalars
        owned.add(id(total.data))
        grads[key] = total


def _store_grad(t: Tensor, g: Tensor, handed_out: set[int]) -> None:
    """Accumulate into ``t.grad``, making sure no two tensors' ``.grad`` share one array."""
    if t.grad is not None:
        t.grad = t.grad + g  # a new array; recorded only under create_graph
        return
    if not g._requires_grad and id(g.data) in handed_out:
        g = Tensor._wrap(g.data.copy())
    t.grad = g
    handed_out.add(id(g.data))


def _unbroadcast(g: Tensor, p: Tensor, node: Node) -> Tensor:
    """Sum a gradient in the broadcast shape back to the shape of input ``p``."""
    shape = p.data.shape
    gshape = g.data.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, gshape[lead:])):
        if g.data.size == 1 or lead < 0:
            return g.broadcast_to(shape)  # a rule returned a scalar gradient for a broadcast input
        raise ShapeError(
            f"the gradient rule of '{node.op.name}' returned shape {gshape} for an input of shape "
            f"{shape}; this is a bug in that op's rule"
        )
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _raise_inplace(node: Node, t: Tensor, saved_version: int) -> None:
    if node.inputs is not None and any(p is t for p in node.inputs):
        raise InplaceError(
            f"an input of shape {t.shape} to '{node.op.name}' was modified in place after "
            f"'{node.op.name}' saved it (version {saved_version}, now {t._version}); backward would "
            "use the new values. Modify a copy instead, or call the op after the change"
        )
    raise InplaceError(
        f"the output of '{node.op.name}' (shape {t.shape}) was modified in place before "
        "backward; its rule needs the original values"
    )

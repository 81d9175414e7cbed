"""Backward: reverse-mode accumulation over the recorded graph.

The graph is walked once, iteratively (no recursion, so a chain of a million ops works under the
default recursion limit), visiting only tensors that require a gradient. Nodes are then processed
in reverse topological order: each node's gradient is complete (the sum over all its consumers,
the multivariate chain rule) before its rules pass it on. Each node and edge is touched a
constant number of times, so the cost is linear in nodes + edges.

:func:`input_gradients` is the one place where a node's rules are applied (backward, the slow
methods of :mod:`graphgrad.autograd.check` and the teaching views all go through it). While rules
run, the engine sets the ``RULES`` mode: products and quotients then follow ``0 * x = 0``, so a
zero upstream gradient gives exactly zero whatever the local derivative (the branch ``where``
does not take, derivatives of ``x ** 0`` at 0), with no guard in any rule.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import ANOMALY, CHECK_INF, RECORD, RULES, get_mode, set_mode
from graphgrad.errors import BackwardError, GraphFreedError, InplaceError, ShapeError
from graphgrad.ops.core import CAPTURE, TRACER, Node
from graphgrad.tensor import Tensor

_wrap = Tensor._wrap
_data = operator.attrgetter("data")

try:  # NumPy 2's floating-point error state is a context variable: setting it directly costs ~0.1 us
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj  # type: ignore[attr-defined]

    _IGNORE_ALL = _make_extobj(all="ignore")

    def _quiet() -> object:
        """Silence floating-point warnings (undo with :func:`_restore`): rules may meet inf or NaN
        that a zero gradient then annihilates, which is no reason to warn."""
        return _extobj_contextvar.set(_IGNORE_ALL)

    def _restore(token: object) -> None:
        _extobj_contextvar.reset(token)  # type: ignore[arg-type]

except ImportError:  # another NumPy: the public context manager, a few microseconds slower

    def _quiet() -> object:
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def _restore(token: object) -> None:
        token.__exit__(None, None, None)  # type: ignore[attr-defined]


_EXIT = object()
"""Marks, on the depth-first stack, that the tensor below it has had its inputs explored."""


def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors that lead to ``roots`` and require a gradient, each after all of its inputs.

    Raises :class:`GraphFreedError` on reaching a node whose graph an earlier backward freed.
    """
    order: list[Tensor] = []
    seen: set[Tensor] = set()  # tensors hash by identity
    stack: list[Any] = [r for r in reversed(roots) if r._requires_grad]
    push, pop, mark, done = stack.append, stack.pop, seen.add, order.append
    while stack:
        t = pop()
        if t is _EXIT:
            done(pop())  # its inputs are all in the order now
            continue
        if t in seen:
            continue
        mark(t)
        node = t._node
        if node is None:
            done(t)  # a leaf: nothing to explore
            continue
        ins = node.inputs
        if ins is None:
            raise GraphFreedError(
                f"backward through the graph of '{node.op.name}' a second time: its saved values "
                "were freed by the first backward; pass retain_graph=True to the first one"
            )
        push(t)
        push(_EXIT)
        # Leaves are pushed first, so they are explored last and land right before their consumer:
        # backward then completes (and hands to hooks) each parameter's gradient as soon as it can,
        # which lets data-parallel training start averaging it while backward goes on.
        for p in ins:
            if p._node is None and p._requires_grad and p not in seen:
                push(p)
        for p in ins:
            if p._node is not None and p._requires_grad and p not in seen:
                push(p)
    return order


# ---------------------------------------------------------------------------- applying one node's rules
def input_gradients(out: Tensor, g: Tensor) -> list[Tensor | None]:
    """The gradients for the inputs of the node that made ``out``, given ``out``'s gradient ``g``.

    Applies the node's rules (the raw-array fast path where the op declares one and nothing is
    being recorded), sums each result back to its input's shape and casts it to its dtype. One
    entry per input: ``None`` where the input needs no gradient or its rule returned ``None``.
    Runs in the caller's grad mode (under ``enable_grad`` the result is recorded and can be
    differentiated again). Raises if the graph was freed or a saved tensor changed in place.
    """
    node = out._node
    if node is None:
        raise BackwardError(f"input_gradients: the tensor of shape {out.shape} is a leaf (no op made it)")
    if node.inputs is None:
        raise GraphFreedError(
            f"input_gradients: the graph of '{node.op.name}' was freed by a backward; pass retain_graph=True to it"
        )
    if not isinstance(g, Tensor):
        g = _wrap(np.asarray(g, dtype=out.data.dtype))
    saved = get_mode()
    set_mode(saved | RULES)
    quiet = _quiet()
    try:
        return _apply_rules(node, out, g, saved | RULES)
    finally:
        _restore(quiet)
        set_mode(saved)


def _apply_rules(
    node: Node,
    out: Tensor,
    g: Tensor,
    mode: int,
    sums: dict[Tensor, Tensor] | None = None,
    owned: set[int] | None = None,
) -> list[Tensor | None]:
    """:func:`input_gradients` without the checks of its arguments; ``mode`` is the current mode.

    With ``sums`` (backward's running gradients, by tensor), each input's gradient is added
    there instead of returned (the list comes back empty): one loop per node on the hot path.
    """
    ins: tuple[Tensor, ...] = node.inputs  # type: ignore[assignment]
    for p, v in zip(ins, node.versions):
        if p._vc[0] != v:
            _raise_inplace(node, p, v)
    if out._vc[0] != node.out_version:
        _raise_inplace(node, out, node.out_version)
    op = node.op
    params = node.params
    rules: Any = op.vjps
    variadic = op.variadic
    fast: Any = None if mode & RECORD else op.array_vjps  # the raw-array path when nothing is recorded
    arrays: Any = None
    grads: list[Tensor | None] = []
    for k, p in enumerate(ins):
        if not p._requires_grad:
            if sums is None:
                grads.append(None)
            continue
        j = 0 if variadic else k
        rule = None if fast is None else fast[j]
        if rule is not None:
            if arrays is None:
                arrays = list(map(_data, ins))
            gd, od = g.data, out.data
            raw = rule(k, gd, od, *arrays, **params) if variadic else rule(gd, od, *arrays, **params)
            if mode & CAPTURE and raw is not None:
                if raw.__class__ is not np.ndarray:
                    raw = np.asarray(raw)
                args = (k, gd, od, *arrays) if variadic else (gd, od, *arrays)
                TRACER[0].record(rule, args, params, raw, f"{op.name} gradient {k}")
            gk = None if raw is None else _wrap(raw if raw.__class__ is np.ndarray else np.asarray(raw))
        else:
            rule = rules[j]
            gk = None if rule is None else rule(k, g, out, *ins, **params) if variadic else rule(g, out, *ins, **params)
        if gk is not None:
            pdata = p.data
            if gk.data.shape != pdata.shape:
                gk = _unbroadcast(gk, p, node)
            dtype = gk.data.dtype
            if dtype is not pdata.dtype and dtype != pdata.dtype:
                gk = gk.astype(pdata.dtype)
            if mode & ANOMALY:
                from graphgrad.autograd import anomaly

                anomaly.check_backward(node, k, gk)
            if sums is not None:
                if p in sums:
                    _accumulate(sums, owned, p, gk, bool(mode & RECORD))  # type: ignore[arg-type]
                else:
                    sums[p] = gk
                continue
        if sums is None:
            grads.append(gk)
    return grads


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
            f"an input of shape {t.shape} to '{node.op.name}' was modified in place (directly or through "
            f"a view or detach()) after '{node.op.name}' saved it (version {saved_version}, now "
            f"{t._vc[0]}); backward would use the new values. Change a copy instead (y = x * 1.0, then "
            "change y), or call the op after the change"
        )
    raise InplaceError(
        f"the output of '{node.op.name}' (shape {t.shape}) was modified in place (directly or through a "
        "view or detach()) before backward; its rule needs the original values"
    )


# ---------------------------------------------------------------------------- backward
def backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor | None],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``inputs``, gradients accumulate into ``.grad`` of the leaves (and of tensors that
    called ``retain_grad()``), and each leaf's post-accumulate-grad hooks run as soon as its
    gradient is complete. With ``inputs``, nothing is accumulated: the gradients with respect to
    those tensors are returned, in order (``None`` where no path leads there). Every gradient
    handed out is an array that nothing else holds (never the caller's ``root_grads``).
    """
    grads: dict[Tensor, Tensor] = {}  # running gradients (tensors hash by identity)
    owned: set[int] = set()  # ids of gradient arrays this pass allocated and may add into in place
    foreign: set[int] = set()  # ids of arrays the caller passed in: never handed out as a gradient
    for r, g in zip(roots, root_grads):
        if not r._requires_grad:
            raise BackwardError(
                f"backward of a tensor of shape {r.shape} that does not require a gradient "
                "(no input had requires_grad=True, or it was made under no_grad)"
            )
        g = _root_grad(r, g, foreign)
        _accumulate(grads, owned, r, g, create_graph)
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found: list[Tensor | None] = [None] * (0 if inputs is None else len(inputs))
    handed_out: set[int] = set()  # ids of arrays already stored in some .grad

    saved_mode = get_mode()
    mode = (RECORD if create_graph else 0) | (saved_mode & (ANOMALY | CHECK_INF | CAPTURE)) | RULES
    if mode & CAPTURE:
        _check_capturable(roots, create_graph, inputs)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # backward makes no reference cycles; collector passes over a big graph cost O(graph)
    try:
        order = topological_order(roots)
        set_mode(mode)
        quiet = _quiet()
        try:
            _run(order, grads, owned, mode, saved_mode, retain_graph, wanted, found, handed_out, foreign)
        finally:
            _restore(quiet)
            set_mode(saved_mode)
    finally:
        if gc_was_enabled:
            gc.enable()
    return found if inputs is not None else None


def _run(
    order: list[Tensor], grads: dict[Tensor, Tensor], owned: set[int], mode: int, saved_mode: int,
    retain_graph: bool, wanted: dict[int, int] | None, found: list[Tensor | None], handed_out: set[int],
    foreign: set[int],
) -> None:  # fmt: skip
    """Backward's loop: each tensor, consumers first, passes its complete gradient to its inputs."""
    pop = grads.pop
    for i in range(len(order) - 1, -1, -1):
        t = order[i]
        order[i] = None  # type: ignore[call-overload]  # let used tensors go early
        g = pop(t, None)
        if g is None:
            continue
        if owned:
            owned.discard(id(g.data))  # complete now: rules may pass it on, so never add into it
        if mode & ANOMALY:
            from graphgrad.autograd import anomaly

            anomaly.check_summed(t, g)
        node = t._node
        if wanted is not None:
            if id(t) in wanted:
                found[wanted[id(t)]] = _unshared(g, handed_out, foreign)
        elif node is None or t._retain:
            if mode & CAPTURE and (t._retain or t._post_hooks):
                TRACER[0].refuse("capture: backward reached a tensor with retain_grad() or a gradient "
                                 "hook (data-parallel training); run this step without capture")
            _store_grad(t, g, handed_out, foreign)
            if node is None and t._post_hooks:
                set_mode(saved_mode)  # a hook runs as user code, in the caller's mode
                try:
                    for hook in list(t._post_hooks.values()):
                        hook(t)
                finally:
                    set_mode(mode)
        if node is None:
            continue
        _apply_rules(node, t, g, mode, grads, owned)
        if not retain_graph:
            node.inputs = None


def _check_capturable(roots: Sequence[Tensor], create_graph: bool, inputs: Any) -> None:
    if create_graph or inputs is not None:
        TRACER[0].refuse("capture: backward(create_graph=True) and gradients of chosen inputs (grad, "
                         "inputs=) are not captured; run this step without capture")


def _root_grad(root: Tensor, g: Tensor | None, foreign: set[int]) -> Tensor:
    if g is None:
        if root.data.size != 1:
            raise BackwardError(
                f"backward of a non-scalar tensor of shape {root.shape} needs grad=: the gradient "
                "of some scalar with respect to it (for a loss, reduce it first, e.g. .sum())"
            )
        ones = np.empty(root.data.shape, dtype=root.data.dtype)
        ones.fill(1)  # np.ones without its Python frame
        if get_mode() & CAPTURE:
            TRACER[0].record(np.ones, (root.data.shape,), {"dtype": root.data.dtype}, ones,
                             "backward's first gradient")
        return _wrap(ones)
    if not isinstance(g, Tensor):
        g = _wrap(np.asarray(g, dtype=root.data.dtype))
    if g.shape != root.shape:
        raise ShapeError(f"backward: grad of shape {g.shape} for a tensor of shape {root.shape}")
    foreign.add(id(g.data))
    return g


def _accumulate(
    grads: dict[Tensor, Tensor], owned: set[int], key: Tensor, g: Tensor, create_graph: bool
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
        if get_mode() & CAPTURE:
            TRACER[0].record(np.add, (prev.data, g.data), {"out": prev.data, "casting": "unsafe"}, prev.data,
                             "gradient sum")
    else:
        total = _wrap(np.asarray(prev.data + g.data))  # 0-d sums come back as NumPy scalars
        if get_mode() & CAPTURE:
            TRACER[0].record(np.add, (prev.data, g.data), {}, total.data, "gradient sum")
        owned.add(id(total.data))
        grads[key] = total


def _unshared(g: Tensor, handed_out: set[int], foreign: set[int]) -> Tensor:
    """``g``, or a copy of it if its array may be held elsewhere: every gradient handed out is a
    writable array of its own (not a view, a constant, the caller's array or another gradient)."""
    d = g.data
    if d.base is None and id(d) not in handed_out and id(d) not in foreign and d.flags.writeable:
        handed_out.add(id(d))
        return g
    if g._requires_grad:  # recorded (create_graph): copy inside the graph
        g = g * 1.0
    else:
        g = _wrap(d.copy())
        if get_mode() & CAPTURE:
            TRACER[0].record(np.ndarray.copy, (d,), {}, g.data, "gradient copy")
    handed_out.add(id(g.data))
    return g


def _store_grad(t: Tensor, g: Tensor, handed_out: set[int], foreign: set[int]) -> None:
    """Accumulate into ``t.grad``."""
    if t.grad is not None:
        if get_mode() & CAPTURE:
            TRACER[0].refuse("capture: backward added into an existing .grad; call optimizer.zero_grad() "
                             "before backward inside the step")
        t.grad = t.grad + g  # a new array; recorded only under create_graph
        handed_out.add(id(t.grad.data))
        return
    t.grad = _unshared(g, handed_out, foreign)
    if get_mode() & CAPTURE:
        TRACER[0].assign_grad(t, t.grad.data)

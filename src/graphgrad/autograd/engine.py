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
from graphgrad.ops.core import CAPTURE, TRACER, Node, _versions
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
        later = None
        for p in ins:
            if p._requires_grad and p not in seen:
                if p._node is None:
                    push(p)
                elif later is None:
                    later = [p]
                else:
                    later.append(p)
        if later is not None:
            stack += later
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
    mode = saved | RULES
    set_mode(mode)
    quiet = _quiet()
    try:
        grads = _apply_rules(node, out, g if mode & RECORD else g.data, mode)
    finally:
        _restore(quiet)
        set_mode(saved)
    if mode & RECORD:
        return grads
    return [None if gk is None else _wrap(gk) for gk in grads]


def _apply_rules(
    node: Node,
    out: Tensor,
    g: Any,
    mode: int,
    sums: dict[Tensor, Any] | None = None,
    owned: set[int] | None = None,
) -> list[Any]:
    """:func:`input_gradients` without the checks of its arguments; ``mode`` is the current mode.

    Gradients are Tensors while a graph is recorded (``mode & RECORD``) and plain arrays otherwise
    (``g`` too), so an ordinary backward wraps nothing it does not hand out. With ``sums``
    (backward's running gradients, by tensor), each input's gradient is added there instead of
    returned (the list comes back empty): one loop per node on the hot path.
    """
    ins: tuple[Tensor, ...] = node.inputs  # type: ignore[assignment]
    if _versions(ins) != node.versions:
        for p, v in zip(ins, node.versions):
            if p._vc[0] != v:
                _raise_inplace(node, p, v)
    if out._vc[0] != node.out_version:
        _raise_inplace(node, out, node.out_version)
    op = node.op
    params = node.params
    record = mode & RECORD
    fast: Any = None if record else op.array_vjps  # the raw-array path when nothing is recorded
    variadic = op.variadic
    args: Any = None  # what an array rule takes: (g, out, *inputs), as arrays
    grads: list[Any] = []
    for k, p in enumerate(ins):
        if not p._requires_grad:
            if sums is None:
                grads.append(None)
            continue
        j = 0 if variadic else k
        rule = None if fast is None else fast[j]
        if rule is not None:
            if args is None:
                n = len(ins)  # (g, out, *inputs) as arrays; one or two inputs written out: the usual ops
                if n == 2:
                    args = (g, out.data, ins[0].data, ins[1].data)
                elif n == 1:
                    args = (g, out.data, ins[0].data)
                else:
                    args = (g, out.data, *map(_data, ins))
            if variadic:
                gk = rule(k, *args, **params)
            else:
                gk = rule(*args, **params) if params else rule(*args)
            if gk is not None and gk.__class__ is not np.ndarray:
                gk = np.asarray(gk)
            if mode & CAPTURE and gk is not None:
                TRACER[0].record(rule, (k, *args) if variadic else args, params, gk, f"{op.name} gradient {k}")
        else:
            rule = op.vjps[j]  # type: ignore[index]
            gt = g if record else _wrap(g)
            if rule is None:
                gk = None
            else:
                if mode & CAPTURE:
                    TRACER[0].inside = f"{op.name}'s gradient"  # a refusal names the op the user wrote
                gk = rule(k, gt, out, *ins, **params) if variadic else rule(gt, out, *ins, **params)
                if mode & CAPTURE:
                    TRACER[0].inside = ""
            if gk is not None and not record:
                gk = gk.data
        if gk is not None:
            pdata = p.data
            gdata = gk.data if record else gk
            if gdata.shape != pdata.shape or (gdata.dtype is not pdata.dtype and gdata.dtype != pdata.dtype):
                gk = _fit(gk, p, node, record)
            if mode & ANOMALY:
                from graphgrad.autograd import anomaly

                anomaly.check_backward(node, k, gk if record else _wrap(gk))
            if sums is not None:
                if p in sums:
                    _accumulate(sums, owned, p, gk, record)  # type: ignore[arg-type]
                else:
                    sums[p] = gk
                continue
        if sums is None:
            grads.append(gk)
    return grads


def _fit(gk: Any, p: Tensor, node: Node, record: int) -> Any:
    """A rule's result summed back to input ``p``'s shape and cast to its dtype (with graphgrad ops,
    so a captured step records them; a Tensor in, a Tensor out, an array in, an array out)."""
    g = gk if record else _wrap(gk)
    if g.data.shape != p.data.shape:
        g = _unbroadcast(g, p, node)
    if g.data.dtype != p.data.dtype:
        g = g.astype(p.data.dtype)
    return g if record else g.data


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
    # running gradients, by tensor (tensors hash by identity): Tensors under create_graph, else arrays
    grads: dict[Tensor, Any] = {}
    owned: set[int] = set()  # ids of gradient arrays this pass allocated and may add into in place
    foreign: set[int] = set()  # ids of arrays the caller passed in: never handed out as a gradient
    for r, g in zip(roots, root_grads):
        if not r._requires_grad:
            raise BackwardError(
                f"backward of a tensor of shape {r.shape} that does not require a gradient "
                "(no input had requires_grad=True, or it was made under no_grad)"
            )
        g = _root_grad(r, g, foreign)
        _accumulate(grads, owned, r, g if create_graph else g.data, create_graph)
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found: list[Tensor | None] = [None] * (0 if inputs is None else len(inputs))

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
            _run(order, grads, owned, mode, saved_mode, retain_graph, wanted, found, foreign)
        finally:
            _restore(quiet)
            set_mode(saved_mode)
    finally:
        if gc_was_enabled:
            gc.enable()
    return found if inputs is not None else None


def _run(
    order: list[Tensor], grads: dict[Tensor, Any], owned: set[int], mode: int, saved_mode: int,
    retain_graph: bool, wanted: dict[int, int] | None, found: list[Tensor | None], foreign: set[int],
) -> None:  # fmt: skip
    """Backward's loop: each tensor, consumers first, passes its complete gradient to its inputs."""
    pop = grads.pop
    record = mode & RECORD
    checks = mode & (ANOMALY | CAPTURE)
    special = checks or wanted is not None  # anomaly checks, capture, or gradients returned (inputs=)
    plain = not (record or special)  # an ordinary backward into .grad
    handed_out: set[int] = set()  # ids of arrays already handed out (stored in a .grad or returned)
    for i in range(len(order) - 1, -1, -1):
        t = order[i]
        order[i] = None  # type: ignore[call-overload]  # let used tensors go early
        g = pop(t, None)
        if g is None:
            continue
        if owned:
            owned.discard(id(g))  # complete now: rules may pass it on, so never add into it
        node = t._node
        if node is None and plain and t.grad is None and t._post_hooks is None:
            t.grad = _wrap(_own(g, handed_out, foreign, 0))  # a parameter's gradient: the usual leaf
            continue
        if special or node is None or t._retain:
            gt = g if record else _wrap(g)
            if mode & ANOMALY:
                from graphgrad.autograd import anomaly

                anomaly.check_summed(t, gt)
            if wanted is not None:
                if id(t) in wanted:
                    found[wanted[id(t)]] = _unshared(gt, handed_out, foreign, mode)
            elif node is None or t._retain:
                if mode & CAPTURE and (t._retain or t._post_hooks):
                    TRACER[0].refuse("capture: backward reached a tensor with retain_grad() or a gradient "
                                     "hook (data-parallel training); run this step without capture")
                _store_grad(t, gt, handed_out, foreign, mode)
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


def _accumulate(grads: dict[Tensor, Any], owned: set[int], key: Tensor, g: Any, create_graph: bool | int) -> None:
    """Add ``g`` into the running gradient of tensor ``key`` (Tensors under ``create_graph``, else arrays).

    The first gradient is kept as is (no copy). The second is summed into a new array that this
    pass owns; later ones are added into it in place, unless a graph is being recorded.
    """
    prev = grads.get(key)
    if prev is None:
        grads[key] = g
    elif create_graph:
        grads[key] = prev + g
    elif id(prev) in owned:
        np.add(prev, g, out=prev, casting="unsafe")
        if get_mode() & CAPTURE:
            TRACER[0].record(np.add, (prev, g), {"out": prev, "casting": "unsafe"}, prev, "gradient sum")
    else:
        total = np.asarray(prev + g)  # 0-d sums come back as NumPy scalars
        if get_mode() & CAPTURE:
            TRACER[0].record(np.add, (prev, g), {}, total, "gradient sum")
        owned.add(id(total))
        grads[key] = total


def _own(d: np.ndarray, handed_out: set[int], foreign: set[int], mode: int) -> np.ndarray:
    """``d``, or a copy of it if it may be held elsewhere: every gradient handed out is a writable
    array of its own (not a view, a constant, the caller's array or another gradient)."""
    if d.base is not None or id(d) in handed_out or id(d) in foreign or not d.flags.writeable:
        src, d = d, d.copy()
        if mode & CAPTURE:
            TRACER[0].record(np.ndarray.copy, (src,), {}, d, "gradient copy")
    handed_out.add(id(d))
    return d


def _unshared(g: Tensor, handed_out: set[int], foreign: set[int], mode: int) -> Tensor:
    """:func:`_own` for a tensor; a recorded one (create_graph) is copied inside the graph."""
    if g._requires_grad:
        d = g.data
        if d.base is None and id(d) not in handed_out and id(d) not in foreign and d.flags.writeable:
            handed_out.add(id(d))
            return g
        g = g * 1.0
        handed_out.add(id(g.data))
        return g
    d = _own(g.data, handed_out, foreign, mode)
    return g if d is g.data else _wrap(d)


def _store_grad(t: Tensor, g: Tensor, handed_out: set[int], foreign: set[int], mode: int) -> None:
    """Accumulate into ``t.grad``."""
    if t.grad is not None:
        if mode & CAPTURE:
            TRACER[0].add_grad(t, g)  # the plan adds into whatever .grad holds at replay, as here
        else:
            t.grad = t.grad + g  # a new array; recorded only under create_graph
        handed_out.add(id(t.grad.data))
        return
    t.grad = _unshared(g, handed_out, foreign, mode)
    if mode & CAPTURE:
        TRACER[0].assign_grad(t, t.grad.data)

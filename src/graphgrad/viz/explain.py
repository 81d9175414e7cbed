"""``explain(loss)``: the steps backprop takes, in the order it takes them, with every number.

The backward steps follow :func:`graphgrad.autograd.engine.topological_order` reversed, the order
``loss.backward()`` uses. Each step is seed 002's ``grad_table`` update (seed 003's sum over
``out(v)``): for node v, every consumer u of v contributes
``grad_table[u] * du/dv`` (for tensors: u's vector-Jacobian product), and their sum is
``grad_table[v]``. The products are computed with the same rules the engine runs, but nothing is
written to ``.grad`` and the graph is not freed: explaining has no side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.autograd.engine import topological_order
from graphgrad.autograd.grad_mode import no_grad
from graphgrad.errors import BackwardError, ConfigError
from graphgrad.tensor import Tensor
from graphgrad.viz.graph import GraphView, build_view, local_derivative, summarize


@dataclass
class Term:
    """One consumer's contribution to a node's gradient."""

    consumer: int  # view id
    consumer_name: str
    op: str
    incoming: str  # grad_table[consumer]
    local: str  # d consumer / d node (a number for scalars, "vjp" otherwise)
    product: str


@dataclass
class BackwardStep:
    node: int
    name: str
    op: str | None
    value: str
    terms: list[Term]
    total: str  # grad_table[node]
    grad: np.ndarray = field(repr=False)


@dataclass
class ForwardStep:
    node: int
    name: str
    op: str | None
    inputs: list[str]
    value: str


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


class Explanation:
    """Forward and backward steps of one scalar ``loss``; ``str()`` is the table, ``to_html`` the page."""

    def __init__(self, loss: Tensor, module: Any = None, title: str | None = None) -> None:
        if not isinstance(loss, Tensor):
            raise ConfigError(f"explain: expected a graphgrad Tensor, got {type(loss).__name__}")
        if not loss.requires_grad:
            raise BackwardError("explain: the tensor does not require a gradient (no input had requires_grad=True)")
        if loss.data.size != 1:
            raise BackwardError(
                f"explain: backprop starts from a scalar loss; got shape {loss.shape} (reduce it first)"
            )
        self.loss = loss
        self.title = title or "backpropagation"
        self.view: GraphView = build_view(loss, module=module, expand=True)
        vid = {id(t): i for i, t in self.view.tensors.items() if self.view.nodes[i].kind != "const"}
        self._vid = vid
        self.forward = self._forward_steps(vid)
        self.backward, self.grads = self._backward_steps(vid)
        for step in self.backward:  # so the drawing can show every gradient
            self.view.nodes[step.node].grad = step.total

    # ------------------------------------------------------------------ computing the steps
    def _name(self, t: Tensor) -> str:
        i = self._vid.get(id(t))
        return self.view.nodes[i].name if i is not None else (t.name or summarize(t.data))

    def _forward_steps(self, vid: dict[int, int]) -> list[ForwardStep]:
        steps = []
        for node in self.view.nodes:
            if node.kind == "const":
                continue
            t = self.view.tensors[node.id]
            ins = [self._name(p) for p in t._node.inputs] if t._node is not None else []
            steps.append(ForwardStep(node.id, node.name, node.op, ins, node.value))
        return steps

    def _backward_steps(self, vid: dict[int, int]) -> tuple[list[BackwardStep], dict[str, np.ndarray]]:
        order = topological_order([self.loss])
        consumers: dict[int, list[tuple[Tensor, int]]] = {}
        for u in order:
            if u._node is not None:
                for k, p in enumerate(u._node.inputs):
                    if p._requires_grad:
                        consumers.setdefault(id(p), []).append((u, k))
        table: dict[int, np.ndarray] = {}
        steps: list[BackwardStep] = []
        for v in reversed(order):
            terms: list[Term] = []
            if v is self.loss:
                total = np.ones_like(v.data)
            else:
                total = np.zeros_like(v.data)
                for u, k in consumers.get(id(v), []):
                    g_u = table[id(u)]
                    rule = u._node.op.vjps[k]
                    with no_grad(), np.errstate(all="ignore"):
                        gk = None if rule is None else rule(Tensor(g_u), u, *u._node.inputs, **u._node.params)
                    prod = np.zeros_like(v.data) if gk is None else _unbroadcast(np.asarray(gk.data), v.shape)
                    prod = prod.astype(v.data.dtype, copy=False).reshape(v.shape)
                    total = total + prod
                    local = local_derivative(u, k)
                    terms.append(
                        Term(
                            vid[id(u)], self._name(u), u._node.op.name, summarize(g_u),
                            "vjp" if local is None else summarize(np.array(local)), summarize(prod),
                        )
                    )
            table[id(v)] = total
            steps.append(
                BackwardStep(vid[id(v)], self._name(v), v.op, summarize(v.data), terms, summarize(total), total)
            )
        grads = {s.name: s.grad for s in steps}
        return steps, grads

    # ------------------------------------------------------------------ views
    def forward_table(self) -> str:
        rows = [("step", "node", "op", "inputs", "value")]
        for i, s in enumerate(self.forward, 1):
            rows.append((str(i), s.name, s.op or "input", ", ".join(s.inputs) or "-", s.value))
        return _table(rows)

    def backward_table(self) -> str:
        rows = [("step", "node", "consumer", "grad_table[consumer]", "local d(consumer)/d(node)", "product",
                 "grad_table[node]")]
        for i, s in enumerate(self.backward, 1):
            if not s.terms:
                rows.append((str(i), s.name, "-", "-", "-", "-", s.total + "  (start: dL/dL = 1)"))
                continue
            for j, t in enumerate(s.terms):
                last = j == len(s.terms) - 1
                total = s.total if len(s.terms) == 1 else f"{' + '.join(x.product for x in s.terms)} = {s.total}"
                rows.append((
                    str(i) if j == 0 else "", s.name if j == 0 else "", f"{t.consumer_name} ({t.op})",
                    t.incoming, t.local, t.product, total if last else "",
                ))
        return _table(rows)

    def __str__(self) -> str:
        return "\n".join([
            f"{self.title}",
            "",
            "Forward pass (topological order: every node after its inputs)",
            self.forward_table(),
            "",
            "Backward pass (reverse topological order, as backward() runs it):",
            "grad_table[node] = sum over consumers of grad_table[consumer] * d(consumer)/d(node)",
            self.backward_table(),
        ])

    def __repr__(self) -> str:
        return f"<Explanation of {self.title!r}: {len(self.forward)} forward and {len(self.backward)} backward steps>"

    def to_html(self, path: Any) -> Any:
        """Write a self-contained page (inline SVG, CSS, JS; no network) that steps through it all."""
        from graphgrad.viz.html import write_page

        return write_page(self, path)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def explain(loss: Tensor, module: Any = None, title: str | None = None) -> Explanation:
    """The steps backprop takes from scalar ``loss`` back to the inputs (call before ``backward()``)."""
    return Explanation(loss, module=module, title=title)

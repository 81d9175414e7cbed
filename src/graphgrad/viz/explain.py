"""``explain(loss)``: the steps backprop takes, in the order it takes them, with every number.

The forward steps start from the inputs: first every leaf (data, then the tensors that need a
gradient), then each computed tensor once its inputs are known, layer by layer (a tensor's layer
is one more than its deepest input's). The backward steps follow
:func:`graphgrad.autograd.engine.topological_order` reversed, the order ``loss.backward()`` uses.
Each backward step is the gradient table's update: for node v, every consumer u of v contributes
u's derivative rule applied to ``grad_table[u]``, and their sum is ``grad_table[v]``. The rules are
applied through :func:`graphgrad.viz._rules.input_gradients` (the engine's own), but nothing is
written to ``.grad`` and the graph is not freed: explaining has no side effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.autograd.engine import topological_order
from graphgrad.errors import BackwardError, ConfigError
from graphgrad.tensor import Tensor
from graphgrad.viz._rules import input_gradients
from graphgrad.viz.formulas import Formula, backward_formula, forward_formula
from graphgrad.viz.graph import GraphView, build_view, local_derivative
from graphgrad.viz.layers import LayerCalls
from graphgrad.viz.numbers import fmt_text, summary

LEAF_WORDS = {"data": "data", "input": "variable", "param": "parameter"}


def _text(a: np.ndarray) -> str:
    return summary(a, 6, unicode_minus=False)


@dataclass
class Term:
    """One consumer's contribution to a node's gradient: its rule applied to ``grad_table[consumer]``."""

    consumer: int  # view id
    consumer_name: str
    op: str
    slot: int  # which input of the consumer the node is
    incoming_data: np.ndarray = field(repr=False)  # grad_table[consumer]
    local_value: float | None  # d consumer / d node, when both are scalars
    product_data: np.ndarray = field(repr=False)
    formula: Formula | None = field(default=None, repr=False)

    @property
    def incoming(self) -> str:
        return _text(self.incoming_data)

    @property
    def local(self) -> str:
        return "vjp" if self.local_value is None else fmt_text(self.local_value)

    @property
    def product(self) -> str:
        return _text(self.product_data)


@dataclass
class BackwardStep:
    node: int
    name: str
    op: str | None
    value_data: np.ndarray = field(repr=False)
    terms: list[Term]
    grad: np.ndarray = field(repr=False)  # grad_table[node]

    @property
    def value(self) -> str:
        return _text(self.value_data)

    @property
    def total(self) -> str:
        return _text(self.grad)


@dataclass
class ForwardStep:
    node: int
    name: str
    op: str | None
    inputs: list[str]
    value_data: np.ndarray = field(repr=False)
    formula: Formula | None = field(default=None, repr=False)

    @property
    def value(self) -> str:
        return _text(self.value_data)


def forward_order(view: GraphView) -> list[int]:
    """View ids of the non-constant nodes: leaves first (data, then the rest), then ops by layer."""
    into: dict[int, list[int]] = {}
    for e in view.edges:
        into.setdefault(e.dst, []).append(e.src)
    layer: dict[int, int] = {}
    for node in view.nodes:  # nodes come inputs first
        srcs = [s for s in into.get(node.id, []) if view.nodes[s].kind != "const"]
        layer[node.id] = 1 + max((layer[s] for s in srcs), default=-1) if node.kind == "op" else 0
    first_use: dict[int, int] = {}
    for e in view.edges:
        first_use[e.src] = min(first_use.get(e.src, 1 << 30), layer.get(e.dst, 0))
    leaves = [n for n in view.nodes if n.kind in ("data", "input", "param")]
    leaves.sort(key=lambda n: (n.kind != "data", first_use.get(n.id, 0), n.id))
    ops = [n for n in view.nodes if n.kind == "op"]
    ops.sort(key=lambda n: (layer[n.id], n.id))
    return [n.id for n in leaves + ops]


class Explanation:
    """Forward and backward steps of one scalar ``loss``; ``str()`` is the table, ``to_html`` the page."""

    def __init__(
        self, loss: Tensor, module: Any = None, title: str | None = None, names: dict[int, str] | None = None,
        layers: LayerCalls | None = None,
    ) -> None:
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
        self.view: GraphView = build_view(loss, module=module, expand=True, names=names, layers=layers)
        self._vid = {id(t): i for i, t in self.view.tensors.items() if self.view.nodes[i].kind != "const"}
        # ops inside a layer's node (not its output): backprop passes through them without a step
        self._inside = {m: n.id for n in self.view.nodes for m in n.members if m != id(self.view.tensors[n.id])}
        self._fused = set(self._inside.values())
        self.forward = self._forward_steps()
        self.backward, self.grads = self._backward_steps()
        for step in self.backward:  # so the drawing can show every gradient
            node = self.view.nodes[step.node]
            node.grad, node.grad_data = summary(step.grad), step.grad

    # ------------------------------------------------------------------ computing the steps
    def name_of(self, t: Tensor) -> str:
        """The name the view gave ``t`` (numbers written in the formula are their value)."""
        i = self._vid.get(id(t))
        if i is not None:
            return self.view.nodes[i].name
        return t.name or summary(t.data, 6, unicode_minus=False)

    def _forward_steps(self) -> list[ForwardStep]:
        steps = []
        for i in forward_order(self.view):
            node = self.view.nodes[i]
            t = self.view.tensors[i]
            if i in self._fused:  # a layer of several ops: its inputs from outside, no formula
                srcs = {e.src: None for e in self.view.edges if e.dst == i}
                ins, formula = [self.view.nodes[s].name for s in srcs], None
            else:
                ins = [self.name_of(p) for p in t._node.inputs or ()] if t._node is not None else []
                formula = forward_formula(t, self.name_of) if t._node is not None else None
            steps.append(ForwardStep(i, node.name, node.op, ins, np.asarray(t.data), formula))
        return steps

    def _backward_steps(self) -> tuple[list[BackwardStep], dict[str, np.ndarray]]:
        order = topological_order([self.loss])
        pending: dict[int, list[Term]] = {}
        inner: dict[int, np.ndarray] = {}  # gradients of the tensors inside a layer's node
        layer_grad: dict[int, np.ndarray] = {}  # grad_table of each layer node of several ops
        steps: list[BackwardStep] = []
        for v in reversed(order):
            if id(v) in self._inside:
                node_id = self._inside[id(v)]
                total = inner.pop(id(v), np.zeros_like(v.data))
            else:
                node_id = self._vid[id(v)]
                terms = pending.pop(id(v), [])
                if v is self.loss:
                    total = np.ones_like(v.data)
                else:
                    total = np.zeros_like(v.data)
                    for term in terms:
                        total = total + term.product_data
                steps.append(BackwardStep(node_id, self.name_of(v), self.view.nodes[node_id].op, np.asarray(v.data),
                                          terms, total))
                layer_grad[node_id] = total
            if v._node is None:
                continue
            products = input_gradients(v, Tensor(total))
            for k, (p, prod) in enumerate(zip(v._node.inputs or (), products)):
                if not p._requires_grad:
                    continue
                data = np.zeros_like(p.data) if prod is None else np.asarray(prod.data).reshape(p.shape)
                if self._inside.get(id(p)) == node_id:
                    inner[id(p)] = inner[id(p)] + data if id(p) in inner else data
                elif node_id in self._fused:  # one term per layer and input, whatever the ops inside
                    self._add_layer_term(pending.setdefault(id(p), []), node_id, k, layer_grad[node_id], data)
                else:
                    pending.setdefault(id(p), []).append(Term(
                        node_id, self.name_of(v), self.view.nodes[node_id].op or v._node.op.name, k, total,
                        local_derivative(v, k), data,
                        backward_formula(v, k, self.name_of, total, data),
                    ))
        grads = {s.name: s.grad for s in steps}
        return steps, grads

    def _add_layer_term(self, terms: list[Term], node_id: int, slot: int, incoming: np.ndarray,
                        data: np.ndarray) -> None:
        for term in terms:
            if term.consumer == node_id:
                term.product_data = term.product_data + data
                return
        node = self.view.nodes[node_id]
        terms.append(Term(node_id, node.name, node.op or "", slot, incoming, None, data))

    # ------------------------------------------------------------------ views
    def forward_table(self) -> str:
        rows = [("step", "node", "op", "inputs", "value")]
        for i, s in enumerate(self.forward, 1):
            kind = s.op or LEAF_WORDS.get(self.view.nodes[s.node].kind, "input")
            rows.append((str(i), s.name, kind, ", ".join(s.inputs) or "-", s.value))
        return _table(rows)

    def backward_table(self) -> str:
        rows = [("step", "node", "consumer", "grad_table[consumer]", "local d(consumer)/d(node)", "product",
                 "grad_table[node]")]
        for i, s in enumerate(self.backward, 1):
            if not s.terms:
                rows.append((str(i), s.name, "-", "-", "-", "-", s.total + "  (start: dL/dL = 1)"))
                continue
            for j, t in enumerate(s.terms):
                last = j == len(s.terms) - 1  # the sum is written once, on the node's last row
                total = "" if not last else s.total if len(s.terms) == 1 else \
                    f"{' + '.join(x.product for x in s.terms)} = {s.total}"
                rows.append((
                    str(i) if j == 0 else "", s.name if j == 0 else "", f"{t.consumer_name} ({t.op})",
                    t.incoming, t.local, t.product, total,
                ))
        return _table(rows)

    def __str__(self) -> str:
        return "\n".join([
            f"{self.title}",
            "",
            "Forward pass (from the inputs: every node after its inputs)",
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


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def explain(
    loss: Tensor, module: Any = None, title: str | None = None, names: dict[int, str] | None = None,
    layers: LayerCalls | None = None,
) -> Explanation:
    """The steps backprop takes from scalar ``loss`` back to the inputs (call before ``backward()``).

    ``module`` names parameters and sub-module outputs after their paths (``hidden.weight``,
    ``hidden(x)``); ``names`` (``id(tensor) -> name``) names any other tensor. ``layers`` (from
    :func:`~graphgrad.viz.layers.record_layers`) makes each layer call one step, whatever the
    ops inside (batch norm in evaluation: subtract, scale and shift).
    """
    return Explanation(loss, module=module, title=title, names=names, layers=layers)

"""The recorded graph as plain data: what every view (DOT, SVG, PNG, HTML, step table) draws.

Walking ``tensor._node`` back to the leaves gives each tensor a :class:`ViewNode` (its op, a name,
shape, value and gradient) and each input slot a :class:`ViewEdge` (with the local derivative when
both ends are scalars). Every tensor is drawn once, except numbers written in the formula (``0.5``,
``2``), which get a small box at each use so no edge crosses the drawing. The walk reads
``node.inputs``, which ``backward()`` frees: build views before backward, or call
``backward(retain_graph=True)``.

With a module, parameters take their names from ``module.named_parameters()``, a sub-module's
output is named like a call (``hidden(x)``), and the ops that use a sub-module's parameters
collapse into one box for that sub-module (unless expanded). With the layer calls recorded while
the model ran (:func:`graphgrad.viz.layers.record_layers`), each call is one node instead, named
by its path and op (``2 batch_norm``), however many ops it recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, GraphFreedError
from graphgrad.tensor import Tensor
from graphgrad.viz._rules import input_gradients
from graphgrad.viz.layers import Group, LayerCalls, label, layer_groups, passed_names
from graphgrad.viz.naming import is_literal, module_outputs, readable_names
from graphgrad.viz.numbers import shape_text, summary


@dataclass
class ViewNode:
    """One box of a drawing: a tensor, or a collapsed module standing for several tensors.

    ``kind`` is "op" (computed), "param" (a module's parameter), "input" (a leaf that needs a
    gradient), "data" (a leaf that needs none: inputs x, targets), "const" (a number written in the
    formula, drawn at each use) or "module" (a collapsed sub-module). ``value`` and ``grad`` are
    short text; ``value_data`` / ``grad_data`` keep the arrays for hover text and tables.
    """

    id: int
    kind: str
    name: str
    op: str | None
    shape: tuple[int, ...]
    value: str
    grad: str | None = None
    members: list[int] = field(default_factory=list)  # tensor ids inside a collapsed module box
    show_op: bool = True  # False when the name already is the formula (``wh_11 * x1``)
    layer: str | None = None  # the class of the layer this node stands for (a recorded layer call)
    value_data: np.ndarray | None = field(default=None, repr=False)
    grad_data: np.ndarray | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """The text of the box, one entry per line."""
        if self.kind == "module":
            head = f"{self.name} ({self.op})" if self.op else self.name
        elif self.op is None or not self.show_op or self.name == self.op:
            head = self.name
        else:
            head = f"{self.name} = {self.op}"
        out = [head]
        if self.kind == "module":
            out.append(f"{len(self.members)} tensors (collapsed)")
        if self.shape:
            out.append("shape " + shape_text(self.shape))
        if not (self.kind == "const" and self.name == self.value):
            out.append("value " + self.value)
        if self.grad is not None:
            out.append("grad " + self.grad)
        return out


@dataclass
class ViewEdge:
    """Input slot ``slot`` of ``dst`` reads ``src``; ``local`` is d dst / d src for scalar ends."""

    src: int
    dst: int
    slot: int
    local: float | None = None


@dataclass
class GraphView:
    """Nodes in topological order (inputs first), edges, the root's id and the tensors behind them."""

    nodes: list[ViewNode]
    edges: list[ViewEdge]
    root: int
    tensors: dict[int, Tensor]  # view id -> tensor (module boxes map to their output tensor)


# ----------------------------------------------------------------------------- walking
def walk(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` was computed from (constants too), each after its inputs; iterative."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
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
                f"cannot draw through '{node.op.name}': backward() already freed this graph; build the "
                "view before backward, or call backward(retain_graph=True)"
            )
        for p in reversed(node.inputs):
            if id(p) not in seen:
                stack.append((p, False))
    return order


def local_derivative(t: Tensor, slot: int) -> float | None:
    """d t / d input[slot] as a number when ``t`` and that input are scalars, else None.

    Constants (inputs that need no gradient) get None: backprop never computes their derivative.
    """
    node = t._node
    if node is None or node.inputs is None or node.op.vjps is None:
        return None
    p = node.inputs[slot]
    if t.data.size != 1 or p.data.size != 1 or not p._requires_grad:
        return None
    g = input_gradients(t, Tensor(np.ones_like(t.data)))[slot]
    return 0.0 if g is None else float(np.sum(g.data))


def _kind(t: Tensor, name: str, pnames: dict[int, str]) -> str:
    if t._node is not None:
        return "op"
    if t._requires_grad:
        return "param" if id(t) in pnames else "input"
    return "const" if is_literal(t, name) else "data"


# ----------------------------------------------------------------------------- modules
def parameter_names(module: Any) -> dict[int, str]:
    """``id(parameter) -> dotted name`` from ``module.named_parameters()``."""
    if module is None:
        return {}
    if not hasattr(module, "named_parameters"):
        raise ConfigError(f"module must have named_parameters(); got {type(module).__name__}")
    return {id(p): name for name, p in module.named_parameters()}


def _module_classes(module: Any) -> dict[str, str]:
    if module is None or not hasattr(module, "named_modules"):
        return {}
    return {name: type(m).__name__ for name, m in module.named_modules()}


def _owner(param_name: str) -> str:
    return param_name.rpartition(".")[0]


def _groups(
    order: list[Tensor], pnames: dict[int, str], expand: bool | Iterable[str] | None
) -> dict[int, str]:
    """``id(tensor) -> module path`` for the tensors that collapse into a module box.

    A module's box holds its parameters, the ops that read them directly, and every op on a path
    between two of those (so the collapsed drawing stays acyclic).
    """
    if expand is True or not pnames:
        return {}
    expanded = set() if expand in (None, False) else {str(e) for e in expand}  # type: ignore[union-attr]
    seeds: dict[str, set[int]] = {}
    for t in order:
        if id(t) in pnames:
            owner = _owner(pnames[id(t)])
            if owner not in expanded:
                seeds.setdefault(owner, set()).add(id(t))
        elif t._node is not None:
            owners = {_owner(pnames[id(p)]) for p in t._node.inputs or () if id(p) in pnames}
            for owner in owners - expanded:
                seeds.setdefault(owner, set()).add(id(t))
    index = {id(t): i for i, t in enumerate(order)}
    inputs = [[index[id(p)] for p in t._node.inputs or ()] if t._node is not None else [] for t in order]
    group: dict[int, str] = {}
    for owner, members in seeds.items():
        member_idx = {index[m] for m in members}
        below = set(member_idx)  # reachable from a member going forward
        for i in range(len(order)):
            if i not in below and any(j in below for j in inputs[i]):
                below.add(i)
        above = set(member_idx)  # members' ancestors
        for i in range(len(order) - 1, -1, -1):
            if i in above:
                above.update(inputs[i])
        for i in below & above:
            if id(order[i]) not in group:
                group[id(order[i])] = owner
    return group


# ----------------------------------------------------------------------------- building
def names_for(
    order: list[Tensor], module: Any = None, names: dict[int, str] | None = None,
    groups: list[Group] | None = None, layers: LayerCalls | None = None,
) -> dict[int, str]:
    """Readable, unique names for the tensors of ``order`` (see :mod:`graphgrad.viz.naming`).

    With ``groups`` (recorded layer calls) a layer's output is named by its path and op, unless
    the user named it; without, a sub-module's output is named like a call (``hidden(x)``).
    """
    pnames = parameter_names(module)
    given = dict(pnames)
    given.update(passed_names(layers, names or {}))
    if groups is not None:
        for g in groups:
            if not g.call.output.name:
                given[id(g.call.output)] = label(g.call, g.op)
    if names:
        given.update(names)
    outputs = {} if groups is not None else module_outputs(order, _groups(order, pnames, None))
    return readable_names(order, given, outputs)


def _grad_of(t: Tensor) -> np.ndarray | None:
    return None if t.grad is None else np.asarray(t.grad.data)


def build_view(
    tensor: Tensor,
    module: Any = None,
    expand: bool | Iterable[str] | None = None,
    names: dict[int, str] | None = None,
    local_derivatives: bool = True,
    layers: LayerCalls | None = None,
) -> GraphView:
    """The graph that made ``tensor``, ready to draw.

    ``expand=True`` shows every op; ``None`` collapses each sub-module of ``module`` that owns
    parameters into one box; a list of module names (as in ``named_parameters()``) expands those.
    ``names`` (``id(tensor) -> name``) overrides the names the view would choose. ``layers`` (the
    calls :func:`~graphgrad.viz.layers.record_layers` saw) draws each layer call as one node;
    its parameters are inside it, or nodes of their own with ``expand=True``.
    """
    if not isinstance(tensor, Tensor):
        raise ConfigError(f"expected a graphgrad Tensor, got {type(tensor).__name__}")
    order = walk(tensor)
    pnames = parameter_names(module)
    layer_of: dict[int, Group] = {}
    groups = None
    if layers is not None:
        groups = layer_groups(order, layers, parameters_inside=expand is not True)
        layer_of = {id(m): g for g in groups for m in g.members}
    labels = names_for(order, module, names, groups, layers)
    given = set(pnames) | set(names or {}) | {id(t) for t in order if t.name}
    outputs = module_outputs(order, _groups(order, pnames, None)) if groups is None else {}
    group = _groups(order, pnames, expand) if groups is None else {}
    classes = _module_classes(module)

    nodes: list[ViewNode] = []
    vid: dict[int, int] = {}  # id(tensor) -> view id
    box: dict[str, ViewNode] = {}
    tensors: dict[int, Tensor] = {}
    fused: set[int] = set()  # view ids of layer nodes that hold more than one op
    for t in order:
        lg = layer_of.get(id(t))
        if lg is not None:
            if t is lg.call.output:  # the node goes where the output is: after every input of the layer
                layer_node = _layer_node(len(nodes), lg, labels[id(t)])
                if sum(m._node is not None for m in lg.members) > 1:
                    fused.add(layer_node.id)
                vid.update((id(m), layer_node.id) for m in lg.members)
                tensors[layer_node.id] = t
                nodes.append(layer_node)
            continue
        owner = group.get(id(t))
        if owner is not None:
            node = box.get(owner)
            if node is None:
                title = owner or classes.get("", "module")
                cls = classes.get(owner)
                node = ViewNode(len(nodes), "module", title, cls, t.shape, "", None)
                box[owner] = node
                nodes.append(node)
            node.members.append(id(t))
            vid[id(t)] = node.id
            if t._node is not None:  # the box shows its last op's output (members come in order)
                node.shape, node.value, node.value_data = t.shape, summary(t.data), t.data
                node.grad_data = _grad_of(t)
                node.grad = None if node.grad_data is None else summary(node.grad_data)
                tensors[node.id] = t
            continue
        kind = _kind(t, labels[id(t)], pnames)
        if kind == "const":
            continue  # each use of a number gets its own small box (below): no edges across the drawing
        grad = _grad_of(t)
        node = ViewNode(
            len(nodes), kind, labels[id(t)], t._node.op.name if t._node is not None else None, t.shape,
            summary(t.data), None if grad is None else summary(grad),
            show_op=id(t) in given or id(t) in outputs, value_data=t.data, grad_data=grad,
        )
        vid[id(t)] = node.id
        tensors[node.id] = t
        nodes.append(node)
    for node in box.values():
        if node.id not in tensors:  # a box of parameters only: show the first one
            node.value = "parameters"

    edges: list[ViewEdge] = []
    seen_edges: set[tuple[int, int, int]] = set()
    for t in order:
        if t._node is None:
            continue
        dst = vid[id(t)]
        for k, p in enumerate(t._node.inputs or ()):
            src = vid.get(id(p))
            if src is None:  # a number written in the formula
                src = len(nodes)
                nodes.append(ViewNode(src, "const", labels[id(p)], None, p.shape, summary(p.data), value_data=p.data))
                tensors[src] = p
            if src == dst:
                continue  # inside a collapsed box
            whole = nodes[dst].kind == "module" or dst in fused  # the edge stands for several inputs
            key = (src, dst, -1 if whole else k)
            if key in seen_edges:
                continue
            seen_edges.add(key)
            local = local_derivative(t, k) if local_derivatives and not whole else None
            edges.append(ViewEdge(src, dst, k, local))
    return GraphView(nodes, edges, vid[id(tensor)], tensors)


def _layer_node(view_id: int, g: Group, name: str) -> ViewNode:
    t = g.call.output
    grad = _grad_of(t)
    ops = [id(m) for m in g.members if m._node is not None]
    return ViewNode(view_id, "op", name, g.op, t.shape, summary(t.data), None if grad is None else summary(grad),
                    members=ops, show_op=name != label(g.call, g.op), layer=g.call.layer, value_data=t.data,
                    grad_data=grad)

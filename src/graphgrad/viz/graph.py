"""The recorded graph as plain data: what every view (DOT, SVG, PNG, HTML, step table) draws.

Walking ``tensor._node`` back to the leaves gives each tensor a :class:`ViewNode` (its op, a name,
shape, value and gradient as short text) and each input slot a :class:`ViewEdge` (with the local
derivative when both ends are scalars). The walk reads ``node.inputs``, which ``backward()`` frees:
build views before backward, or call ``backward(retain_graph=True)``.

With a module, parameters take their names from ``module.named_parameters()`` and the ops that
use a sub-module's parameters collapse into one box for that sub-module (unless expanded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import no_grad
from graphgrad.errors import ConfigError, GraphFreedError
from graphgrad.tensor import Tensor


@dataclass
class ViewNode:
    """One box of a drawing: a tensor, or a collapsed module standing for several tensors."""

    id: int
    kind: str  # "op", "param", "input" (leaf that requires grad), "const", or "module"
    name: str
    op: str | None
    shape: tuple[int, ...]
    value: str
    grad: str | None = None
    members: list[int] = field(default_factory=list)  # tensor ids inside a collapsed module box

    def lines(self) -> list[str]:
        """The text of the box, one entry per line."""
        if self.kind == "module":
            head = f"{self.name} ({self.op})" if self.op else self.name
        elif self.op is None or self.name == self.op or self.name.startswith(self.op + "_"):
            head = self.name
        else:
            head = f"{self.name} = {self.op}"
        out = [head]
        if self.kind == "module":
            out.append(f"{len(self.members)} tensors (collapsed)")
        if self.shape:
            out.append("shape " + "x".join(str(n) for n in self.shape))
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


# ----------------------------------------------------------------------------- formatting
def fmt_number(x: float) -> str:
    """A number in at most 6 significant digits, without trailing noise (1.0 -> '1')."""
    x = float(x)
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    s = f"{x:.6g}"
    return s


def summarize(data: np.ndarray) -> str:
    """The number itself for one element; ``min/mean/max`` for an array."""
    arr = np.asarray(data)
    if arr.size == 1:
        return fmt_number(arr.reshape(-1)[0]) if arr.dtype.kind in "fiub" else str(arr.reshape(-1)[0])
    if arr.size == 0:
        return "empty"
    if arr.dtype.kind == "b":
        return f"{int(arr.sum())} of {arr.size} true"
    a = arr.astype(np.float64)
    return f"min {fmt_number(a.min())} mean {fmt_number(a.mean())} max {fmt_number(a.max())}"


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
    rule = node.op.vjps[slot]
    if rule is None:
        return 0.0
    with no_grad(), np.errstate(all="ignore"):
        g = rule(Tensor(np.ones_like(t.data)), t, *node.inputs, **node.params)
    if g is None:
        return 0.0
    return float(np.sum(g.data))  # a broadcast scalar input gets a gradient to sum


def auto_names(order: Iterable[Tensor], given: dict[int, str]) -> dict[int, str]:
    """A name for every tensor: the user's (``name=``), the module's, else ``op_k`` / ``c_k`` / ``x_k``."""
    names: dict[int, str] = {}
    counts: dict[str, int] = {}
    for t in order:
        name = given.get(id(t)) or t.name
        if not name:
            if t._node is not None:
                base = t._node.op.name
            elif t._requires_grad:
                base = "x"
            else:
                base = "const" if t.data.size != 1 else fmt_number(t.data.reshape(-1)[0])
            if base[:1].isalpha() or base == "const":
                counts[base] = counts.get(base, 0) + 1
                name = f"{base}_{counts[base]}"
            else:
                name = base
        names[id(t)] = name
    return names


def _kind(t: Tensor) -> str:
    if t._node is not None:
        return "op"
    return "param" if t._requires_grad else "const"


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
            owners = {_owner(pnames[id(p)]) for p in t._node.inputs if id(p) in pnames}
            for owner in owners - expanded:
                seeds.setdefault(owner, set()).add(id(t))
    index = {id(t): i for i, t in enumerate(order)}
    inputs = [[index[id(p)] for p in t._node.inputs] if t._node is not None else [] for t in order]
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
def build_view(
    tensor: Tensor,
    module: Any = None,
    expand: bool | Iterable[str] | None = None,
    names: dict[int, str] | None = None,
    local_derivatives: bool = True,
) -> GraphView:
    """The graph that made ``tensor``, ready to draw.

    ``expand=True`` shows every op; ``None`` collapses each sub-module of ``module`` that owns
    parameters into one box; a list of module names (as in ``named_parameters()``) expands those.
    """
    if not isinstance(tensor, Tensor):
        raise ConfigError(f"expected a graphgrad Tensor, got {type(tensor).__name__}")
    order = walk(tensor)
    pnames = parameter_names(module)
    given = dict(pnames)
    if names:
        given.update(names)
    labels = auto_names(order, given)
    group = _groups(order, pnames, expand)
    classes = _module_classes(module)

    nodes: list[ViewNode] = []
    vid: dict[int, int] = {}  # id(tensor) -> view id
    box: dict[str, ViewNode] = {}
    tensors: dict[int, Tensor] = {}
    for t in order:
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
                node.shape, node.value = t.shape, summarize(t.data)
                node.grad = None if t.grad is None else summarize(t.grad.data)
                tensors[node.id] = t
            continue
        kind = _kind(t)
        if kind == "const":
            continue  # each use of a constant gets its own small box (below): no edges across the drawing
        if kind == "param" and id(t) not in pnames:
            kind = "input"
        node = ViewNode(
            len(nodes),
            kind,
            labels[id(t)],
            t._node.op.name if t._node is not None else None,
            t.shape,
            summarize(t.data),
            None if t.grad is None else summarize(t.grad.data),
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
        for k, p in enumerate(t._node.inputs):
            src = vid.get(id(p))
            if src is None:  # a constant
                src = len(nodes)
                nodes.append(ViewNode(src, "const", labels[id(p)], None, p.shape, summarize(p.data)))
                tensors[src] = p
            if src == dst:
                continue  # inside a collapsed box
            key = (src, dst, k if nodes[dst].kind != "module" else -1)
            if key in seen_edges:
                continue
            seen_edges.add(key)
            local = local_derivative(t, k) if local_derivatives and nodes[dst].kind != "module" else None
            edges.append(ViewEdge(src, dst, k, local))
    return GraphView(nodes, edges, vid[id(tensor)], tensors)

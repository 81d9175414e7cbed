"""Graphviz DOT text for a graph: for users who have Graphviz, or to paste into an online viewer.

graphgrad never runs Graphviz (``draw`` lays graphs out itself); the DOT text is just another view
of the same :class:`GraphView`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphgrad.tensor import Tensor
from graphgrad.viz.graph import GraphView, build_view
from graphgrad.viz.layers import LayerCalls
from graphgrad.viz.numbers import fmt
from graphgrad.viz.svg import KIND_FILL


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def view_to_dot(view: GraphView, rankdir: str = "LR") -> str:
    """DOT text of an already built view."""
    lines = [
        "digraph graphgrad {",
        f"  rankdir={rankdir};",
        '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=11];',
        '  edge [fontname="monospace", fontsize=10, color="#6b7280"];',
    ]
    for node in view.nodes:
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in node.lines())
        extra = ', penwidth=2.4, color="#b3261e"' if node.id == view.root else ""
        if node.kind == "module":
            extra += ', style="rounded,filled,dashed"'
        lines.append(f'  n{node.id} [label="{label}", fillcolor="{KIND_FILL[node.kind]}"{extra}];')
    for e in view.edges:
        attr = "" if e.local is None else f" [label={_quote(fmt(e.local))}]"
        lines.append(f"  n{e.src} -> n{e.dst}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_dot(
    tensor: Tensor, module: Any = None, expand: bool | Iterable[str] | None = None, rankdir: str = "LR",
    layers: LayerCalls | None = None,
) -> str:
    """The graph that computed ``tensor`` as DOT text.

    Nodes show op, name, shape, value and (after backward) gradient; scalar edges carry the local
    derivative. ``module`` names parameters and collapses its sub-modules unless ``expand``;
    ``layers`` (from :func:`~graphgrad.viz.layers.record_layers`) makes each layer call one node.
    Build it before ``backward()`` (or use ``retain_graph=True``): backward frees the graph.
    """
    return view_to_dot(build_view(tensor, module=module, expand=expand, layers=layers), rankdir=rankdir)

"""SVG text for a laid-out :class:`GraphView`, written by hand (no Graphviz, no drawing library).

Every node is a ``<g class="node ..." id="n{id}">`` and every edge a ``<g class="edge" id="e{k}">``
with ``data-src`` / ``data-dst``, so the explain page's script can highlight them by id. The value
and gradient lines carry the classes ``val`` and ``grad`` for the same reason.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from graphgrad.viz.graph import GraphView, ViewNode
from graphgrad.viz.layout import LINE_H, PAD_Y, Box, Layout
from graphgrad.viz.numbers import fmt, full, summary

KIND_FILL = {"op": "#e3edfb", "param": "#fff1c9", "input": "#fff1c9", "data": "#dff3e4", "const": "#f1f1f1",
             "module": "#efe3fb"}
"""Box colours by node kind (SVG, PNG and DOT use the same)."""

STYLE = """
.node rect{stroke:#44546a;stroke-width:1.2}
.node text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;fill:#1b1f24}
.node .title{font-weight:bold}
.node .grad{fill:#b3261e}
.kind-op rect{fill:#e3edfb}
.kind-param rect,.kind-input rect{fill:#fff1c9}
.kind-data rect{fill:#dff3e4;stroke:#3d7a4f}
.kind-const rect{fill:#f1f1f1;stroke:#9aa0a6}
.kind-module rect{fill:#efe3fb;stroke:#6b3fa0;stroke-dasharray:5 3}
.root rect{stroke:#b3261e;stroke-width:2.4}
.edge path{fill:none;stroke:#6b7280;stroke-width:1.3}
.edge text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:11px;fill:#0b5394;
 stroke:#ffffff;stroke-width:3px;paint-order:stroke}
"""


def _f(v: float) -> str:
    return f"{v:.1f}"


def _anchor(b: Box, towards: tuple[float, float], rankdir: str, leaving: bool) -> tuple[float, float]:
    """Where an edge meets box ``b``: the side facing the flow (right/left for LR, bottom/top for TB)."""
    if rankdir == "LR":
        side = 1 if towards[0] >= b.x else -1
        return (b.x + side * b.w / 2, b.y)
    side = 1 if towards[1] >= b.y else -1
    return (b.x, b.y + side * b.h / 2)


def edge_points(lay: Layout, k: int, src: int, dst: int) -> list[tuple[float, float]]:
    """The polyline of edge ``k``, clipped to the borders of its two boxes."""
    pts = list(lay.paths[k])
    a, b = lay.boxes[src], lay.boxes[dst]
    inner = pts[1:-1]
    first = _anchor(a, inner[0] if inner else (b.x, b.y), lay.rankdir, True)
    last = _anchor(b, inner[-1] if inner else (a.x, a.y), lay.rankdir, False)
    return [first, *inner, last]


def _label_point(pts: list[tuple[float, float]]) -> tuple[float, float]:
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    return (x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0) - 3)


def _hover(node: ViewNode, cls: str) -> str:
    """A ``<title>`` with the full value of a value or gradient line (hover text)."""
    data = node.value_data if cls == "val" else node.grad_data if cls == "grad" else None
    if data is None:
        return ""
    arr = np.asarray(data)
    what = "value" if cls == "val" else "gradient \u2202L/\u2202" + node.name
    text = full(arr.reshape(-1)[0]) if arr.size == 1 and arr.dtype.kind in "fiub" else summary(arr, 6)
    return f"<title>{escape(what)} = {escape(text)}</title>"


def render_svg(view: GraphView, lay: Layout, title: str | None = None) -> str:
    """The whole drawing as an SVG document (a string)."""
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(lay.width)}" height="{_f(lay.height)}" '
        f'viewBox="0 0 {_f(lay.width)} {_f(lay.height)}" class="graphgrad-graph">',
        f"<title>{escape(title or 'computational graph')}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
        'markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
        f"<style>{STYLE}</style>",
        '<g class="edges">',
    ]
    for k, e in enumerate(view.edges):
        pts = edge_points(lay, k, e.src, e.dst)
        d = "M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in pts)
        out.append(f'<g class="edge" id="e{k}" data-src="{e.src}" data-dst="{e.dst}" data-slot="{e.slot}">')
        out.append(f'<path d="{d}" marker-end="url(#arrow)"/>')
        if e.local is not None:
            lx, ly = _label_point(pts)
            tip = (f"local derivative \u2202({view.nodes[e.dst].name})/\u2202({view.nodes[e.src].name}) = "
                   f"{full(e.local)}")
            out.append(f'<text x="{_f(lx)}" y="{_f(ly)}" text-anchor="middle"><title>{escape(tip)}</title>'
                       f"{escape(fmt(e.local))}</text>")
        out.append("</g>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in view.nodes:
        b = lay.boxes[node.id]
        cls = f"node kind-{node.kind}" + (" root" if node.id == view.root else "")
        out.append(f'<g class="{cls}" id="n{node.id}" data-name="{escape(node.name, {chr(34): "&quot;"})}">')
        out.append(
            f'<rect x="{_f(b.x - b.w / 2)}" y="{_f(b.y - b.h / 2)}" width="{_f(b.w)}" height="{_f(b.h)}" rx="6"/>'
        )
        top = b.y - b.h / 2 + PAD_Y + LINE_H * 0.78
        for i, line in enumerate(node.lines()):
            if i == 0:
                cls = "title"
            elif line.startswith("value "):
                cls = "val"
            elif line.startswith("grad "):
                cls = "grad"
            else:
                cls = "info"
            tip = _hover(node, cls)
            out.append(
                f'<text class="{cls}" x="{_f(b.x)}" y="{_f(top + i * LINE_H)}" '
                f'text-anchor="middle">{tip}{escape(line)}</text>'
            )
        out.append("</g>")
    out.append("</g></svg>")
    return "\n".join(out)

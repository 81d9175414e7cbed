"""Layered (Sugiyama-style) layout of a :class:`GraphView`: inputs on one side, the root on the other.

Two engines give the same kind of drawing. Small and medium graphs use grandalf's layout
(crossing reduction and Brandes-Koepf placement, pure Python). grandalf's set-up is quadratic in
the number of vertices and layers, so big graphs (thousands of nodes, deep chains) use the simple
linear-time layering here: longest-path ranks, dummy points on long edges, a few barycenter
sweeps and a compaction pass. No Graphviz program is involved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from graphgrad.errors import ConfigError
from graphgrad.viz.graph import GraphView

CHAR_W = 7.2  # width of one character of the 12px monospace font the SVG uses
LINE_H = 15.0
PAD_X = 8.0
PAD_Y = 6.0
GRANDALF_MAX = 300  # nodes + dummy points above which the fast engine is used
DUMMY_BUDGET_PER_NODE = 20  # more bend points than this per node: the longest edges go straight


@dataclass
class Box:
    x: float  # centre
    y: float
    w: float
    h: float


@dataclass
class Layout:
    boxes: list[Box]  # by view node id
    paths: list[list[tuple[float, float]]]  # one polyline per view edge, source to destination
    width: float
    height: float
    rankdir: str
    engine: str


def box_size(lines: list[str]) -> tuple[float, float]:
    """Width and height of a box holding ``lines`` of monospace text."""
    longest = max((len(s) for s in lines), default=1)
    return longest * CHAR_W + 2 * PAD_X, len(lines) * LINE_H + 2 * PAD_Y


def _ranks(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest-path layers from the sources; leaves move next to their first consumer."""
    ins: list[list[int]] = [[] for _ in range(n)]
    outs: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for s, d in edges:
        ins[d].append(s)
        outs[s].append(d)
        indeg[d] += 1
    order = [v for v in range(n) if indeg[v] == 0]
    i = 0
    while i < len(order):
        v = order[i]
        i += 1
        for d in outs[v]:
            indeg[d] -= 1
            if indeg[d] == 0:
                order.append(d)
    if len(order) != n:
        raise ConfigError("the graph to lay out has a cycle")
    rank = [0] * n
    for v in order:
        for s in ins[v]:
            rank[v] = max(rank[v], rank[s] + 1)
    for v in order:
        if not ins[v] and outs[v]:
            rank[v] = max(0, min(rank[d] for d in outs[v]) - 1)
    return rank


def _fast(sizes: list[tuple[float, float]], edges: list[tuple[int, int]], gap: float, layer_gap: float):
    """Positions (TB: layers along y) and edge polylines, in time about linear in the drawing."""
    n = len(sizes)
    rank = _ranks(n, edges)
    nlayers = max(rank, default=0) + 1
    # dummy points so long edges bend around the layers they cross
    width = [w for w, _ in sizes]
    height = [h for _, h in sizes]
    layer_of = list(rank)
    chains: list[list[int]] = []
    up: dict[int, list[int]] = defaultdict(list)
    down: dict[int, list[int]] = defaultdict(list)
    spans = [rank[d] - rank[s] - 1 for s, d in edges]
    long_edge = 8 if sum(spans) > DUMMY_BUDGET_PER_NODE * max(n, 1) else nlayers  # straight beyond it
    for (s, d), span in zip(edges, spans):
        chain = [s]
        for r in range(rank[s] + 1, rank[d] if span <= long_edge else rank[s] + 1):
            layer_of.append(r)
            width.append(2.0)
            height.append(0.0)
            chain.append(len(layer_of) - 1)
        chain.append(d)
        chains.append(chain)
        for a, b in zip(chain, chain[1:]):
            up[b].append(a)
            down[a].append(b)
    total = len(layer_of)
    layers: list[list[int]] = [[] for _ in range(nlayers)]
    for v in range(total):
        layers[layer_of[v]].append(v)
    pos = [0.0] * total
    for layer in layers:
        for i, v in enumerate(layer):
            pos[v] = float(i)
    # barycenter sweeps: down (by inputs), then up (by consumers)
    for sweep in range(4):
        neighbours, seq = (up, layers[1:]) if sweep % 2 == 0 else (down, layers[-2::-1])
        for layer in seq:
            keyed = []
            for v in layer:
                nb = neighbours.get(v)
                keyed.append((sum(pos[u] for u in nb) / len(nb) if nb else pos[v], pos[v], v))
            keyed.sort()
            layer[:] = [v for _, _, v in keyed]
            for i, v in enumerate(layer):
                pos[v] = float(i)
    # coordinates: pack each layer, then pull nodes towards their neighbours without overlap
    x = [0.0] * total
    for layer in layers:
        cur = 0.0
        for v in layer:
            x[v] = cur + width[v] / 2
            cur += width[v] + gap
    for sweep in range(4):
        neighbours, seq = (up, layers[1:]) if sweep % 2 == 0 else (down, layers[-2::-1])
        for layer in seq:
            want = []
            for v in layer:
                nb = neighbours.get(v)
                want.append(sum(x[u] for u in nb) / len(nb) if nb else x[v])
            _place(layer, want, width, gap, x)
    left = min((x[v] - width[v] / 2 for v in range(total)), default=0.0)
    for v in range(total):
        x[v] -= left
    ys = []
    cur = 0.0
    for layer in layers:
        h = max((height[v] for v in layer), default=0.0)
        ys.append(cur + h / 2)
        cur += h + layer_gap
    y = [ys[layer_of[v]] for v in range(total)]
    paths = [[(x[v], y[v]) for v in chain] for chain in chains]
    return [(x[v], y[v]) for v in range(n)], paths


def _place(layer: list[int], want: list[float], width: list[float], gap: float, x: list[float]) -> None:
    """Put the nodes of one layer as near ``want`` as their order and widths allow."""
    n = len(layer)
    if n == 0:
        return
    right = [0.0] * n  # pushed right so none overlaps its left neighbour
    for i, v in enumerate(layer):
        right[i] = want[i] if i == 0 else max(want[i], right[i - 1] + (width[layer[i - 1]] + width[v]) / 2 + gap)
    left = [0.0] * n  # pushed left so none overlaps its right neighbour
    for i in range(n - 1, -1, -1):
        v = layer[i]
        left[i] = want[i] if i == n - 1 else min(want[i], left[i + 1] - (width[layer[i + 1]] + width[v]) / 2 - gap)
    placed = [(a + b) / 2 for a, b in zip(left, right)]
    for i in range(1, n):  # the average of two feasible placements may still overlap slightly
        need = placed[i - 1] + (width[layer[i - 1]] + width[layer[i]]) / 2 + gap
        if placed[i] < need:
            placed[i] = need
    for i, v in enumerate(layer):
        x[v] = placed[i]


def _grandalf(sizes: list[tuple[float, float]], edges: list[tuple[int, int]], gap: float, layer_gap: float):
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    class _View:
        def __init__(self, w: float, h: float) -> None:
            self.w, self.h, self.xy = w, h, (0.0, 0.0)

    class _EdgeView:
        def setpath(self, pts: list[tuple[float, float]]) -> None:
            self.pts = pts

    verts = [Vertex(i) for i in range(len(sizes))]
    for v, (w, h) in zip(verts, sizes):
        v.view = _View(w, h)
    gedges = []
    for s, d in edges:
        e = Edge(verts[s], verts[d])
        e.view = _EdgeView()
        gedges.append(e)
    graph = Graph(verts, gedges)
    for core in graph.C:
        sug = SugiyamaLayout(core)
        sug.xspace, sug.yspace = gap, layer_gap
        roots = [v for v in core.sV if not v.e_in()]
        sug.init_all(roots=roots, inverted_edges=[], optimize=True)  # optimize: leaves next to use
        sug.draw(3)
    # components side by side
    offset = 0.0
    xs: dict[int, tuple[float, float]] = {}
    for core in graph.C:
        vs = list(core.sV)
        lo = min(v.view.xy[0] - v.view.w / 2 for v in vs)
        hi = max(v.view.xy[0] + v.view.w / 2 for v in vs)
        for v in vs:
            xs[v.data] = (v.view.xy[0] - lo + offset, v.view.xy[1])
        for e in core.sE:
            e.view.shift = offset - lo
        offset += hi - lo + gap
    positions = [xs[i] for i in range(len(sizes))]
    # grandalf averages four alignments, which can make boxes of unequal size overlap: push apart
    by_layer: dict[float, list[int]] = defaultdict(list)
    for i, (_, py) in enumerate(positions):
        by_layer[round(py, 3)].append(i)
    xcoord = [px for px, _ in positions]
    widths = [w for w, _ in sizes]
    for members in by_layer.values():
        members.sort(key=lambda i: xcoord[i])
        _place(members, [xcoord[i] for i in members], widths, gap, xcoord)
    positions = [(xcoord[i], py) for i, (_, py) in enumerate(positions)]
    paths = []
    for e in gedges:
        pts = getattr(e.view, "pts", None) or [e.v[0].view.xy, e.v[1].view.xy]
        shift = getattr(e.view, "shift", 0.0)
        paths.append([(px + shift, py) for px, py in pts])
    top = min((py - sizes[i][1] / 2 for i, (_, py) in enumerate(positions)), default=0.0)
    positions = [(px, py - top) for px, py in positions]
    paths = [[(px, py - top) for px, py in p] for p in paths]
    return positions, paths


def layout(view: GraphView, rankdir: str = "LR", engine: str = "auto") -> Layout:
    """Place every node of ``view``: ``rankdir`` 'LR' (inputs left) or 'TB' (inputs on top).

    ``engine`` is 'grandalf', 'fast', or 'auto' (grandalf for small graphs, fast for big ones).
    """
    if rankdir not in ("LR", "TB"):
        raise ConfigError(f"rankdir must be 'LR' or 'TB', got {rankdir!r}")
    if engine not in ("auto", "grandalf", "fast"):
        raise ConfigError(f"layout engine must be 'auto', 'grandalf' or 'fast', got {engine!r}")
    sizes_xy = [box_size(node.lines()) for node in view.nodes]
    # lay out in TB space: layers along y, so for LR a box's extent across layers is its width
    sizes = [(h, w) for w, h in sizes_xy] if rankdir == "LR" else list(sizes_xy)
    edges = [(e.src, e.dst) for e in view.edges]
    gap, layer_gap = (14.0, 70.0) if rankdir == "LR" else (24.0, 50.0)
    if engine == "auto":
        ranks = _ranks(len(sizes), edges) if edges else [0] * len(sizes)
        span = sum(max(0, ranks[d] - ranks[s] - 1) for s, d in edges)
        engine = "grandalf" if len(sizes) + span <= GRANDALF_MAX else "fast"
    if engine == "grandalf" and len(sizes) > 1:
        positions, paths = _grandalf(sizes, edges, gap, layer_gap)
    else:
        positions, paths = _fast(sizes, edges, gap, layer_gap)
        engine = "fast"
    if rankdir == "LR":
        positions = [(y, x) for x, y in positions]
        paths = [[(y, x) for x, y in p] for p in paths]
    boxes = [Box(px, py, w, h) for (px, py), (w, h) in zip(positions, sizes_xy)]
    margin = 20.0
    width = max((b.x + b.w / 2 for b in boxes), default=0.0) + 2 * margin
    height = max((b.y + b.h / 2 for b in boxes), default=0.0) + 2 * margin
    for b in boxes:
        b.x += margin
        b.y += margin
    paths = [[(px + margin, py + margin) for px, py in p] for p in paths]
    return Layout(boxes, paths, width, height, rankdir, engine)

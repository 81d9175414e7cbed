"""``draw``: write a graph to an SVG (our own writer) or a PNG (matplotlib, Agg) file."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from graphgrad.errors import ConfigError
from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text
from graphgrad.tensor import Tensor
from graphgrad.viz._page import MARKER, starts_with_marker
from graphgrad.viz.graph import GraphView, build_view
from graphgrad.viz.layers import LayerCalls
from graphgrad.viz.layout import Layout, layout
from graphgrad.viz.numbers import fmt
from graphgrad.viz.svg import KIND_FILL, edge_points, render_svg

FORMATS = ("svg", "png")
TEXT_MAX_NODES = 800


def to_svg(
    tensor: Tensor,
    module: Any = None,
    expand: bool | Iterable[str] | None = None,
    rankdir: str = "LR",
    engine: str = "auto",
    layers: LayerCalls | None = None,
) -> str:
    """The graph that computed ``tensor`` as an SVG document (a string)."""
    view = build_view(tensor, module=module, expand=expand, layers=layers)
    return render_svg(view, layout(view, rankdir=rankdir, engine=engine))


def draw(
    tensor: Tensor,
    path: str | os.PathLike[str],
    format: str | None = None,
    module: Any = None,
    expand: bool | Iterable[str] | None = None,
    rankdir: str = "LR",
    engine: str = "auto",
    layers: LayerCalls | None = None,
) -> Path:
    """Draw the graph that computed ``tensor`` into ``path`` (format from ``format`` or the suffix).

    Call it before ``backward()`` to see values, or after ``backward(retain_graph=True)`` to see
    gradients too (backward frees the graph otherwise). ``layers`` (from
    :func:`~graphgrad.viz.layers.record_layers`) draws each layer call as one node.
    """
    return draw_view(build_view(tensor, module=module, expand=expand, layers=layers), path, format, rankdir, engine)


def drawing_format(path: str | os.PathLike[str], format: str | None = None, where: str = "draw") -> str:
    """The format a drawing of ``path`` is written in (``format``, else the file's suffix, else svg),
    checked before any work; ``where`` names the function or option in the error."""
    fmt = (format or Path(path).suffix.lstrip(".") or "svg").lower()
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def draw_view(view: GraphView, path: str | os.PathLike[str], format: str | None = None, rankdir: str = "LR",
              engine: str = "auto") -> Path:
    """Draw a view already built (e.g. an explanation's) into ``path``, as :func:`draw` does."""
    path = Path(path)
    fmt = drawing_format(path, format)
    lay = layout(view, rankdir=rankdir, engine=engine)
    if fmt == "svg":
        atomic_write_text(path, f"{MARKER}\n{render_svg(view, lay)}")
    else:
        buf = io.BytesIO()
        render_png(view, lay, buf)
        atomic_write_bytes(path, buf.getvalue())
    return path


PNG_SOFTWARE = b"Software\x00graphgrad"
"""The text chunk every PNG drawing carries: how a command knows the file is its own."""


def is_drawing(path: Path) -> bool:
    """Whether ``path`` is an SVG or PNG drawing graphgrad wrote (so a command may replace it)."""
    if starts_with_marker(path):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"\x89PNG") and PNG_SOFTWARE in head




def _arrowhead(p0: tuple[float, float], p1: tuple[float, float], size: float) -> list[tuple[float, float]]:
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / n, dy / n
    bx, by = p1[0] - ux * size, p1[1] - uy * size
    return [p1, (bx - uy * size * 0.45, by + ux * size * 0.45), (bx + uy * size * 0.45, by - ux * size * 0.45)]


def render_png(view: GraphView, lay: Layout, path: Path | BinaryIO, dpi: int = 110, max_pixels: int = 8000) -> None:
    """Paint the same layout with matplotlib (Agg backend; no display needed).

    Boxes, edges and arrowheads go into one collection each, so thousands of nodes paint in
    seconds. Text is left out where it would be too small to read, and above ``TEXT_MAX_NODES``
    nodes (matplotlib paints text slowly; such a PNG is an overview, the SVG keeps every label).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    unit = 1.0 / 96.0  # layout units are CSS pixels (96 per inch)
    scale = min(1.0, max_pixels / (dpi * unit * max(lay.width, lay.height, 1.0)))
    fig = Figure(figsize=(max(lay.width * unit * scale, 1.0), max(lay.height * unit * scale, 1.0)), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    font = 9.0 * scale  # 12 CSS px = 9 pt
    lines, heads, labels = [], [], []
    for k, e in enumerate(view.edges):
        pts = edge_points(lay, k, e.src, e.dst)
        lines.append(pts)
        heads.append(_arrowhead(pts[-2], pts[-1], 7.0))
        if e.local is not None:
            (x0, y0), (x1, y1) = pts[-2], pts[-1]
            labels.append((x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0) - 3, fmt(e.local)))
    ax.add_collection(LineCollection(lines, colors="#6b7280", linewidths=0.9 * scale))
    ax.add_collection(PolyCollection(heads, facecolors="#6b7280", edgecolors="none"))
    patches, faces, edgecolors, widths = [], [], [], []
    for node in view.nodes:
        b = lay.boxes[node.id]
        root = node.id == view.root
        patches.append(
            FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0,rounding_size=6")
        )
        faces.append(KIND_FILL[node.kind])
        edgecolors.append("#b3261e" if root else ("#6b3fa0" if node.kind == "module" else "#44546a"))
        widths.append((2.0 if root else 1.0) * scale)
    ax.add_collection(PatchCollection(patches, facecolors=faces, edgecolors=edgecolors, linewidths=widths))
    if font >= 2.5 and len(view.nodes) <= TEXT_MAX_NODES:
        for x, y, text in labels:
            ax.text(x, y, text, fontsize=font * 0.95, ha="center", va="bottom", color="#0b5394", family="monospace",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        for node in view.nodes:
            b = lay.boxes[node.id]
            for i, line in enumerate(node.lines()):
                ax.text(
                    b.x, b.y - b.h / 2 + 6 + 15 * (i + 0.5), line, ha="center", va="center", fontsize=font,
                    family="monospace", weight="bold" if i == 0 else "normal",
                    color="#b3261e" if line.startswith("grad ") else "#1b1f24",
                )
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": "graphgrad"})

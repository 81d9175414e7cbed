"""Small matrices as HTML heatmap tables (values on hover); big ones as their shape and summary."""

from __future__ import annotations

from html import escape

import numpy as np

from graphgrad.viz._page import num, value_html
from graphgrad.viz.numbers import shape_text, summary

MAX_ROWS = 10
MAX_COLS = 10

CSS = """
.mat{display:inline-flex;flex-direction:column;align-items:center;margin:4px 6px;vertical-align:middle}
.mat .label{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;color:#444;margin-bottom:2px}
.mat table{border-collapse:collapse;border-left:2px solid #333;border-right:2px solid #333;border-radius:3px}
.mat td{border:none;padding:2px 5px;min-width:2.6em;text-align:right;font-size:12px;
 font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}
.mat .summary{font-size:12px;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;border:1px dashed #999;
 padding:4px 6px;background:#fff}
.op-sym{font-size:20px;margin:0 4px;vertical-align:middle}
"""


def _color(v: float, scale: float) -> str:
    """Blue for negative, red for positive, white for zero; stronger with the magnitude."""
    if not np.isfinite(v) or scale == 0:
        return "#ffffff"
    t = max(-1.0, min(1.0, v / scale))
    a = abs(t) * 0.75
    r, g, b = (214, 96, 77) if t > 0 else (67, 147, 195)
    mix = lambda c: int(round(255 + (c - 255) * a))  # noqa: E731
    return f"#{mix(r):02x}{mix(g):02x}{mix(b):02x}"


def squeeze_leading(a: np.ndarray) -> np.ndarray:
    """``a`` without its leading axes of length 1, down to 2-D: one image of one channel
    ``(1, 1, H, W)`` is the matrix ``(H, W)``."""
    arr = np.asarray(a)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def is_small(a: np.ndarray) -> bool:
    arr = squeeze_leading(a)
    if arr.ndim > 2:
        return False
    rows, cols = (1, arr.size) if arr.ndim < 2 else arr.shape
    return rows <= MAX_ROWS and cols <= MAX_COLS


def matrix_html(label: str, a: np.ndarray) -> str:
    """``label`` over a heatmap of ``a`` (a vector is one row), or over its shape and summary."""
    arr = np.asarray(a)
    head = f'<span class="label">{escape(label)}{" (" + shape_text(arr.shape) + ")" if arr.ndim else ""}</span>'
    if arr.size == 1:
        return f'<div class="mat">{head}<div>{value_html(arr)}</div></div>'
    if not is_small(arr) or arr.dtype.kind not in "fiub":
        return f'<div class="mat">{head}<div class="summary">{escape(summary(arr))}</div></div>'
    grid = squeeze_leading(arr)
    grid = grid.reshape(1, -1) if grid.ndim < 2 else grid
    grid = grid.astype(np.float64)
    finite = grid[np.isfinite(grid)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    rows = []
    for row in grid:
        cells = "".join(f'<td style="background:{_color(v, scale)}">{num(v)}</td>' for v in row)
        rows.append(f"<tr>{cells}</tr>")
    return f'<div class="mat">{head}<table class="heatmap">{"".join(rows)}</table></div>'

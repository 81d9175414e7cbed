"""Line charts as inline SVG (no plotting library, no script): curves over integer epochs.

Ticks on the x axis are whole epochs only; every point carries a hover title with its exact value;
vertical marks (the early-stopping epoch) are drawn with their label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from graphgrad.viz.numbers import fmt, full

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")


@dataclass
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False


def epoch_ticks(lo: int, hi: int, most: int = 10) -> list[int]:
    """Whole numbers from ``lo`` to ``hi``, at most about ``most`` of them, at a round step."""
    span = max(hi - lo, 1)
    step = 1
    for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        step = s
        if span / s <= most:
            break
    first = math.ceil(lo / step) * step
    return list(range(first, hi + 1, step))


def value_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round numbers covering [lo, hi]."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks, v = [], first
    while v <= hi + step * 0.5:
        ticks.append(round(v, 12))
        v += step
    return ticks


def line_chart(
    title: str, series: Sequence[Series], y_label: str, marks: Sequence[tuple[float, str]] = (),
    log_y: bool = False, width: int = 600, height: int = 280, css_id: str = "",
) -> str:
    """An SVG chart of ``series`` against the epoch."""
    left, right, top, bottom = 58, 112, 28, 40
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, y) for s in series for x, y in zip(s.x, s.y) if y is not None and math.isfinite(y)
           and (y > 0 or not log_y)]
    ident = f' id="{escape(css_id)}"' if css_id else ""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart"{ident} width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<text x="{left}" y="17" class="chart-title">{escape(title)}</text>')
    if not pts:
        return head + f'<text x="{left}" y="{top + ph / 2}" class="empty">nothing recorded</text></svg>'
    xs = [p[0] for p in pts]
    x_lo, x_hi = int(math.floor(min(xs))), int(math.ceil(max(xs)))
    if x_hi == x_lo:
        x_hi = x_lo + 1
    f = math.log10 if log_y else (lambda v: v)  # noqa: E731
    ys = [f(p[1]) for p in pts]
    y_lo, y_hi = min(ys), max(ys)
    if log_y:
        ticks_y = [float(k) for k in range(math.floor(y_lo), math.ceil(y_hi) + 1)]
    else:
        ticks_y = value_ticks(y_lo, y_hi)
    y_lo, y_hi = min(ticks_y[0], y_lo), max(ticks_y[-1], y_hi)
    if y_hi == y_lo:
        y_hi = y_lo + 1

    def sx(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * pw

    def sy(y: float) -> float:
        return top + ph - (f(y) - y_lo) / (y_hi - y_lo) * ph

    out = [head, f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>']
    for t in ticks_y:
        y = top + ph - (t - y_lo) / (y_hi - y_lo) * ph
        label = fmt(10**t) if log_y else fmt(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{escape(label)}</text>')
    for t in epoch_ticks(x_lo, x_hi):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" class="axis"/>'
                   f'<text x="{x:.1f}" y="{top + ph + 17}" class="tick x-tick" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" class="axis-label" text-anchor="middle">epoch</text>'
               f'<text x="14" y="{top + ph / 2}" class="axis-label" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>')
    for x, label in marks:
        if x_lo <= x <= x_hi:
            right_side = sx(x) > left + 0.6 * pw  # label on the side with room
            tx, anchor = (sx(x) - 4, "end") if right_side else (sx(x) + 4, "start")
            out.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" class="mark"/>'
                       f'<text x="{tx:.1f}" y="{top + ph - 6}" class="mark-label" text-anchor="{anchor}">'
                       f"{escape(label)}</text>")
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        good = [(x, y) for x, y in zip(s.x, s.y) if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
        if not good:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(good))
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for x, y in good:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}">'
                       f"<title>{escape(s.label)}, epoch {x:g}: {escape(full(y))}</title></circle>")
        ly = top + 10 + 16 * k
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 30}" y1="{ly}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/><text x="{left + pw + 35}" y="{ly + 4}" class="legend">'
                   f"{escape(s.label)}</text>")
    out.append("</svg>")
    return "".join(out)

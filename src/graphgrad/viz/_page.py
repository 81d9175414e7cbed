"""Pieces every self-contained page shares: safe embedded JSON, number spans, the page shell."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.viz.numbers import factor, fmt, full, summary

MARKER = "<!-- written by graphgrad -->"
"""The first line of every page and SVG drawing graphgrad writes: how a command knows a file is its own
(and may replace it)."""


def starts_with_marker(path: Path) -> bool:
    """Whether ``path`` is a page or drawing graphgrad wrote (:data:`MARKER` in its first lines)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(200)
    except OSError:
        return False
    return MARKER in head.splitlines()[:3]


def script_json(obj: Any) -> str:
    """JSON for a ``<script type="application/json">`` block.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026``: JSON.parse reads them back
    unchanged, and no name in the data (``</script>``, ``<!--``) can end the block or start markup.
    """
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def num(x: float, as_factor: bool = False) -> str:
    """A number as HTML: the short form, the full value on hover."""
    shown = factor(x) if as_factor else fmt(x)
    return f'<span class="num" title="{escape(full(x))}">{escape(shown)}</span>'


def value_html(a: np.ndarray, as_factor: bool = False) -> str:
    """One number (with hover), or the short summary of an array."""
    arr = np.asarray(a)
    if arr.size == 1 and arr.dtype.kind in "fiub":
        return num(float(arr.reshape(-1)[0]), as_factor)
    return escape(summary(arr))


def page(title: str, css: str, body: list[str], script: str = "") -> str:
    """A whole HTML document: no external resource of any kind."""
    return "\n".join([
        "<!DOCTYPE html>",
        MARKER,
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{css}</style></head><body>",
        *body,
        f"<script>{script}</script>" if script else "",
        "</body></html>",
    ])

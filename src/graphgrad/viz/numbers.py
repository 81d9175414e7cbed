"""How the views write numbers: one rule for every table, caption, box and edge.

The page shows ``SHORT_DIGITS`` significant digits with a true minus sign (``−0.83``) and puts the
full value in a hover title; a negative factor inside a product is parenthesized
(``0.5 · (−0.83)``). The text table printed in a terminal has no hover, so it keeps
``TEXT_DIGITS`` digits and ASCII minus signs, which paste back into Python.
"""

from __future__ import annotations

import math

import numpy as np

SHORT_DIGITS = 3
TEXT_DIGITS = 6
MINUS = "\u2212"


def fmt(x: float, digits: int = SHORT_DIGITS, unicode_minus: bool = True) -> str:
    """``x`` in ``digits`` significant digits, without trailing zeros (``1.0`` -> ``1``)."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        s = "inf" if x > 0 else "-inf"
    elif x == 0:
        s = "0"
    else:
        s = f"{x:.{digits}g}"
        if "e" in s:  # 1.23e-05 -> 1.23e-5
            mant, _, exp = s.partition("e")
            s = f"{mant}e{int(exp)}"
    return s.replace("-", MINUS) if unicode_minus else s


def fmt_text(x: float) -> str:
    """The terminal's form: ``TEXT_DIGITS`` significant digits, ASCII minus."""
    return fmt(x, TEXT_DIGITS, unicode_minus=False)


def full(x: float) -> str:
    """Every digit Python needs to give the same float back (the hover text)."""
    x = float(x)
    return repr(x) if math.isfinite(x) else fmt(x)


def factor(x: float, digits: int = SHORT_DIGITS, unicode_minus: bool = True) -> str:
    """A number written as a factor of a product: negatives in parentheses."""
    s = fmt(x, digits, unicode_minus)
    return f"({s})" if float(x) < 0 else s


def summary(data: np.ndarray, digits: int = SHORT_DIGITS, unicode_minus: bool = True) -> str:
    """One element: the number. More: ``min … mean … max …``."""
    arr = np.asarray(data)
    if arr.size == 1:
        v = arr.reshape(-1)[0]
        return fmt(v, digits, unicode_minus) if arr.dtype.kind in "fiub" else str(v)
    if arr.size == 0:
        return "empty"
    if arr.dtype.kind == "b":
        return f"{int(arr.sum())} of {arr.size} true"
    a = arr.astype(np.float64)
    f = lambda v: fmt(v, digits, unicode_minus)  # noqa: E731
    return f"min {f(a.min())} mean {f(a.mean())} max {f(a.max())}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``(4, 3)`` -> ``4×3``; a scalar has no shape text."""
    return "\u00d7".join(str(n) for n in shape)

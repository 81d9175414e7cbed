"""Text from a user's file written into a CSV must not become a spreadsheet formula.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some treat a leading
tab or carriage return the same way) as a formula. Such text cells get a leading ``'``, the
convention spreadsheets show as plain text; numbers such as ``-1.5`` are left as they are.
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text`` made safe to open in a spreadsheet (see the module docstring)."""
    if text.startswith(_FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text

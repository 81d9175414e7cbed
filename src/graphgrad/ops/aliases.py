"""NumPy's second names for ops graphgrad already has: the very same function objects."""

from __future__ import annotations

from graphgrad.ops.elementwise import abs, divide

__all__ = ["absolute", "true_divide"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()

absolute = abs
true_divide = divide

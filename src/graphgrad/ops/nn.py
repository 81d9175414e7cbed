"""Neural-network primitives: fused, numerically stable ops (softmax, cross-entropy, ...)."""

from __future__ import annotations

__all__: list[str] = []

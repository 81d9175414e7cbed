"""The registry that drives the generic op tests: one :class:`OpInfo` per public op.

Each family file (``opinfo_<family>.py``) lists its ops in ``OPINFOS``; adding an op to graphgrad
means adding one entry there, and ``test_registry_covers_every_op`` fails until it is added.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@dataclass(frozen=True)
class OpInfo:
    """How to test one op.

    ``fn`` takes ``nargs`` tensors and returns a tensor. ``domain`` is the (low, high) range of
    input values (one pair for all inputs or one per input). ``shapes`` is a strategy that draws
    the list of input shapes (default: mutually broadcastable shapes). ``avoid(arrays)`` returns
    True for inputs too close to a point where the op is not differentiable (kinks, ties).
    ``skip_second_order`` opts out of the second-derivative test, with the reason, for an op
    whose second derivative is genuinely undefined.
    """

    name: str
    fn: Callable[..., Any]
    nargs: int = 1
    domain: Any = (-3.0, 3.0)
    shapes: Any = None
    avoid: Callable[[Sequence[np.ndarray]], bool] | None = None
    atol: float = 1e-6
    eps: float = 1e-6
    sample: Any = None  # fixed input shapes for the non-Hypothesis tests; default (2, 3) each
    rtol: float = 1e-4
    notes: str = field(default="", compare=False)
    skip_second_order: str = ""  # why second derivatives are not checked (empty: they are)

    def sample_shapes(self) -> list[tuple[int, ...]]:
        return list(self.sample) if self.sample is not None else [(2, 3)] * self.nargs

    def domain_of(self, i: int) -> tuple[float, float]:
        if isinstance(self.domain[0], (tuple, list)):
            return tuple(self.domain[i])  # type: ignore[return-value]
        return tuple(self.domain)  # type: ignore[return-value]

    def shape_strategy(self) -> st.SearchStrategy:
        if self.shapes is not None:
            return self.shapes
        if self.nargs == 1:
            return hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4).map(lambda s: [s])
        return hnp.mutually_broadcastable_shapes(
            num_shapes=self.nargs, min_dims=0, max_dims=3, min_side=1, max_side=4
        ).map(lambda r: list(r.input_shapes))


def same_shapes(n: int, min_dims: int = 0, max_dims: int = 3) -> st.SearchStrategy:
    """``n`` copies of one drawn shape."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4).map(
        lambda s: [s] * n
    )


def near(values: np.ndarray, points: Any, tol: float = 1e-3) -> bool:
    """True if any entry is within ``tol`` of any of ``points`` (kinks of piecewise ops)."""
    return bool(np.any(np.abs(np.asarray(values)[..., None] - np.asarray(points, dtype=float)) < tol))


def has_ties(values: np.ndarray, tol: float = 1e-3) -> bool:
    """True if two entries are within ``tol`` of each other (where max/min switch)."""
    flat = np.sort(np.asarray(values).reshape(-1))
    return bool(np.any(np.diff(flat) < tol))


FAMILIES = ("elementwise", "reduce", "shape", "linalg", "nn")


def all_opinfos() -> list[OpInfo]:
    infos: list[OpInfo] = []
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"tests.ops.opinfo_{family}")
        except ModuleNotFoundError:
            continue
        infos.extend(module.OPINFOS)
    return infos

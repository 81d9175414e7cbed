"""Shared helpers for the autograd tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import graphgrad as gg
from graphgrad.ops.core import Op


def private_op(name: str, forward: Callable[..., Any], vjps: Sequence[Any] | None) -> Op:
    """An Op for one test, never entered in graphgrad's registry (registry-driven tests never see it)."""
    return Op(name, forward, vjps, register=False)


def sigmoid(a: Any) -> gg.Tensor:
    """The logistic function built from primitive ops (independent of any fused sigmoid op)."""
    return 1.0 / (1.0 + gg.exp(-a))


def np_sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def scalar(value: float) -> gg.Tensor:
    """A float64 scalar leaf that requires a gradient."""
    return gg.Tensor(np.float64(value), requires_grad=True)

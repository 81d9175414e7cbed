"""Backward is iterative: a chain of a million scalar ops needs no raised recursion limit."""

from __future__ import annotations

import sys

import numpy as np

import graphgrad as gg


def test_million_op_chain_under_default_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    x = gg.Tensor(np.float64(1.0), requires_grad=True)
    y = x
    for _ in range(500_000):
        y = y * 1.000001
        y = y - 0.0
    assert y.op == "subtract"
    y.backward()
    assert sys.getrecursionlimit() == limit
    assert abs(x.grad.item() - 1.000001**500_000) < 1e-9

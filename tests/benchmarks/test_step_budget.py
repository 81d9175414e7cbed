"""Regression guard for speed without timing anything: one MLP training step must not grow the
graph or allocate more arrays than it does today. If a change makes this fail, it added work to
the hot path; if it made the step leaner, lower the budget here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

import graphgrad as gg
import graphgrad.ops.core as core
from graphgrad import nn, optim
from graphgrad.autograd.engine import topological_order
from graphgrad.tensor import Tensor

NODE_BUDGET = 6  # linear, relu, linear, relu, linear, cross_entropy
ARRAY_BUDGET = 20  # tensors made by one forward + backward + SGD step, as of this writing


@contextmanager
def counting_tensors() -> Iterator[list[int]]:
    """Count the tensors the ops create (every op output and every gradient passes through _wrap)."""
    original = Tensor._wrap
    count = [0]

    def counted(data: np.ndarray) -> Tensor:
        count[0] += 1
        return original(data)

    Tensor._wrap = staticmethod(counted)  # type: ignore[method-assign]
    core._wrap = counted
    try:
        yield count
    finally:
        Tensor._wrap = original  # type: ignore[method-assign]
        core._wrap = original


def make_step() -> tuple[nn.Module, optim.Optimizer, Tensor, Tensor]:
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(20, 16, rng=1), nn.ReLU(), nn.Linear(16, 16, rng=2), nn.ReLU(), nn.Linear(16, 5, rng=3)
    )
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = gg.Tensor(rng.standard_normal((8, 20)).astype(np.float32))
    y = gg.Tensor(rng.integers(0, 5, 8))
    return model, opt, x, y


def one_step(model: nn.Module, opt: optim.Optimizer, x: Tensor, y: Tensor) -> None:
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_mlp_step_graph_has_one_node_per_layer_op() -> None:
    model, _, x, y = make_step()
    loss = nn.functional.cross_entropy(model(x), y)
    nodes = [t for t in topological_order([loss]) if t._node is not None]
    assert [t.op for t in nodes] == ["linear", "relu", "linear", "relu", "linear", "cross_entropy"]
    assert len(nodes) <= NODE_BUDGET


def test_mlp_step_tensor_allocations_within_budget() -> None:
    model, opt, x, y = make_step()
    one_step(model, opt, x, y)  # optimizer state exists from now on
    with counting_tensors() as count:
        one_step(model, opt, x, y)
    assert 0 < count[0] <= ARRAY_BUDGET, f"one MLP step made {count[0]} tensors (budget {ARRAY_BUDGET})"

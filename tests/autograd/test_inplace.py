"""In-place safety: changes to tensors a live graph saved are caught; others are allowed."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import GraphgradError, InplaceError
from tests.autograd.helpers import scalar


def test_modifying_a_saved_input_raises_naming_the_op() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.Tensor(np.array([3.0, 4.0]))
    loss = gg.sum(gg.exp(w * x))
    x += 1.0  # x saved by multiply; not recorded (x needs no gradient), so changed in place
    with pytest.raises(InplaceError, match=r"\(2,\) to 'multiply'"):
        loss.backward()


def test_optimizer_style_update_of_a_saved_leaf_is_caught() -> None:
    w = scalar(2.0)
    loss = w * w
    with gg.no_grad():
        w -= 0.1  # a parameter step before backward of a graph that saved w
    with pytest.raises(InplaceError, match="multiply"):
        loss.backward()


def test_raw_numpy_change_is_caught_after_bump_version() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = gg.sum(gg.log(w))
    w.data *= 2.0
    w.bump_version()
    with pytest.raises(InplaceError, match="log"):
        loss.backward()


def test_setitem_on_saved_tensor_is_caught() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.Tensor(np.array([3.0, 4.0]))
    loss = gg.sum(w * x)
    x[0] = 10.0
    with pytest.raises(InplaceError, match="multiply"):
        loss.backward()


def test_in_place_operator_on_leaf_that_requires_grad_is_refused() -> None:
    w = scalar(1.0)
    with pytest.raises(GraphgradError, match="leaf"):
        w += 1.0
    with pytest.raises(GraphgradError, match="leaf"):
        w.copy_(np.float64(3.0))
    assert w.item() == 1.0


def test_in_place_allowed_when_no_live_graph_saved_the_tensor() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]))
    x += 1.0  # nothing saved x yet
    w = gg.Tensor(np.array([0.5, 0.5]), requires_grad=True)
    loss = gg.sum(w * x)
    loss.backward()  # frees the graph
    x *= 2.0  # the only graph that saved x is gone
    with gg.no_grad():
        w -= 0.1 * w.grad  # the usual SGD step after backward
    np.testing.assert_allclose(w.data, [0.5 - 0.2, 0.5 - 0.3])
    loss2 = gg.sum(w * x)
    loss2.backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 3.0] + np.array([4.0, 6.0]))


def test_in_place_on_a_tensor_not_used_by_the_graph_is_fine() -> None:
    w = scalar(3.0)
    unrelated = gg.Tensor(np.zeros(2))
    loss = w * 2.0
    unrelated += 5.0
    loss.backward()
    assert w.grad.item() == 2.0


def test_in_place_operator_on_recorded_tensor_builds_a_new_node() -> None:
    x = scalar(2.0)
    h = x * 3.0
    h += x  # recorded: h becomes a new tensor, the graph stays correct
    h.backward()
    assert x.grad.item() == 4.0

"""Selection by hand: diagonal gradients, sort at ties (PyTorch's stable sort as the oracle), errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ConfigError, ShapeError


def _leaf(values: object) -> gg.Tensor:
    return gg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_trace_gradient_is_the_identity_and_diag_round_trips() -> None:
    m = _leaf(np.arange(9.0).reshape(3, 3))
    gg.trace(m).backward()
    np.testing.assert_array_equal(m.grad.data, np.eye(3))
    v = _leaf([1.0, 2.0])
    d = gg.diag(v, -1)
    np.testing.assert_array_equal(d.data, [[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    d.backward(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(v.grad.data, [3.0, 7.0])  # entries (1, 0) and (2, 1) of the upstream


def test_diagonal_output_is_a_writable_copy() -> None:
    m = gg.Tensor(np.eye(2))
    d = gg.diagonal(m)
    d.data[0] = 5.0
    assert m.data[0, 0] == 1.0


def test_tril_triu_pass_the_gradient_only_inside_their_triangle() -> None:
    m = _leaf(np.ones((2, 3, 3)))
    (gg.tril(m, -1) + 2.0 * gg.triu(m)).sum().backward()
    expected = np.tril(np.ones((3, 3)), -1) + 2.0 * np.triu(np.ones((3, 3)))
    np.testing.assert_array_equal(m.grad.data, np.broadcast_to(expected, (2, 3, 3)))


def test_tril_keeps_inf_above_out_of_the_result() -> None:
    m = gg.Tensor(np.array([[1.0, np.inf], [2.0, 3.0]]))
    np.testing.assert_array_equal(gg.tril(m).data, [[1.0, 0.0], [2.0, 3.0]])  # not inf * 0 = nan


def test_sort_at_ties_sends_gradients_like_pytorchs_stable_sort() -> None:
    values = np.array([[2.0, 1.0, 2.0, 0.5, 1.0]])
    g = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])
    x = _leaf(values)
    s = gg.sort(x, axis=-1)
    np.testing.assert_array_equal(s.data, np.sort(values))
    s.backward(g)
    np.testing.assert_array_equal(x.grad.data, [[40.0, 20.0, 50.0, 10.0, 30.0]])
    torch = pytest.importorskip("torch")
    t = torch.tensor(values, requires_grad=True)
    torch.sort(t, dim=-1, stable=True).values.backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_partition_puts_the_kth_value_in_place_and_its_gradient_back() -> None:
    x = _leaf([5.0, 1.0, 4.0, 2.0, 3.0])
    p = gg.partition(x, 2)
    assert p.data[2] == 3.0 and set(p.data[:2]) == {1.0, 2.0}
    p[2].backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 0, 0, 1.0])


def test_argsort_carries_no_gradient() -> None:
    x = _leaf([3.0, 1.0, 2.0])
    i = gg.argsort(x)
    np.testing.assert_array_equal(i.data, [1, 2, 0])
    assert not i.requires_grad
    assert "argsort" in gg.ops.NON_DIFFERENTIABLE


def test_take_along_axis_with_argmax_picks_the_maximum() -> None:
    x = _leaf([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    top = gg.take_along_axis(x, np.argmax(x.data, axis=1, keepdims=True), axis=1)
    np.testing.assert_array_equal(top.data, [[5.0], [7.0]])
    top.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: gg.take(np.ones(4), [4]), ShapeError, "take: index 4 is out of bounds for the flattened tensor"),
        (lambda: gg.take(np.ones((2, 3)), [-4], axis=1), ShapeError, "take: index -4 is out of bounds for axis 1"),
        (lambda: gg.take(np.ones(3), [0], mode="nearest"), ConfigError, "take: mode must be"),
        (lambda: gg.take(np.ones(3), [0.5]), ShapeError, "indices must be integers"),
        (lambda: gg.take_along_axis(np.ones((2, 3)), np.zeros(2, int), 1), ShapeError, "take_along_axis: indices"),
        (lambda: gg.diag(np.ones((2, 2, 2))), ShapeError, "diag: input must be 1-D or 2-D"),
        (lambda: gg.diagonal(np.ones((2, 2)), 0, 1, 1), ShapeError, "diagonal: axis1 and axis2 must differ"),
        (lambda: gg.trace(np.ones(3)), ShapeError, "diagonal: needs at least 2 axes"),
        (lambda: gg.partition(np.ones(3), 5), ShapeError, "partition: kth"),
    ],
)
def test_bad_arguments_raise_errors_that_name_the_op(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()

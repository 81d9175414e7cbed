"""Gradients the user holds (issue 8, section 4).

Every ``.grad`` (and every gradient a transform returns) is a writable array that nothing else
holds: not a broadcast view, not a constant, not another tensor's gradient, never an array the
caller passed in. ``x[i] = v`` keeps NumPy's last write, and its docstring's advice works.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def _owned(t: gg.Tensor) -> bool:
    d = t.grad.data
    return bool(d.flags.writeable and d.base is None)


def test_gradient_of_a_sum_is_writable() -> None:
    x = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x.sum().backward()  # sum's rule gives a broadcast view of the upstream gradient
    assert _owned(x)
    x.grad *= 0.5
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.5, 0.5])
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])


def test_leaves_that_receive_one_array_get_their_own_copies() -> None:
    a = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = gg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a + b).backward(np.array([1.0, 1.0]))  # add passes one array to both inputs
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad *= 2.0
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_backward_never_aliases_the_given_gradient() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    s = np.array([5.0, 7.0])
    (x * 1.0).backward(grad=s)  # multiply by a constant 1: the rule returns g * 1
    (x + 0.0).backward(grad=s)  # add: the rule passes s itself through
    np.testing.assert_array_equal(x.grad.data, [10.0, 14.0])
    y = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    st = gg.Tensor(s)
    (y + 0.0).backward(grad=st)
    assert not np.shares_memory(y.grad.data, s)
    s[:] = 0.0
    np.testing.assert_array_equal(y.grad.data, [5.0, 7.0])


def test_retained_non_leaf_and_leaf_gradients_are_distinct_arrays() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (x + 0.0).retain_grad()
    (h + 0.0).sum().backward()
    assert not np.shares_memory(h.grad.data, x.grad.data)
    assert _owned(x) and _owned(h)


def test_transform_gradients_are_writable() -> None:
    g = gg.grad(lambda x: x.sum())(np.ones(3))
    g *= 3.0  # in place on the returned gradient
    np.testing.assert_array_equal(g.data, [3.0, 3.0, 3.0])


def test_create_graph_gradients_are_owned_and_still_differentiable() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x**2).sum().backward(create_graph=True)
    assert _owned(x) and x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()  # d/dx sum(2x) = 2
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_accumulated_gradient_is_owned() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.sum().backward()
    x.sum().backward()
    assert _owned(x)
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


# ---------------------------------------------------------------- setitem
def test_setitem_advice_from_its_docstring_works() -> None:
    # "to build new entries from old ones, write into a copy: y = x * 1.0; y[2] = x[0] * 2"
    b = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = b * 1.0
    y = x * 1.0
    y[2] = x[0] * 2.0
    (y * y).sum().backward()  # y = [b0, b1, 2 b0]: d/db0 = 2 b0 + 8 b0 = 10, d/db1 = 2 b1 = 4
    np.testing.assert_allclose(b.grad.data, [10.0, 4.0, 0.0])


def test_setitem_out_of_place_reads_the_old_values() -> None:
    from graphgrad.ops import setitem

    b = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = setitem(b, 2, b[0] * 2.0)
    np.testing.assert_array_equal(b.data, [1.0, 2.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(b.grad.data, [3.0, 1.0, 0.0])


def test_repeated_index_gives_the_gradient_to_the_last_write_only() -> None:
    v = gg.Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x = gg.zeros(3, dtype=np.float64)
    x[np.array([0, 0, 2])] = v  # NumPy keeps v[1] at position 0
    reference = np.zeros(3)
    reference[np.array([0, 0, 2])] = v.data
    np.testing.assert_array_equal(x.data, reference)
    (x * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [0.0, 1.0, 3.0])


def test_repeated_index_with_a_broadcast_value() -> None:
    v = gg.Tensor(np.float64(2.0), requires_grad=True)
    x = gg.zeros(3, dtype=np.float64)
    x[[1, 1]] = v  # one position, written twice with the same value: it counts once
    x.sum().backward()
    assert v.grad.item() == 1.0


def test_setitem_through_a_live_view_is_refused() -> None:
    from graphgrad.errors import InplaceError

    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.zeros(4, dtype=np.float64)
    _ = x[:2]
    with pytest.raises(InplaceError, match="shares its memory"):
        x[0] = w[0]

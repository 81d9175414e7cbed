"""Shape ops by hand: indexing (np.add.at semantics), setitem, joining, splitting, padding, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.check import gradcheck
from graphgrad.errors import ConfigError, InplaceError, ShapeError


def grad_of(f, x: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
    t = gg.Tensor(x.copy(), requires_grad=True)
    out = f(t)
    out.backward(g if g is not None else np.ones(out.shape, dtype=x.dtype))
    return t.grad.data


# ------------------------------------------------------------------ getitem
def test_repeated_indices_accumulate_like_np_add_at() -> None:
    x = np.arange(5.0)
    index = np.array([0, 0, 3, 0, -1])
    g = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    expected = np.zeros(5)
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(grad_of(lambda t: t[index], x, g), expected)
    np.testing.assert_array_equal(expected, [1011.0, 0.0, 0.0, 100.0, 10000.0])


def test_list_and_tensor_indices_behave_like_arrays() -> None:
    x = np.arange(12.0).reshape(4, 3)
    for index in ([2, 2, 0], gg.Tensor(np.array([2, 2, 0]))):
        t = gg.Tensor(x.copy(), requires_grad=True)
        out = t[index]
        np.testing.assert_array_equal(out.data, x[[2, 2, 0]])
        out.sum().backward()
        np.testing.assert_array_equal(t.grad.data, [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 0, 0]])


def test_boolean_mask_gradient_is_the_mask() -> None:
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    mask = x > 0
    t = gg.Tensor(x, requires_grad=True)
    out = t[t > 0]
    np.testing.assert_array_equal(out.data, [1.0, 3.0, 5.0])
    (out * gg.Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    np.testing.assert_array_equal(t.grad.data != 0, mask)


def test_mixed_index_with_slice_ellipsis_and_repeats() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    rows = np.array([1, 1, 0])
    index = (slice(None), rows, slice(1, 3))
    g = np.random.default_rng(0).standard_normal(x[index].shape)
    expected = np.zeros_like(x)
    np.add.at(expected, index, g)
    np.testing.assert_allclose(grad_of(lambda t: t[index], x, g), expected)
    out = gg.Tensor(x)[..., np.array([3, 3])]
    np.testing.assert_array_equal(out.data, x[..., [3, 3]])


def test_getitem_second_derivative_through_index_add() -> None:
    x = np.array([1.0, 2.0, 3.0])
    gradcheck(lambda t: (t[np.array([0, 0, 2])] ** 3.0).sum() * t[1], [x])
    t = gg.Tensor(x, requires_grad=True)
    (t[np.array([0, 0])] ** 2.0).sum().backward(create_graph=True)  # d/dx0 = 4 x0
    np.testing.assert_allclose(t.grad.data, [4.0, 0.0, 0.0])
    t.grad.sum().backward()  # d2/dx0^2 = 4, accumulated onto the first gradient's graph leaf
    np.testing.assert_allclose(t.grad.data, [8.0, 0.0, 0.0])


# ------------------------------------------------------------------ setitem
def test_setitem_gradient_for_old_values_and_value() -> None:
    a = gg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = gg.Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x = a * 2.0
    x[1] = v * 3.0
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.data, [[0.0, 2.0, 4.0], [30.0, 60.0, 90.0]])
    (x * gg.Tensor(w)).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [[2.0, 4.0, 6.0], [0.0, 0.0, 0.0]])  # row 1 was overwritten
    np.testing.assert_array_equal(v.grad.data, [12.0, 15.0, 18.0])  # 3 * w[1]


def test_setitem_broadcast_value_and_mask_index() -> None:
    a = gg.Tensor(np.array([-1.0, 2.0, -3.0, 4.0]), requires_grad=True)
    v = gg.Tensor(np.array([5.0]), requires_grad=True)
    x = a + 0.0
    x[a.data < 0] = v
    np.testing.assert_array_equal(x.data, [5.0, 2.0, 5.0, 4.0])
    (x * gg.Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.0, 2.0, 0.0, 4.0])
    np.testing.assert_array_equal(v.grad.data, [4.0])  # filled two slots with weights 1 and 3


def test_setitem_after_a_graph_saved_the_tensor_is_detected() -> None:
    a = gg.Tensor(np.ones(3), requires_grad=True)
    x = a * 2.0
    y = x * x  # saves x
    x[0] = 5.0
    with pytest.raises(InplaceError, match="multiply"):
        y.sum().backward()


# ------------------------------------------------------------------ concatenate / stack
def test_concatenate_values_and_gradient_slices() -> None:
    a = gg.Tensor(np.ones((2, 1)), requires_grad=True)
    b = gg.Tensor(np.zeros((2, 3)), requires_grad=True)
    out = gg.concatenate([a, b], axis=1)
    assert out.shape == (2, 4)
    g = np.arange(8.0).reshape(2, 4)
    out.backward(g)
    np.testing.assert_array_equal(a.grad.data, g[:, :1])
    np.testing.assert_array_equal(b.grad.data, g[:, 1:])


def test_concatenate_many_and_axis_none() -> None:
    xs = [gg.Tensor(np.full((1, 2), float(i)), requires_grad=True) for i in range(40)]
    out = gg.concatenate(xs, axis=0)
    np.testing.assert_array_equal(out.data[:, 0], np.arange(40.0))
    out.backward(np.arange(80.0).reshape(40, 2))
    np.testing.assert_array_equal(xs[39].grad.data, [[78.0, 79.0]])
    flat = gg.concatenate([np.ones((2, 2)), np.zeros(3)], axis=None)
    np.testing.assert_array_equal(flat.data, [1, 1, 1, 1, 0, 0, 0])


def test_concatenate_error_names_op_and_both_shapes() -> None:
    with pytest.raises(ShapeError) as err:
        gg.concatenate([np.ones((2, 3)), np.ones((4, 5))], axis=1)
    message = str(err.value)
    assert "concatenate" in message and "(2, 3)" in message and "(4, 5)" in message
    with pytest.raises(ShapeError, match="concatenate.*zero-dimensional"):
        gg.concatenate([np.float64(1.0), np.float64(2.0)])
    with pytest.raises(ShapeError, match="at least one"):
        gg.concatenate([])
    with pytest.raises(ShapeError, match="axis 2 is out of range"):
        gg.concatenate([np.ones((2, 2))], axis=2)


def test_stack_values_gradient_and_errors() -> None:
    a = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = gg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    out = gg.stack([a, b], axis=1)
    np.testing.assert_array_equal(out.data, [[1.0, 3.0], [2.0, 4.0]])
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(a.grad.data, [1.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, [2.0, 4.0])
    with pytest.raises(ShapeError) as err:
        gg.stack([np.ones(2), np.ones(3)])
    assert "stack" in str(err.value) and "(2,)" in str(err.value) and "(3,)" in str(err.value)


def test_reshape_and_broadcast_errors_name_op_and_shapes() -> None:
    with pytest.raises(ShapeError) as err:
        gg.reshape(np.ones((2, 3)), (4, 2))
    assert "reshape" in str(err.value) and "(2, 3)" in str(err.value) and "(4, 2)" in str(err.value)
    with pytest.raises(ShapeError) as err:
        gg.broadcast_to(np.ones((2, 3)), (3, 3))
    assert "broadcast_to" in str(err.value) and "(2, 3)" in str(err.value) and "(3, 3)" in str(err.value)


# ------------------------------------------------------------------ split
@pytest.mark.parametrize("spec", [3, [1, 4], [2, 2, 5], [4, 2], [-2], [0, 10]])
def test_split_matches_numpy(spec) -> None:
    x = np.arange(12.0).reshape(6, 2)
    ours = gg.split(x, spec)
    theirs = np.split(x, spec)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.data, t)


def test_split_gradient_lands_in_each_part() -> None:
    t = gg.Tensor(np.zeros((2, 5)), requires_grad=True)
    a, b, c = gg.split(t, [1, 3], axis=1)
    (a.sum() * 1.0 + b.sum() * 2.0 + c.sum() * 3.0).backward()
    np.testing.assert_array_equal(t.grad.data, [[1, 2, 2, 3, 3]] * 2)


def test_split_unequal_sections_is_an_error() -> None:
    with pytest.raises(ShapeError, match="split: 4 sections do not divide axis 0 of length 6"):
        gg.split(np.ones(6), 4)


# ------------------------------------------------------------------ pad
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", [1, (2,), (1, 2), ((0, 1), (2, 0)), [[3, 1], [1, 3]]])
def test_pad_matches_numpy(mode: str, width) -> None:
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(gg.pad(x, width, mode=mode).data, np.pad(x, width, mode=mode))


def test_pad_constant_values_and_gradient() -> None:
    t = gg.Tensor(np.ones((2, 2)), requires_grad=True)
    out = gg.pad(t, ((1, 0), (0, 2)), constant_values=7.0)
    np.testing.assert_array_equal(out.data, np.pad(np.ones((2, 2)), ((1, 0), (0, 2)), constant_values=7.0))
    g = np.arange(12.0).reshape(3, 4)
    out.backward(g)
    np.testing.assert_array_equal(t.grad.data, g[1:, :2])


def test_pad_reflect_gradient_counts_copies() -> None:
    t = gg.Tensor(np.zeros(4), requires_grad=True)
    gg.pad(t, 2, mode="reflect").sum().backward()  # [2 1 | 0 1 2 3 | 2 1]
    np.testing.assert_array_equal(t.grad.data, [1.0, 3.0, 3.0, 1.0])


def test_pad_errors() -> None:
    with pytest.raises(ShapeError, match="negative"):
        gg.pad(np.ones(3), -1)
    with pytest.raises(ShapeError, match="does not fit"):
        gg.pad(np.ones((2, 2)), [(1, 1), (1, 1), (1, 1)])
    with pytest.raises(ConfigError, match="valid modes: constant, edge"):
        gg.pad(np.ones(3), 1, mode="mean")
    with pytest.raises(ShapeError, match="integers"):
        gg.pad(np.ones(3), 1.5)


def test_two_setitems_in_a_row_and_a_later_raw_change() -> None:
    a = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = a * 1.0
    x[0] = a[1] * 5.0
    x[2] = a[0] * a[0]
    np.testing.assert_array_equal(x.data, [10.0, 2.0, 1.0])
    x.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(a.grad.data, [2.0, 1.0 + 5.0, 0.0])
    x.data[1] = 3.0
    x.bump_version()  # a raw change after the fact is still caught
    with pytest.raises(InplaceError, match="setitem"):
        x.sum().backward()


def test_reading_x_then_writing_x_is_refused_at_backward() -> None:
    """``x[2] = x[0] * 2``: the read saved x, which the write replaces; backward says so."""
    a = gg.Tensor(np.ones(3), requires_grad=True)
    x = a * 1.0
    x[2] = x[0] * 2.0
    with pytest.raises(InplaceError, match="getitem"):
        x.sum().backward()

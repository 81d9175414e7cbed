"""Re-arranging and joining by hand: gradients that count copies, NumPy's shape rules, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ShapeError


def _leaf(shape: tuple[int, ...]) -> gg.Tensor:
    return gg.Tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)


def test_repeat_gives_each_element_its_count_as_gradient() -> None:
    x = _leaf((3,))
    gg.repeat(x, [1, 0, 2]).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 2.0])
    m = _leaf((2, 2))
    gg.repeat(m, 3, axis=1).sum().backward()
    np.testing.assert_array_equal(m.grad.data, np.full((2, 2), 3.0))


def test_tile_gradient_is_the_number_of_tiles() -> None:
    x = _leaf((2, 3))
    y = gg.tile(x, (2, 1, 2))
    assert y.shape == (2, 2, 6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 4.0))


def test_roll_gradient_rolls_back() -> None:
    x = _leaf((5,))
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    gg.roll(x, 2).backward(g)
    np.testing.assert_array_equal(x.grad.data, np.roll(g, -2))


def test_rot90_four_times_is_the_identity() -> None:
    x = _leaf((2, 3, 4))
    y = x
    for _ in range(4):
        y = gg.rot90(y, axes=(1, 2))
    np.testing.assert_array_equal(y.data, x.data)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gg.repeat(np.ones(3), [1, 2]), "repeat: 2 repeat counts for axis 0 of length 3"),
        (lambda: gg.repeat(np.ones(3), -1), "repeat: repeats must be non-negative integers"),
        (lambda: gg.fliplr(np.ones(3)), "fliplr: needs at least 2 axes, got shape (3,)"),
        (lambda: gg.rot90(np.ones((2, 2)), axes=(0, 0)), "rot90: repeated axis"),
        (lambda: gg.moveaxis(np.ones((2, 2)), [0, 1], [0]), "moveaxis: source [0, 1] and destination [0]"),
        (lambda: gg.moveaxis(np.ones((2, 2)), 2, 0), "moveaxis: axis 2 is out of range"),
        (lambda: gg.tile(np.ones(2), (-1,)), "tile: negative repetition"),
        (lambda: gg.vsplit(np.ones(4), 2), "vsplit: needs at least 2 axes, got shape (4,)"),
        (lambda: gg.hsplit(np.ones((2, 3)), 2), "split: 2 sections do not divide axis 1 of length 3"),
        (lambda: gg.array_split(np.ones(3), 0), "array_split: the number of sections must be positive"),
        (lambda: gg.vstack(gg.Tensor(np.ones(3))), "vstack: expects a sequence of tensors"),
    ],
)
def test_bad_arguments_raise_shape_errors_that_name_the_op(call, message: str) -> None:
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        call()


def test_stacking_sends_each_input_its_slice_of_the_gradient() -> None:
    a, b = _leaf((3,)), _leaf((3,))
    g = np.arange(6.0).reshape(2, 3)
    gg.vstack([a, b]).backward(g)
    np.testing.assert_array_equal(a.grad.data, g[0])
    np.testing.assert_array_equal(b.grad.data, g[1])
    c, d = _leaf((2,)), _leaf((2, 2))
    g = np.arange(6.0).reshape(2, 3)
    gg.column_stack([c, d]).backward(g)
    np.testing.assert_array_equal(c.grad.data, g[:, 0])
    np.testing.assert_array_equal(d.grad.data, g[:, 1:])


def test_array_split_sizes_follow_numpy_and_gradients_land_in_their_parts() -> None:
    x = _leaf((7,))
    parts = gg.array_split(x, 3)
    assert [p.shape for p in parts] == [(3,), (2,), (2,)]
    (parts[0].sum() + 2.0 * parts[2].sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 1, 0, 0, 2, 2])


def test_atleast_returns_one_tensor_or_a_tuple_like_numpy() -> None:
    one = gg.atleast_2d(np.ones(3))
    assert isinstance(one, gg.Tensor) and one.shape == (1, 3)
    two = gg.atleast_3d(np.ones(()), np.ones((2, 3)))
    assert [t.shape for t in two] == [(1, 1, 1), (2, 3, 1)]

"""Rounding family by hand: zero gradients, remainder's sign rule, NaN handling, aliases."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def _leaf(values: list[float]) -> gg.Tensor:
    return gg.Tensor(np.array(values), requires_grad=True)


@pytest.mark.parametrize("name", ["floor", "ceil", "round"])
def test_rounding_has_zero_gradient_even_at_the_jumps(name: str) -> None:
    x = _leaf([-1.5, -0.5, 0.0, 0.5, 2.0, 2.7])
    y = getattr(gg, name)(x)
    np.testing.assert_array_equal(y.data, getattr(np, name)(x.data))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(6))


def test_round_with_decimals_rounds_halves_to_even_like_numpy() -> None:
    x = np.array([0.125, 2.5, -0.35, 1234.5678])
    np.testing.assert_array_equal(gg.round(x, 2).data, np.round(x, 2))
    np.testing.assert_array_equal(gg.round(x, -2).data, np.round(x, -2))


def test_remainder_follows_the_sign_of_the_divisor_and_matches_pytorch() -> None:
    a, b = _leaf([5.5, -5.5, 5.5, -5.5]), _leaf([2.0, 2.0, -2.0, -2.0])
    out = gg.remainder(a, b)
    np.testing.assert_array_equal(out.data, [1.5, 0.5, -0.5, -1.5])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.data, 1.0)
    np.testing.assert_array_equal(b.grad.data, -np.floor_divide(a.data, b.data))  # [-2, 3, 3, -2]
    torch = pytest.importorskip("torch")
    ta, tb = torch.tensor(a.data, requires_grad=True), torch.tensor(b.data, requires_grad=True)
    torch.remainder(ta, tb).sum().backward()
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())


def test_fmax_fmin_ignore_nan_and_give_it_no_gradient() -> None:
    a, b = _leaf([1.0, np.nan, 2.0, 3.0]), _leaf([np.nan, 4.0, 2.0, 1.0])
    out = gg.fmax(a, b)
    np.testing.assert_array_equal(out.data, [1.0, 4.0, 2.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 0.5, 1.0])  # a tie splits evenly
    np.testing.assert_array_equal(b.grad.data, [0.0, 1.0, 0.5, 0.0])
    a.grad = b.grad = None
    gg.fmin(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 0.5, 0.0])


def test_nan_to_num_passes_the_gradient_only_where_the_input_was_finite() -> None:
    x = _leaf([np.nan, np.inf, -np.inf, 2.0])
    y = gg.nan_to_num(x, nan=-1.0, posinf=9.0)
    np.testing.assert_array_equal(y.data, [-1.0, 9.0, np.finfo(np.float64).min, 2.0])
    y.backward(np.full(4, 3.0))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0, 3.0])


def test_fabs_makes_integers_float_like_numpy() -> None:
    out = gg.fabs(np.array([-3, 2]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [3.0, 2.0])


def test_aliases_are_the_same_functions() -> None:
    assert gg.absolute is gg.abs
    assert gg.true_divide is gg.divide
    assert gg.mod is gg.remainder


def test_percent_operators_are_numpy_remainder_with_its_gradients() -> None:
    # a % b = a - b floor(a / b): d/da = 1, d/db = -floor(a / b)
    a = _leaf([5.5, -5.5, 7.0, -0.25])
    b = _leaf([2.0, 2.0, -3.0, 1.5])
    y = a % b
    np.testing.assert_array_equal(y.data, np.remainder(a.data, b.data))
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [-2.0, 3.0, 3.0, 1.0])
    r = 7.0 % gg.Tensor(np.array([2.0, -3.0]))
    np.testing.assert_array_equal(r.data, [1.0, -2.0])


def test_in_place_percent_follows_the_other_in_place_operators() -> None:
    plain = gg.Tensor(np.array([5.5, -5.5]))
    same, before = plain, plain.data
    plain %= 2.0
    assert plain is same and plain.data is before
    np.testing.assert_array_equal(plain.data, [1.5, 0.5])

    leaf = _leaf([1.0])
    with pytest.raises(gg.errors.GraphgradError, match="leaf"):
        leaf %= 2.0
    assert leaf.item() == 1.0

    x = _leaf([5.5, -5.5])
    h = x * 3.0
    h %= 4.0  # recorded: a new node, the gradient flows through
    np.testing.assert_array_equal(h.data, np.remainder(x.data * 3.0, 4.0))
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])

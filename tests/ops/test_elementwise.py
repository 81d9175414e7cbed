"""Hand-checked cases of the elementwise ops: values at the extremes, conventions at kinks and ties,
no NaN leaking through where, erf against math.erf, a second derivative against its formula."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.errors import ConfigError
from graphgrad.ops.elementwise import erf_array, erfc_array


def grad_of(fn, x, dtype=np.float64):  # noqa: ANN001, ANN202
    """d sum(fn(x)) / dx, with every warning turned into an error."""
    t = gg.Tensor(np.asarray(x, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(t)
        gg.sum(out).backward()
    return out.data, t.grad.data


# ------------------------------------------------------------------ where: no NaN from the branch not taken
@pytest.mark.parametrize(
    ("fn", "x", "expected"),
    [
        (lambda t: gg.where(t > 0, gg.sqrt(t), 0.0), [-1.0, 0.0, 4.0], [0.0, 0.0, 0.25]),
        (lambda t: gg.where(t > 0, gg.log(t), 0.0), [-2.0, 0.0, 2.0], [0.0, 0.0, 0.5]),
        (lambda t: gg.where(t > -1, gg.log1p(t), 0.0), [-3.0, -1.0, 1.0], [0.0, 0.0, 0.5]),
        (lambda t: gg.where(t != 0, gg.reciprocal(t), 0.0), [0.0, 2.0], [0.0, -0.25]),
        (lambda t: gg.where(t != 0, 1.0 / t, 0.0), [0.0, -2.0], [0.0, -0.25]),
    ],
)
def test_where_gives_zero_gradient_not_nan_on_the_branch_not_taken(fn, x, expected) -> None:  # noqa: ANN001
    t = gg.Tensor(np.array(x), requires_grad=True)
    with np.errstate(all="ignore"):  # the forward of the discarded branch is NaN/inf, as in NumPy
        y = fn(t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gg.sum(y).backward()
    np.testing.assert_array_equal(t.grad.data, expected)


def test_where_second_derivative_stays_finite() -> None:
    x = gg.Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        y = gg.sum(gg.where(x > 0, gg.sqrt(x), 0.0))
    (g,) = backward([y], [None], create_graph=True, retain_graph=True, inputs=[x])
    (h,) = backward([gg.sum(g)], [None], inputs=[x])
    np.testing.assert_allclose(h.data, [0.0, -0.25 * 4.0**-1.5], rtol=1e-15)


# ------------------------------------------------------------------ extremes
def test_sigmoid_at_extremes_is_exact_without_warnings() -> None:
    x = [-1000.0, -30.0, 0.0, 30.0, 1000.0]
    out, grad = grad_of(gg.sigmoid, x)
    e30 = math.exp(30.0)
    np.testing.assert_array_equal(out[[0, 2, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out[[1, 3]], [1 / (1 + e30), 1 / (1 + 1 / e30)], rtol=1e-15)
    np.testing.assert_array_equal(grad[[0, 2, 4]], [0.0, 0.25, 0.0])
    out32, grad32 = grad_of(gg.sigmoid, [-1000.0, 0.0, 1000.0], dtype=np.float32)
    assert out32.dtype == np.float32 and grad32.dtype == np.float32
    np.testing.assert_array_equal(out32, [0.0, 0.5, 1.0])


def test_tanh_at_extremes() -> None:
    out, grad = grad_of(gg.tanh, [-1000.0, 0.0, 1000.0])
    np.testing.assert_array_equal(out, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0, 0.0])


def test_softplus_at_extremes_and_threshold() -> None:
    out, grad = grad_of(gg.softplus, [-1000.0, 0.0, 25.0, 1000.0])
    np.testing.assert_array_equal(out, [0.0, math.log(2.0), 25.0, 1000.0])
    np.testing.assert_array_equal(grad, [0.0, 0.5, 1.0, 1.0])
    out, grad = grad_of(lambda t: gg.softplus(t, beta=2.0), [1.0, -800.0])
    np.testing.assert_allclose(out, [math.log1p(math.exp(2.0)) / 2.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grad, [1 / (1 + math.exp(-2.0)), 0.0], rtol=1e-15)
    with pytest.raises(ConfigError, match="softplus: beta"):
        gg.softplus(gg.tensor([1.0]), beta=0.0)


def test_elu_and_gelu_at_large_negative_inputs() -> None:
    out, grad = grad_of(gg.elu, [-1000.0, 2.0])
    np.testing.assert_array_equal(out, [-1.0, 2.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0])
    out, grad = grad_of(gg.gelu, [-10.0, 0.0, 1.0, 40.0])
    # x Phi(x): Phi(-10) = 7.619853024160527e-24 (relative accuracy kept in the far tail)
    np.testing.assert_allclose(out, [-7.619853024160527e-23, 0.0, 0.8413447460685429, 40.0], rtol=1e-13)
    np.testing.assert_allclose(grad[1:], [0.5, 0.8413447460685429 + math.exp(-0.5) / math.sqrt(2 * math.pi), 1.0])


def test_gelu_tanh_matches_its_formula() -> None:
    x = np.array([-2.0, -0.3, 0.7, 3.0])
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    out, grad = grad_of(lambda t: gg.gelu(t, approximate="tanh"), x)
    np.testing.assert_allclose(out, 0.5 * x * (1 + np.tanh(u)), rtol=1e-15)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
    np.testing.assert_allclose(grad, 0.5 * (1 + np.tanh(u)) + 0.5 * x * (1 - np.tanh(u) ** 2) * du, rtol=1e-14)
    with pytest.raises(ConfigError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        gg.gelu(gg.tensor([1.0]), approximate="erf")


# ------------------------------------------------------------------ conventions at kinks and ties
def test_gradients_at_kinks_follow_the_documented_rule() -> None:
    zero = [0.0]
    assert grad_of(gg.abs, zero)[1].tolist() == [0.0]
    assert grad_of(gg.relu, zero)[1].tolist() == [0.0]
    assert grad_of(lambda t: gg.leaky_relu(t, 0.2), zero)[1].tolist() == [0.2]
    assert grad_of(lambda t: gg.elu(t, alpha=1.5), zero)[1].tolist() == [1.5]
    _, g = grad_of(gg.sign, [-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])  # a zero tensor, not None


@pytest.mark.parametrize("layout", ["small", "contiguous", "channels first, batch innermost", "strided",
                                    "several pieces"])
def test_relu_in_every_memory_layout_equals_numpys_maximum_and_keeps_the_layout(layout: str) -> None:
    """ReLU compares a large block of memory a piece at a time with an array of zeros; other arrays,
    and NaN, infinities and signed zeros, come out as np.maximum(x, 0) gives them."""
    special = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1e-45, -1e-45], dtype=np.float32)
    x = {
        "small": np.resize(special, (4, 3, 5, 5)),
        "contiguous": np.resize(special, (32, 8, 8, 16)),
        "channels first, batch innermost": np.resize(special, (8, 8, 16, 32)).transpose(3, 0, 1, 2),
        "strided": np.resize(special, (600, 100))[:, ::3],
        "several pieces": np.concatenate([special, np.random.default_rng(5).standard_normal(3 * 65536 + 5)
                                          .astype(np.float32)]),
    }[layout]
    got, want = gg.relu(gg.Tensor(x)).data, np.maximum(x, 0)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype and np.array_equal(np.signbit(got), np.signbit(want))
    if layout != "strided":
        assert got.strides == want.strides


def test_maximum_minimum_split_ties_evenly() -> None:
    a = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = gg.Tensor(np.array(2.0), requires_grad=True)
    gg.sum(gg.maximum(a, b)).backward()
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.5, 1.0])
    assert b.grad.item() == 1.5  # wins at 1, ties at 2, loses at 3
    a.grad = b.grad = None
    gg.sum(gg.minimum(a, b) * np.array([1.0, 10.0, 100.0])).backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 5.0, 0.0])
    assert b.grad.item() == 105.0
    x = gg.Tensor(np.array([4.0]), requires_grad=True)
    gg.maximum(x, x).backward(np.ones(1))
    assert x.grad.item() == 1.0  # max(x, x) = x


def test_clip_gradient_is_one_inside_and_at_the_bounds() -> None:
    out, grad = grad_of(lambda t: gg.clip(t, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(out, [-1.0, -1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0, 1.0, 1.0, 0.0])
    _, grad = grad_of(lambda t: gg.clip(t, a_min=np.array([0.0, 5.0])), [1.0, 1.0])
    np.testing.assert_array_equal(grad, [1.0, 0.0])
    x = gg.tensor([1.0])
    assert gg.clip(x) is x
    with pytest.raises(ConfigError, match="clip: a_max gets no gradient"):
        gg.clip(x, None, gg.Tensor([0.0], requires_grad=True))


def test_clip_keeps_float32() -> None:
    x = gg.Tensor(np.array([0.5, 3.0], dtype=np.float32), requires_grad=True)
    y = gg.clip(x, np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    assert y.dtype == np.float32


def test_square_reciprocal_sin_cos_values() -> None:
    x = [0.5, -2.0]
    np.testing.assert_array_equal(grad_of(gg.square, x)[1], [1.0, -4.0])
    np.testing.assert_array_equal(grad_of(gg.reciprocal, x)[1], [-4.0, -0.25])
    np.testing.assert_allclose(grad_of(gg.sin, x)[1], np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(grad_of(gg.cos, x)[1], -np.sin(x), rtol=1e-15)
    assert gg.reciprocal(gg.tensor([4])).data.tolist() == [0.25]  # integer input: true division


# ------------------------------------------------------------------ erf
def test_erf_matches_math_erf_to_1e_14() -> None:
    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, -0.0, 1e-300, 2.5, -2.5, 2.5 - 1e-15, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf_array(x) - expected)) < 1e-14
    assert np.max(np.abs(erfc_array(x) - np.array([math.erfc(v) for v in x]))) < 1e-14


def test_erfc_keeps_relative_accuracy_in_the_tail() -> None:
    x = np.linspace(2.5, 26.0, 2001)
    expected = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(erfc_array(x) / expected - 1)) < 1e-13


def test_erf_special_values() -> None:
    out = erf_array(np.array([np.inf, -np.inf, np.nan]))
    assert out[0] == 1.0 and out[1] == -1.0 and np.isnan(out[2])
    assert erf_array(np.array([1.0], dtype=np.float32)).dtype == np.float32


# ------------------------------------------------------------------ a second derivative by hand
def test_second_derivative_of_x_cubed_sin_x() -> None:
    xs = np.array([-2.0, -0.5, 0.3, 1.0, 2.7])
    x = gg.Tensor(xs, requires_grad=True)
    y = gg.sum(x**3.0 * gg.sin(x))
    (g,) = backward([y], [None], create_graph=True, retain_graph=True, inputs=[x])
    np.testing.assert_allclose(g.data, 3 * xs**2 * np.sin(xs) + xs**3 * np.cos(xs), rtol=1e-13)
    (h,) = backward([gg.sum(g)], [None], inputs=[x])
    expected = 6 * xs * np.sin(xs) + 6 * xs**2 * np.cos(xs) - xs**3 * np.sin(xs)
    np.testing.assert_allclose(h.data, expected, rtol=1e-12)


def test_second_derivatives_of_activations_by_hand() -> None:
    xs = np.array([-1.5, 0.4, 2.0])
    s = 1 / (1 + np.exp(-xs))
    t = np.tanh(xs)
    cases = [
        (gg.sigmoid, s * (1 - s) * (1 - 2 * s)),
        (gg.tanh, -2 * t * (1 - t**2)),
        (gg.softplus, s * (1 - s)),
        (gg.gelu, (2 - xs**2) * np.exp(-(xs**2) / 2) / math.sqrt(2 * math.pi)),
    ]
    for fn, expected in cases:
        x = gg.Tensor(xs, requires_grad=True)
        (g,) = backward([gg.sum(fn(x))], [None], create_graph=True, retain_graph=True, inputs=[x])
        (h,) = backward([gg.sum(g)], [None], inputs=[x])
        np.testing.assert_allclose(h.data, expected, rtol=1e-12, atol=1e-15)


def test_power_exponent_gradient_is_zero_at_a_zero_base():
    # d/db 0**b: 0**b is 0 for every b > 0, so the slope there is 0; at b = 0 PyTorch also takes 0
    # (a^b log a would be 1 * -inf). A negative exponent keeps a^b log a.
    a = gg.tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    b = gg.tensor(np.array([0.0, 0.5, 0.5]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(b.grad.data, [0.0, 0.0, np.sqrt(2.0) * np.log(2.0)])


def test_power_exponent_gradient_matches_torch_at_zero_base():
    torch = pytest.importorskip("torch")
    base = np.array([0.0, 0.0, 0.0, 3.0, 0.0])
    exponent = np.array([0.0, 2.0, -1.0, 0.0, 1.0])
    a = gg.tensor(base, requires_grad=True)
    b = gg.tensor(exponent, requires_grad=True)
    with np.errstate(divide="ignore"):  # 0 ** -1 is inf, as in PyTorch
        (a**b).sum().backward()
    ta = torch.tensor(base, requires_grad=True)
    tb = torch.tensor(exponent, requires_grad=True)
    (ta**tb).sum().backward()
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())

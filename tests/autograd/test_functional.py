"""Higher order: create_graph, grad / value_and_grad / jacobian / hvp against hand formulas and differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError
from tests.autograd.helpers import np_sigmoid, scalar, sigmoid


def test_second_derivative_by_backward_create_graph() -> None:
    """d/dx x^4 = 4x^3 (a graph), d2/dx2 = 12 x^2."""
    x = scalar(1.5)
    (x**4).backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.item() == pytest.approx(4 * 1.5**3)
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx(12 * 1.5**2)


def test_d2_dx2_of_x_cubed_sin_x() -> None:
    if not hasattr(gg, "sin"):
        pytest.fail("graphgrad.sin is missing (issue #2 lists it among the elementwise ops)")
    d2 = gg.grad(gg.grad(lambda x: x**3 * gg.sin(x)))
    for xv in (-1.3, 0.4, 2.0):
        # (x^3 sin x)'' = 6x sin x + 6x^2 cos x - x^3 sin x
        want = 6 * xv * np.sin(xv) + 6 * xv**2 * np.cos(xv) - xv**3 * np.sin(xv)
        assert d2(np.float64(xv)).item() == pytest.approx(want, rel=1e-12)


def test_d3_dx3_by_nesting_three_times() -> None:
    d3 = gg.grad(gg.grad(gg.grad(lambda x: gg.exp(2.0 * x) * x)))
    xv = 0.3  # (x e^{2x})''' = (12 + 8x) e^{2x}
    assert d3(np.float64(xv)).item() == pytest.approx((12 + 8 * xv) * np.exp(2 * xv), rel=1e-12)


def test_grad_argnums_int_and_tuple() -> None:
    f = lambda x, y, z: x * (y**2 + z)
    assert gg.grad(f)(1.0, 2.0, 3.0).item() == 7.0
    assert gg.grad(f, argnums=1)(1.0, 2.0, 3.0).item() == 4.0
    gx, gz = gg.grad(f, argnums=(0, 2))(1.0, 2.0, 3.0)
    assert (gx.item(), gz.item()) == (7.0, 1.0)
    assert gg.grad(f, argnums=-1)(1.0, 2.0, 3.0).item() == 1.0
    with pytest.raises(ValueError, match="argnums"):
        gg.grad(f, argnums=3)(1.0, 2.0, 3.0)


def test_grad_does_not_touch_dot_grad_and_converts_inputs() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = gg.grad(lambda a: gg.sum(a * a))(w)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert w.grad is None
    g32 = gg.grad(lambda a: gg.sum(a * a))([1, 2])  # integers become float32 tensors
    assert g32.dtype == np.float32 and g32.tolist() == [2.0, 4.0]
    g64 = gg.grad(lambda a: gg.sum(a * a))(np.array([1.0, 2.0]))
    assert g64.dtype == np.float64


def test_grad_of_constant_function_is_zero_and_non_scalar_is_refused() -> None:
    assert gg.grad(lambda x: gg.Tensor(np.float64(3.0)))(np.array([1.0, 2.0])).tolist() == [0.0, 0.0]
    with pytest.raises(BackwardError, match=r"shape \(2,\).*jacobian"):
        gg.grad(lambda x: x * 2.0)(np.array([1.0, 2.0]))


def test_value_and_grad() -> None:
    value, g = gg.value_and_grad(lambda x: gg.sum(gg.exp(x)))(np.array([0.0, 1.0]))
    assert value.item() == pytest.approx(1 + np.e)
    assert not value.requires_grad
    np.testing.assert_allclose(g.data, [1.0, np.e])
    value, (ga, gb) = gg.value_and_grad(lambda a, b: a * b, argnums=(0, 1))(2.0, 5.0)
    assert (value.item(), ga.item(), gb.item()) == (10.0, 5.0, 2.0)


def test_jacobian_shape_and_values() -> None:
    W = np.arange(6.0).reshape(2, 3)
    x = np.array([0.5, -1.0, 2.0])
    J = gg.jacobian(lambda v: gg.exp(W @ v))(x)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J.data, np.exp(W @ x)[:, None] * W, rtol=1e-13)
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    JA = gg.jacobian(lambda M: M * M)(A)  # d(M*M)_ij / dM_kl = 2 M_ij [ij == kl]
    assert JA.shape == (2, 2, 2, 2)
    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            expected[i, j, i, j] = 2 * A[i, j]
    np.testing.assert_allclose(JA.data, expected)
    Jx, JW = gg.jacobian(lambda v, M: M @ v, argnums=(0, 1))(x, W)
    np.testing.assert_allclose(Jx.data, W)
    assert JW.shape == (2, 2, 3)
    np.testing.assert_allclose(JW.data[1, 1], x)
    np.testing.assert_allclose(JW.data[1, 0], 0.0)


def test_hessian_as_jacobian_of_grad() -> None:
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    H = gg.jacobian(gg.grad(lambda v: 0.5 * (v @ (A @ v)) + gg.sum(v**3)))(np.array([1.0, -2.0]))
    np.testing.assert_allclose(H.data, A + np.diag(6 * np.array([1.0, -2.0])), rtol=1e-13)


def _mlp_loss(W1, b1, W2, x, y):
    h = sigmoid(x @ W1 + b1)
    return gg.mean((h @ W2 - y) ** 2)


def test_mlp_hessian_vector_product_against_finite_differences_of_gradients() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    params = (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)))
    vs = tuple(rng.standard_normal(p.shape) for p in params)
    f = lambda W1, b1, W2: _mlp_loss(W1, b1, W2, x, y)
    Hv = gg.hvp(f, params, vs)
    grad_all = gg.grad(f, argnums=(0, 1, 2))
    eps = 1e-5
    plus = grad_all(*[p + eps * v for p, v in zip(params, vs)])
    minus = grad_all(*[p - eps * v for p, v in zip(params, vs)])
    for hv, gp, gm in zip(Hv, plus, minus):
        np.testing.assert_allclose(hv.data, (gp.data - gm.data) / (2 * eps), rtol=1e-6, atol=1e-9)
    assert any(np.abs(hv.data).max() > 1e-3 for hv in Hv)  # a non-trivial product was compared


def test_hvp_single_tensor_matches_hand_hessian() -> None:
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1.0, 2.0, -1.0])
    # f = sum(x^3) + x0 x1: H = diag(6x) + [[0,1,0],[1,0,0],[0,0,0]]
    Hv = gg.hvp(lambda t: gg.sum(t**3) + t[0] * t[1], x, v)
    H = np.diag(6 * x)
    H[0, 1] = H[1, 0] = 1.0
    np.testing.assert_allclose(Hv.data, H @ v, rtol=1e-13)
    assert gg.hvp(lambda t: gg.sum(t * 3.0), x, v).tolist() == [0.0, 0.0, 0.0]  # linear: H = 0


def test_np_sigmoid_helper_agrees() -> None:
    a = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(sigmoid(gg.Tensor(a)).data, np_sigmoid(a), rtol=1e-15)


def test_grad_of_jacobian_differentiates_through_the_assembled_matrix() -> None:
    """J(x) = diag(3 x^2) for f = x^3; d/dx sum(J * M) = 6 x * diag(M)."""
    M = np.array([[1.0, 5.0], [7.0, -2.0]])
    x = np.array([0.5, 2.0])
    g = gg.grad(lambda t: gg.sum(gg.jacobian(lambda u: u**3)(t) * M))(x)
    np.testing.assert_allclose(g.data, 6 * x * np.diag(M), rtol=1e-13)


def test_hvp_direction_shape_is_checked() -> None:
    from graphgrad.errors import ShapeError

    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        gg.hvp(lambda t: gg.sum(t**3), np.ones(2), np.ones(3))

"""``grad(..., has_aux=True)`` and ``vjp(f, *primals)`` against derivatives worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ShapeError

X = np.array([0.5, -1.25, 2.0])
Y = np.array([0.3, 1.1, -0.7])


def _cube_with_mean(x: gg.Tensor) -> tuple[gg.Tensor, gg.Tensor]:
    return (x**3).sum(), x.mean()


def test_grad_with_aux_returns_the_gradient_and_the_untouched_aux() -> None:
    g, aux = gg.grad(_cube_with_mean, has_aux=True)(X)
    np.testing.assert_allclose(g.data, 3 * X**2)  # d/dx sum x^3 = 3 x^2
    assert aux.item() == pytest.approx(X.mean())


def test_value_and_grad_with_aux_pairs_the_value_with_aux() -> None:
    (value, aux), g = gg.value_and_grad(_cube_with_mean, has_aux=True)(X)
    assert value.item() == pytest.approx(np.sum(X**3))
    assert aux.item() == pytest.approx(X.mean())
    np.testing.assert_allclose(g.data, 3 * X**2)


def test_grad_with_aux_and_several_arguments() -> None:
    (gx, gy), aux = gg.grad(lambda x, y: ((x * y).sum(), "note"), argnums=(0, 1), has_aux=True)(X, Y)
    np.testing.assert_allclose(gx.data, Y)
    np.testing.assert_allclose(gy.data, X)
    assert aux == "note"


def test_has_aux_needs_a_pair() -> None:
    with pytest.raises(ShapeError, match=r"grad: with has_aux=True, f must return a pair \(output, aux\), got Tensor"):
        gg.grad(lambda x: (x**2).sum(), has_aux=True)(X)
    with pytest.raises(ShapeError, match="got tuple of length 3"):
        gg.grad(lambda x: ((x**2).sum(), 1, 2), has_aux=True)(X)


def test_vjp_gives_the_value_and_cotangent_times_jacobian() -> None:
    # f(x, y) = x * sin(y): J_x = diag(sin y), J_y = diag(x cos y)
    value, vjp_fn = gg.vjp(lambda x, y: x * gg.sin(y), X, Y)
    np.testing.assert_allclose(value.data, X * np.sin(Y))
    v = np.array([1.0, -2.0, 0.5])
    gx, gy = vjp_fn(v)
    np.testing.assert_allclose(gx.data, v * np.sin(Y))
    np.testing.assert_allclose(gy.data, v * X * np.cos(Y))
    # called again (the graph is kept): rows of the Jacobian of a non-diagonal map
    gx2, _ = vjp_fn(np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(gx2.data, [0.0, np.sin(Y[1]), 0.0])


def test_vjp_of_a_matrix_product_is_the_transposed_products() -> None:
    a = np.arange(6.0).reshape(2, 3) / 7
    b = np.linspace(-1, 1, 12).reshape(3, 4)
    c = np.linspace(0, 2, 8).reshape(2, 4)
    _, vjp_fn = gg.vjp(gg.matmul, a, b)
    ga, gb = vjp_fn(c)
    np.testing.assert_allclose(ga.data, c @ b.T)
    np.testing.assert_allclose(gb.data, a.T @ c)


def test_vjp_with_aux_and_a_zero_gradient_for_an_unused_primal() -> None:
    value, vjp_fn, aux = gg.vjp(lambda x, y: (gg.exp(x), y.sum()), X, Y, has_aux=True)
    assert aux.item() == pytest.approx(Y.sum())
    gx, gy = vjp_fn(np.ones(3))
    np.testing.assert_allclose(gx.data, np.exp(X))
    np.testing.assert_array_equal(gy.data, np.zeros(3))


def test_vjp_refuses_a_cotangent_of_another_shape() -> None:
    _, vjp_fn = gg.vjp(lambda x: x * 2.0, X)
    with pytest.raises(ShapeError, match=r"vjp: the cotangent has shape \(2,\), the output of f has shape \(3,\)"):
        vjp_fn(np.ones(2))


def test_vjp_nests_under_grad() -> None:
    # sum(vjp of x^3 at ones) = sum 3 x^2, whose gradient is 6 x
    def inner(x: gg.Tensor) -> gg.Tensor:
        _, vjp_fn = gg.vjp(lambda t: t**3, x)
        return vjp_fn(np.ones(3))[0].sum()

    np.testing.assert_allclose(gg.grad(inner)(X).data, 6 * X)

"""``hessian`` (any input shape, structured inputs), ``elementwise_grad`` and ``jacrev``, against
float64 finite differences, hand-derived values and ``torch.autograd.functional.hessian``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphgrad as gg


def energy(X: gg.Tensor) -> gg.Tensor:
    """A scalar of a matrix, with products of entries across rows and columns."""
    return gg.logsumexp(X @ X.T, axis=None) + (gg.sin(X) * X[::-1]).sum()


def fd_hessian(f: Any, x: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """d2f / dx_i dx_j by the four-point central difference of f alone (no engine gradient)."""

    def value(z: np.ndarray) -> float:
        with gg.no_grad():
            return float(f(gg.Tensor(z)).data)

    n = x.size
    H = np.zeros((n, n))
    E = np.eye(n).reshape((n, *x.shape))
    for i in range(n):
        for j in range(n):
            H[i, j] = (value(x + eps * (E[i] + E[j])) - value(x + eps * (E[i] - E[j]))
                       - value(x - eps * (E[i] - E[j])) + value(x - eps * (E[i] + E[j]))) / (4 * eps**2)
    return H.reshape(x.shape + x.shape)


def test_hessian_of_a_matrix_input_has_shape_x_x_and_matches_finite_differences() -> None:
    X = np.random.default_rng(2).uniform(-1, 1, (2, 3))
    H = gg.hessian(energy)(X)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H.data, fd_hessian(energy, X), rtol=1e-6, atol=1e-7)
    flat = H.data.reshape(6, 6)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-12)  # mixed partials commute


def test_hessian_agrees_with_torch() -> None:
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(5).uniform(-1, 1, (3, 2))

    def theirs(Z: Any) -> Any:
        return torch.logsumexp((Z @ Z.T).reshape(-1), 0) + (torch.sin(Z) * Z.flip(0)).sum()

    want = torch.autograd.functional.hessian(theirs, torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(gg.hessian(energy)(X).data, want, rtol=1e-12, atol=1e-14)


def test_hessian_of_a_scalar_input_and_of_a_quadratic() -> None:
    assert gg.hessian(lambda x: x**4)(np.float64(1.5)).item() == pytest.approx(12 * 1.5**2)
    Q = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    H = gg.hessian(lambda v: 0.5 * v @ (Q @ v))(np.array([0.3, -0.2, 1.0]))
    np.testing.assert_allclose(H.data, Q, rtol=1e-14)
    np.testing.assert_array_equal(gg.hessian(lambda v: (3.0 * v).sum())(np.ones(2)).data, np.zeros((2, 2)))


def test_hessian_of_structured_arguments_gives_nested_blocks() -> None:
    """f(w, b) = sum(w)^2 * b: blocks d2f/dw2 = 2b (all ones), d2f/dw db = 2 sum(w), d2f/db2 = 0."""
    p = {"w": np.array([1.0, 2.0]), "b": np.array(3.0)}
    H = gg.hessian(lambda q: q["w"].sum() ** 2 * q["b"])(p)
    np.testing.assert_allclose(H["w"]["w"].data, np.full((2, 2), 6.0))
    np.testing.assert_allclose(H["w"]["b"].data, [6.0, 6.0])
    np.testing.assert_allclose(H["b"]["w"].data, [6.0, 6.0])
    assert H["b"]["b"].item() == 0.0
    Hxy = gg.hessian(lambda x, y: (x * y).sum() ** 2, argnums=(0, 1))(np.ones(2), np.array([2.0, 3.0]))
    np.testing.assert_allclose(Hxy[0][1].data, 2 * np.outer([2.0, 3.0], [1.0, 1.0]) + 2 * 5.0 * np.eye(2))


def test_hessian_matches_hvp_along_directions() -> None:
    X = np.random.default_rng(9).uniform(-1, 1, (2, 2))
    V = np.random.default_rng(10).uniform(-1, 1, (2, 2))
    H = gg.hessian(energy)(X).data.reshape(4, 4)
    np.testing.assert_allclose(gg.hvp(energy, X, V).data.reshape(-1), H @ V.reshape(-1), rtol=1e-12)


def test_elementwise_grad_is_the_derivative_entry_by_entry() -> None:
    x = np.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(gg.elementwise_grad(gg.tanh)(x).data, 1 - np.tanh(x) ** 2, rtol=1e-14)
    d2 = gg.elementwise_grad(gg.elementwise_grad(gg.tanh))(x)
    np.testing.assert_allclose(d2.data, -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-12, atol=1e-15)
    # for an f that mixes entries: the column sums of the Jacobian
    M = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    f = lambda v: gg.sin(M @ v)  # noqa: E731
    v = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(gg.elementwise_grad(f)(v).data, gg.jacobian(f)(v).data.sum(axis=0), rtol=1e-14)


def test_jacrev_is_jacobian() -> None:
    assert gg.jacrev is gg.jacobian

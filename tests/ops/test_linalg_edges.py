"""graphgrad.linalg at the points its gradients document: zeros, singular and degenerate matrices, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import linalg as la
from graphgrad.autograd.check import gradcheck
from graphgrad.errors import BackwardError, ConfigError, ShapeError


def _grad(fn, a: np.ndarray) -> np.ndarray:
    return gg.grad(fn)(np.asarray(a, dtype=np.float64)).data


@pytest.mark.parametrize("ord, axis", [(None, None), (2, -1), (3, -1), (1, -1), (np.inf, -1), ("fro", (0, 1))])
def test_every_vector_norm_has_gradient_zero_at_zero(ord: object, axis: object) -> None:
    np.testing.assert_array_equal(_grad(lambda x: la.norm(x, ord=ord, axis=axis).sum(), np.zeros((2, 3))), 0.0)


def test_norm_subgradients_at_kinks() -> None:
    np.testing.assert_array_equal(_grad(lambda x: la.norm(x, 1), [0.0, -2.0, 3.0]), [0.0, -1.0, 1.0])
    np.testing.assert_array_equal(_grad(lambda x: la.norm(x, np.inf), [-3.0, 1.0, 3.0]), [-0.5, 0.0, 0.5])
    np.testing.assert_array_equal(_grad(lambda x: la.norm(x, 0), [0.0, 2.0]), [0.0, 0.0])
    g = _grad(lambda x: la.norm(x, "nuc"), np.zeros((3, 2)))  # U V^T: a subgradient (spectral norm <= 1)
    assert np.linalg.norm(g, 2) <= 1.0 + 1e-12


def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix() -> None:
    """By hand, and by finite differences (det is a polynomial). PyTorch 2.13 returns 0 here."""
    a, b, c, d = 1.0, 2.0, 2.0, 4.0  # det 0, rank 1
    np.testing.assert_allclose(_grad(la.det, [[a, b], [c, d]]), [[d, -c], [-b, a]], atol=1e-14)
    zero_row = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [4.0, 5.0, 7.0]])
    assert np.linalg.det(zero_row) == 0.0
    cofactors = [[0.0, 0.0, 0.0], [1.0, -5.0, 3.0], [0.0, 0.0, 0.0]]  # (-1)^(1+j) times the 2x2 minors
    np.testing.assert_allclose(_grad(la.det, zero_row), cofactors, atol=1e-14)
    gradcheck(la.det, [zero_row])
    np.testing.assert_allclose(_grad(la.det, np.zeros((3, 3))), 0.0, atol=1e-15)  # rank 0: cofactors vanish


def test_slogdet_of_a_singular_matrix_has_infinite_gradient_not_an_error() -> None:
    x = gg.Tensor(np.array([[1.0, 2.0], [2.0, 4.0]]), requires_grad=True)
    sign, logabsdet = la.slogdet(x)
    assert sign.item() == 0.0 and logabsdet.item() == -np.inf
    logabsdet.backward()
    assert np.all(np.isinf(x.grad.data))


def test_functions_of_repeated_singular_values_and_eigenvalues_have_exact_gradients() -> None:
    """At ties the vectors are not unique, but functions of the values alone are differentiable."""
    a = np.diag([2.0, 2.0, 1.0])
    np.testing.assert_allclose(_grad(lambda x: (la.svd(x).S ** 2).sum(), a), 2 * a, atol=1e-12)  # |A|_F^2
    np.testing.assert_allclose(_grad(lambda x: la.svd(x).S.sum(), np.eye(3)), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(_grad(lambda x: la.norm(x, 2), a), np.diag([0.5, 0.5, 0.0]), atol=1e-12)
    np.testing.assert_allclose(_grad(lambda x: (la.eigh(x).eigenvalues ** 2).sum(), a), 2 * a, atol=1e-12)


def test_vector_terms_at_ties_follow_the_zero_convention() -> None:
    """The term dividing by a zero gap is 0: for the rebuilt matrix V diag(w) V^T at w = (1, 1) that
    drops the off-diagonal part of the true gradient (the documented limit of the convention)."""
    w = np.array([[1.0, 2.0], [3.0, 4.0]])

    def rebuilt(x: gg.Tensor) -> gg.Tensor:
        vals, vecs = la.eigh(x)
        return ((vecs * vals[..., None, :]) @ vecs.T * w).sum()

    g = _grad(rebuilt, np.eye(2))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(np.diag(g), np.diag(w), atol=1e-12)


def test_complete_decompositions_refuse_gradients_through_their_extra_columns() -> None:
    x = gg.Tensor(np.random.default_rng(0).standard_normal((4, 2)), requires_grad=True)
    la.svd(x).S.sum().backward()  # full_matrices=True, extra columns unused: fine
    np.testing.assert_allclose(x.grad.data, la.svd(x, full_matrices=False).U.data @ la.svd(x).Vh.data)
    with pytest.raises(BackwardError, match="svd: a gradient reached the extra, non-unique columns"):
        la.svd(x).U.sum().backward()
    with pytest.raises(BackwardError, match="qr: a gradient reached the extra"):
        la.qr(x, mode="complete").Q.sum().backward()


def test_results_are_numpys_named_tuples() -> None:
    a = np.eye(2)
    assert la.svd(a).S.shape == (2,) and la.qr(a).R.shape == (2, 2)
    assert la.eigh(a).eigenvectors.shape == (2, 2) and la.slogdet(a).logabsdet.item() == 0.0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: la.inv(np.ones((2, 3))),
            ShapeError,
            r"inv: needs square matrices in the last two axes, got shape \(2, 3\)",
        ),
        (lambda: la.inv(np.ones((2, 2))), ShapeError, "inv: Singular matrix"),
        (lambda: la.cholesky(-np.eye(2)), ShapeError, "cholesky: Matrix is not positive definite"),
        (lambda: la.solve(np.eye(3), np.ones(2)), ShapeError, r"solve: b of shape \(2,\) does not fit"),
        (lambda: la.norm(np.ones(3), "fro"), ConfigError, "norm: invalid norm order 'fro' for vectors"),
        (lambda: la.norm(np.ones((2, 2)), 3), ConfigError, "norm: invalid norm order 3 for matrices"),
        (lambda: la.norm(np.ones((2, 2, 2)), 1), ShapeError, "norm: ord=1 without axis needs a 1-D or 2-D"),
        (lambda: la.qr(np.ones((2, 2)), "raw"), ConfigError, "qr: mode must be"),
        (lambda: la.matrix_power(np.eye(2), 1.5), ShapeError, "matrix_power: the exponent must be an integer"),
        (lambda: la.svd(np.ones(3)), ShapeError, "svd: needs matrices"),
    ],
)
def test_bad_arguments_raise_errors_that_name_the_function(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_integer_matrices_are_computed_in_float64_like_numpy() -> None:
    a = np.array([[2, 1], [1, 3]])
    assert la.inv(a).dtype == np.float64 and la.det(a).item() == pytest.approx(5.0)
    assert la.norm(np.array([3, 4])).item() == 5.0


@pytest.mark.parametrize(
    "fn",
    [la.inv, la.det, lambda x: la.slogdet(x).logabsdet, la.cholesky, lambda x: la.svd(x).S,
     lambda x: la.qr(x).R, lambda x: la.eigh(x).eigenvalues, la.pinv, lambda x: la.matrix_power(x, 3),
     lambda x: la.norm(x, "nuc", axis=(1, 2))],
)  # fmt: skip
def test_an_empty_stack_of_matrices_gives_empty_results_and_gradients(fn) -> None:
    x = gg.Tensor(np.zeros((0, 2, 2)), requires_grad=True)
    y = fn(x)
    assert y.size == 0
    y.backward(np.ones(y.shape))
    assert x.grad.shape == (0, 2, 2)

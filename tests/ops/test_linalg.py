"""matmul, outer and dot by hand: NumPy's 1-D and batched rules, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ShapeError

RNG = np.random.default_rng(0)


def leaf(shape: tuple[int, ...]) -> gg.Tensor:
    return gg.Tensor(RNG.standard_normal(shape), requires_grad=True)


def test_matmul_2d_gradients_are_g_bT_and_aT_g() -> None:
    a, b = leaf((3, 4)), leaf((4, 2))
    g = RNG.standard_normal((3, 2))
    out = a @ b
    np.testing.assert_allclose(out.data, a.data @ b.data)
    out.backward(g)
    np.testing.assert_allclose(a.grad.data, g @ b.data.T)
    np.testing.assert_allclose(b.grad.data, a.data.T @ g)


def test_matmul_vector_rules() -> None:
    a, b = leaf((4,)), leaf((4,))
    out = gg.matmul(a, b)
    assert out.shape == ()  # 1-D @ 1-D is the inner product
    out.backward()
    np.testing.assert_allclose(a.grad.data, b.data)
    m, v = leaf((3, 4)), leaf((4,))
    out = m @ v  # matrix @ vector: the vector is a column, its axis dropped
    assert out.shape == (3,)
    g = RNG.standard_normal(3)
    out.backward(g)
    np.testing.assert_allclose(m.grad.data, np.outer(g, v.data))
    np.testing.assert_allclose(v.grad.data, m.data.T @ g)
    v2, m2 = leaf((3,)), leaf((3, 5))
    out = v2 @ m2  # vector @ matrix: a row
    assert out.shape == (5,)
    g = RNG.standard_normal(5)
    out.backward(g)
    np.testing.assert_allclose(v2.grad.data, m2.data @ g)
    np.testing.assert_allclose(m2.grad.data, np.outer(v2.data, g))


def test_matmul_batched_broadcasts_and_sums_gradient_over_the_batch() -> None:
    a, b = leaf((2, 1, 3, 4)), leaf((5, 4, 2))
    out = a @ b
    assert out.shape == (2, 5, 3, 2)
    np.testing.assert_allclose(out.data, np.matmul(a.data, b.data))
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    np.testing.assert_allclose(a.grad.data, (g @ np.swapaxes(b.data, -1, -2)).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(b.grad.data, (np.swapaxes(a.data, -1, -2) @ g).sum(axis=0))
    w, v = leaf((4, 3)), leaf((6, 3))
    (v[:, None, :] @ w.T).sum().backward()  # a shared weight against a batch of rows
    np.testing.assert_allclose(w.grad.data, np.tile(v.data.sum(axis=0), (4, 1)))


def test_matmul_with_an_ndarray_on_the_left() -> None:
    b = leaf((3, 2))
    out = np.ones((4, 3)) @ b
    assert isinstance(out, gg.Tensor)
    out.sum().backward()
    np.testing.assert_allclose(b.grad.data, np.full((3, 2), 4.0))


def test_matmul_errors_name_op_and_shapes() -> None:
    with pytest.raises(ShapeError) as err:
        gg.matmul(np.ones((2, 3)), np.ones((4, 5)))
    assert "matmul" in str(err.value) and "(2, 3)" in str(err.value) and "(4, 5)" in str(err.value)
    with pytest.raises(ShapeError, match=r"matmul: the batch axes .*\(2, 3, 4\).*\(5, 4, 2\)"):
        gg.matmul(np.ones((2, 3, 4)), np.ones((5, 4, 2)))
    with pytest.raises(ShapeError, match="at least 1-D"):
        gg.matmul(np.float64(2.0), np.ones(3))


def test_outer_flattens_and_has_matmul_gradients() -> None:
    a, b = leaf((2, 2)), leaf((3,))
    out = gg.outer(a, b)
    np.testing.assert_allclose(out.data, np.outer(a.data, b.data))
    g = RNG.standard_normal((4, 3))
    out.backward(g)
    np.testing.assert_allclose(a.grad.data, (g @ b.data).reshape(2, 2))
    np.testing.assert_allclose(b.grad.data, a.data.reshape(-1) @ g)


@pytest.mark.parametrize(
    "sa, sb",
    [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
     ((5, 2, 3), (3, 4)), ((5, 2, 3), (6, 3, 4)), ((3,), (6, 3, 4)), ((2, 3), (2, 3, 1))],
)  # fmt: skip
def test_dot_matches_numpy(sa, sb) -> None:
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    np.testing.assert_allclose(gg.dot(a, b).data, np.dot(a, b))
    gg.gradcheck(gg.dot, [a, b])


def test_dot_error_and_method_form() -> None:
    with pytest.raises(ShapeError, match=r"dot: shapes \(2, 3\) and \(4, 2, 5\)"):
        gg.dot(np.ones((2, 3)), np.ones((4, 2, 5)))
    a = gg.Tensor(np.array([1.0, 2.0]))
    assert a.dot(np.array([3.0, 4.0])).item() == 11.0

"""Hand-checked cases of the reductions: prod with zeros, the max/min tie rule, stable logsumexp,
var/std against NumPy, argmax/argmin, and errors that name the op."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.errors import ShapeError


def grad_of(fn, x, upstream=None):  # noqa: ANN001, ANN202
    """(fn(x), d<upstream, fn(x)>/dx) with every warning turned into an error."""
    t = gg.Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(t)
        out.backward(np.ones(out.shape) if upstream is None else np.asarray(upstream, dtype=np.float64))
    return out.data, t.grad.data


def hessian(fn, x):  # noqa: ANN001, ANN202
    """Full Hessian of the scalar fn at x by double backward."""
    t = gg.Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    (g,) = backward([fn(t)], [None], create_graph=True, retain_graph=True, inputs=[t])
    rows = [backward([g[i]], [None], retain_graph=True, inputs=[t])[0] for i in range(t.size)]
    return np.stack([np.zeros(t.shape) if r is None else r.data for r in rows])


# ------------------------------------------------------------------ prod
@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
        ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
        ([0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]),
        ([1e-300, 1e-300, 1e300], [1e-300 * 1e300, 1e-300 * 1e300, 0.0]),  # out underflows to 0
    ],
)
def test_prod_gradient_is_the_product_of_the_others(x, expected) -> None:  # noqa: ANN001
    _, grad = grad_of(gg.prod, x)
    np.testing.assert_allclose(grad, expected, rtol=1e-15)


def test_prod_with_zeros_over_axes() -> None:
    x = np.array([[[2.0, 0.0], [3.0, 5.0]], [[0.0, 0.0], [1.0, 7.0]]])
    out, grad = grad_of(lambda t: gg.prod(t, axis=(1, 2), keepdims=True), x)
    assert out.shape == (2, 1, 1) and out.ravel().tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(grad, [[[0.0, 30.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    _, grad = grad_of(lambda t: gg.prod(t, axis=0), x[:, 0, :])  # columns (2, 0) and (0, 0)
    np.testing.assert_array_equal(grad, [[0.0, 0.0], [2.0, 0.0]])


@pytest.mark.parametrize("x", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1e-70, 2.0, 3.0]])
def test_prod_second_derivative_with_zeros(x) -> None:  # noqa: ANN001
    """d2/dxi dxj prod = product of the entries other than i and j (0 on the diagonal)."""
    h = hessian(gg.prod, x)
    expected = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(h, expected, rtol=1e-14, atol=0)


# ------------------------------------------------------------------ max, min: ties split evenly
def test_max_min_split_ties_evenly() -> None:
    out, grad = grad_of(gg.max, [1.0, 3.0, 3.0])
    assert out == 3.0
    np.testing.assert_array_equal(grad, [0.0, 0.5, 0.5])
    _, grad = grad_of(gg.min, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(grad, [1 / 3, 1 / 3, 1 / 3], rtol=1e-15)


def test_max_over_axes_with_keepdims_and_ties() -> None:
    x = np.array([[1.0, 5.0, 5.0], [4.0, 2.0, 0.0]])
    out, grad = grad_of(lambda t: gg.max(t, axis=1, keepdims=True), x, upstream=[[2.0], [3.0]])
    np.testing.assert_array_equal(out, [[5.0], [4.0]])
    np.testing.assert_array_equal(grad, [[0.0, 1.0, 1.0], [3.0, 0.0, 0.0]])
    out, grad = grad_of(lambda t: gg.min(t, axis=(0, 1)), x)
    assert out.shape == () and out == 0.0
    np.testing.assert_array_equal(grad, [[0, 0, 0], [0, 0, 1.0]])
    out, grad = grad_of(lambda t: gg.max(t, axis=0), x)
    np.testing.assert_array_equal(out, [4.0, 5.0, 5.0])
    np.testing.assert_array_equal(grad, [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


def test_max_min_float32_stays_float32() -> None:
    x = gg.Tensor(np.array([[1.0, 2.0], [2.0, 2.0]], dtype=np.float32), requires_grad=True)
    gg.max(x).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [[0, 1 / 3], [1 / 3, 1 / 3]], rtol=1e-7)


# ------------------------------------------------------------------ logsumexp
def test_logsumexp_is_stable_for_huge_inputs() -> None:
    out, grad = grad_of(gg.logsumexp, [1e4, 1e4])
    assert out == 1e4 + math.log(2.0)
    np.testing.assert_array_equal(grad, [0.5, 0.5])
    out, grad = grad_of(gg.logsumexp, [1e4, 0.0, -1e4])
    assert out == 1e4
    np.testing.assert_array_equal(grad, [1.0, 0.0, 0.0])
    out, _ = grad_of(gg.logsumexp, [-1e4, -1e4 + math.log(3.0)])
    assert out == pytest.approx(-1e4 + math.log(4.0), rel=1e-15)


def test_logsumexp_over_axis_and_infinities() -> None:
    x = np.array([[0.0, math.log(3.0)], [-np.inf, 2.0]])
    out, grad = grad_of(lambda t: gg.logsumexp(t, axis=1, keepdims=True), x)
    np.testing.assert_allclose(out, [[math.log(4.0)], [2.0]], rtol=1e-15)
    np.testing.assert_allclose(grad, [[0.25, 0.75], [0.0, 1.0]], rtol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = gg.logsumexp(gg.Tensor(np.full((2,), -np.inf)))
    assert empty.item() == -np.inf


# ------------------------------------------------------------------ var, std
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize(("axis", "keepdims"), [(None, False), (1, True), ((0, 2), False)])
def test_var_std_match_numpy_and_their_formulas(ddof, axis, keepdims) -> None:  # noqa: ANN001
    x = np.random.default_rng(3).normal(size=(3, 4, 2))
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    centered = x - x.mean(axis=axis, keepdims=True)
    out, grad = grad_of(lambda t: gg.var(t, axis=axis, keepdims=keepdims, ddof=ddof), x)
    np.testing.assert_allclose(out, np.var(x, axis=axis, keepdims=keepdims, ddof=ddof), rtol=1e-14)
    np.testing.assert_allclose(grad, 2 * centered / (n - ddof), rtol=1e-13)
    out, grad = grad_of(lambda t: gg.std(t, axis=axis, keepdims=keepdims, ddof=ddof), x)
    sd = np.std(x, axis=axis, keepdims=True, ddof=ddof)
    np.testing.assert_allclose(out, np.std(x, axis=axis, keepdims=keepdims, ddof=ddof), rtol=1e-14)
    np.testing.assert_allclose(grad, centered / ((n - ddof) * sd), rtol=1e-13)


def test_std_of_a_constant_slice_has_zero_gradient() -> None:
    out, grad = grad_of(lambda t: gg.std(t, axis=1), [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    assert out[0] == 0.0
    np.testing.assert_array_equal(grad[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(grad[1], [-1 / math.sqrt(6), 0.0, 1 / math.sqrt(6)], rtol=1e-15)


def test_var_ddof_without_degrees_of_freedom_is_an_error() -> None:
    with pytest.raises(ShapeError, match=r"std: ddof=3 leaves no degrees of freedom for 3 elements"):
        gg.std(gg.tensor([1.0, 2.0, 3.0]), ddof=3)
    with pytest.raises(ShapeError, match=r"var: ddof=1 .* 1 elements .* \(input shape \(2, 1\)\)"):
        gg.var(gg.zeros(2, 1), axis=1, ddof=1)


# ------------------------------------------------------------------ argmax, argmin
def test_argmax_argmin_values_and_no_gradient() -> None:
    x = gg.Tensor(np.array([[1.0, 7.0, 7.0], [9.0, -1.0, 3.0]]), requires_grad=True)
    assert gg.argmax(x).item() == 3
    assert gg.argmin(x).item() == 4
    np.testing.assert_array_equal(gg.argmax(x, axis=1).data, [1, 0])  # the first of tied maxima
    np.testing.assert_array_equal(gg.argmin(x, axis=0, keepdims=True).data, [[0, 1, 1]])
    np.testing.assert_array_equal(x.argmax(axis=-1, keepdims=True).data, [[1], [0]])
    idx = gg.argmax(x, axis=1)
    assert not idx.requires_grad and idx.dtype.kind == "i"
    with pytest.raises(ShapeError, match=r"argmax: axis must be an int or None, got \(0, 1\)"):
        gg.argmax(x, axis=(0, 1))


# ------------------------------------------------------------------ errors name the op
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std", "logsumexp", "argmax", "argmin"])
def test_axis_out_of_range_names_the_op(name) -> None:  # noqa: ANN001
    x = gg.zeros(2, 3)
    with pytest.raises(ShapeError, match=rf"^{name}: axis 2 is out of range for a tensor with 2 dimensions"):
        getattr(gg, name)(x, axis=2)
    with pytest.raises(ShapeError, match=rf"^{name}: axis -3 is out of range"):
        getattr(x, name)(axis=-3)


def test_repeated_axis_and_empty_max_are_errors() -> None:
    with pytest.raises(ShapeError, match=r"prod: repeated axis in \(1, -1\)"):
        gg.prod(gg.zeros(2, 3), axis=(1, -1))
    with pytest.raises(ShapeError, match=r"^max: .*input shapes \(0,\)"):
        gg.max(gg.zeros(0))


# ------------------------------------------------------------------ sums as matrix-vector products
def _layouts(shape: tuple[int, ...], dtype: type) -> list[np.ndarray]:
    """One array of ``shape`` in several memory orders (C order, channels-first-batch-last as the
    convolutions make them, and a strided slice no matrix view fits)."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal(shape).astype(dtype)
    chwn = np.ascontiguousarray(base.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    wide = np.repeat(base, 2, axis=-1)[..., ::2]
    return [base, chwn, wide]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [(0, 2, 3), (1, 2, 3), (2, 3), (0,), (3,)])
def test_sum_array_matches_numpy_in_every_layout(dtype, axis) -> None:  # noqa: ANN001
    from graphgrad.ops.reduce import sum_array, sum_of_products

    tol = 1e-5 if dtype is np.float32 else 1e-12
    for a in _layouts((16, 8, 6, 6), dtype):
        for b in _layouts((16, 8, 6, 6), dtype):
            for keepdims in (True, False):
                got = sum_array(a, axis, keepdims)
                want = np.sum(a.astype(np.float64), axis=axis, keepdims=keepdims)
                assert got.shape == want.shape and got.dtype == dtype
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(a).sum() / a.size * 64)
            got = sum_of_products(a, b, axis)
            want = np.sum(a.astype(np.float64) * b, axis=axis, keepdims=True)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 64)


def test_sum_array_keeps_nan_and_infinities() -> None:
    from graphgrad.ops.reduce import as_rows, sum_array

    a = np.ones((4, 16, 16, 8), dtype=np.float32).transpose(3, 0, 1, 2)  # channels outermost in memory
    assert as_rows(a, (0, 2, 3)) is not None
    a[0, 1, 2, 3], a[5, 2, 0, 0], a[6, 2, 1, 1], a[2, 3, 4, 4] = np.nan, np.inf, -np.inf, np.inf
    with np.errstate(invalid="ignore"):  # inf + -inf, as NumPy's own sum warns
        got = sum_array(a, (0, 2, 3))
    assert np.isnan(got[1]) and np.isnan(got[2]) and got[3] == np.inf and got[0] == 8 * 256

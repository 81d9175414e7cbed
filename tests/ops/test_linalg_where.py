"""Where-safety through matrix products: in rule mode matmul, einsum and solve annihilate zeros.

A zero upstream gradient meeting an infinite saved value inside a matrix product (``inf * 0``
summed with the other terms) must give exactly 0, as elementwise multiply does, so that every
rule written with ``@`` (inv, solve, cholesky, qr, matrix_power...) is where-safe by
construction. The rule-mode contraction is checked entry by entry against a brute-force
reference that multiplies every term with ``0 * x = 0``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.errors import GraphgradError
from graphgrad.ops.linalg import annihilating_contraction
from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos

INF = np.inf


# ---------------------------------------------------------------- the case, for each product
PRODUCTS: list[tuple[str, Callable[[gg.Tensor, gg.Tensor], gg.Tensor]]] = [
    ("matmul", lambda y, w: y @ w),
    ("einsum", lambda y, w: gg.einsum("ij,jk->ik", y, w)),
    ("tensordot", lambda y, w: gg.tensordot(y, w, axes=1)),
    ("dot", lambda y, w: gg.dot(y, w)),
]


@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])
@pytest.mark.parametrize("name, product", PRODUCTS, ids=[n for n, _ in PRODUCTS])
def test_a_matrix_product_rule_fed_inf_and_a_zero_gradient_gives_zero(
    name: str, product: Callable[[gg.Tensor, gg.Tensor], gg.Tensor], create_graph: bool
) -> None:
    # y = [[inf, 2], [3, 4]] (exp overflowing); only row 1 of y @ w is kept, so
    # d/dw sum(row 1 of y @ w) = y[1, k] for every column: [[3, 3], [4, 4]]. The rule computes
    # y^T @ G with G = [[0, 0], [1, 1]]: y[0, 0] = inf meets only zeros and must vanish.
    x = gg.Tensor(np.array([[1000.0, np.log(2.0)], [np.log(3.0), np.log(4.0)]]), requires_grad=True)
    w = gg.Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        y = gg.exp(x)
        z = product(y, w)
    mask = np.array([[False, False], [True, True]])
    loss = gg.where(mask, z, 0.0).sum()
    gx, gw = backward([loss], [None], create_graph=create_graph, inputs=[x, w])
    np.testing.assert_allclose(gw.data, [[3.0, 3.0], [4.0, 4.0]], rtol=1e-14)
    # d/dx[1, k] = exp(x[1, k]) * sum_j w[k, j]; row 0 is in the untaken branch: exactly 0
    np.testing.assert_allclose(gx.data, [[0.0, 0.0], [3.0 * -0.5, 4.0 * 2.25]], rtol=1e-12)
    assert gx.data[0, 0] == 0.0 and gx.data[0, 1] == 0.0


def test_batched_and_vector_products_are_where_safe() -> None:
    # batch axes that broadcast ((2, 1, 2) against (2, 2)), and 1-D @ 1-D
    v = gg.Tensor(np.array([INF, 1.0]))
    a = gg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    stack = gg.Tensor(np.stack([v.data[None, :], np.array([[5.0, 6.0]])]))
    with np.errstate(invalid="ignore"):
        z = stack @ a  # (2, 1, 2): the first is non-finite
    loss = gg.where(np.array([False, True])[:, None, None], z, 0.0).sum()
    loss.backward()
    np.testing.assert_array_equal(a.grad.data, [[5.0, 5.0], [6.0, 6.0]])

    u = gg.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        s = v @ u  # inf
    gg.where(False, s, 0.0).backward()
    np.testing.assert_array_equal(u.grad.data, [0.0, 0.0])


def test_outside_backward_matmul_stays_numpys_product() -> None:
    # only the engine's rules annihilate: a forward inf * 0 is NaN, as in NumPy
    with np.errstate(invalid="ignore"):
        out = gg.Tensor(np.array([[INF, 1.0]])) @ gg.Tensor(np.array([[0.0], [2.0]]))
    assert np.isnan(out.data[0, 0])


# ---------------------------------------------------------------- the contraction, entry by entry
VALUES = np.array([0.0, 0.0, -0.0, 1.5, -2.0, 3.0, INF, -INF, np.nan])
"""Zeros (often, so that they meet infinities), finite values, infinities and NaN. (Finite products
that overflow are left out: how their sums round, inf or not, is BLAS's business, fused or not.)"""


def _reference_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        terms = a[..., :, :, None] * b[..., None, :, :]
    zero = (a[..., :, :, None] == 0) | (b[..., None, :, :] == 0)
    with np.errstate(all="ignore"):
        return np.where(zero, 0.0, terms).sum(axis=-2)


@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((2, 1, 3), (3, 4)), ((1, 2, 2), (3, 2, 1)), ((4, 1), (1, 3))])
def test_the_rule_mode_matmul_matches_a_term_by_term_reference(shapes: tuple[tuple[int, ...], ...]) -> None:
    rng = np.random.default_rng(8)
    for _ in range(300):
        a, b = (rng.choice(VALUES, size=s) for s in shapes)
        with np.errstate(all="ignore"):
            got = annihilating_contraction(np.matmul, a, b)
        np.testing.assert_array_equal(got, _reference_matmul(a, b), err_msg=f"a={a}\nb={b}")


def test_the_rule_mode_einsum_of_three_operands_matches_a_term_by_term_reference() -> None:
    rng = np.random.default_rng(9)

    def contract(*xs: np.ndarray) -> Any:
        return np.einsum("ij,jk,k->i", *xs)

    for _ in range(300):
        a, b, c = rng.choice(VALUES, size=(2, 3)), rng.choice(VALUES, size=(3, 2)), rng.choice(VALUES, size=2)
        with np.errstate(all="ignore"):
            terms = a[:, :, None] * b[None, :, :] * c[None, None, :]
            zero = (a[:, :, None] == 0) | (b[None, :, :] == 0) | (c[None, None, :] == 0)
            want = np.where(zero, 0.0, terms).sum(axis=(1, 2))
            got = annihilating_contraction(contract, a, b, c)
        np.testing.assert_array_equal(got, want, err_msg=f"a={a}\nb={b}\nc={c}")


def test_a_product_without_nan_is_blas_own_result() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    a[0, 0] = INF  # inf meets no zero: the plain product is already right
    np.testing.assert_array_equal(annihilating_contraction(np.matmul, a, b), a @ b)


# ---------------------------------------------------------------- solve, qr at a singular R
def test_qr_of_a_batch_with_a_rank_deficient_matrix_differentiates_the_others() -> None:
    # the first matrix has R[1, 1] = 0 exactly: solving with R fails for it, but its gradient is
    # the zero of where's untaken branch; the second matrix's gradient is its own.
    regular = np.array([[2.0, 1.0], [1.0, 3.0]])
    a = gg.Tensor(np.stack([np.array([[1.0, 1.0], [0.0, 0.0]]), regular]), requires_grad=True)
    q, r = gg.linalg.qr(a)
    keep = np.array([False, True])[:, None, None]
    (gg.where(keep, q, 0.0).sum() + gg.where(keep, r, 0.0).sum()).backward()
    alone = gg.Tensor(regular, requires_grad=True)
    q1, r1 = gg.linalg.qr(alone)
    (q1.sum() + r1.sum()).backward()
    np.testing.assert_array_equal(a.grad.data[0], np.zeros((2, 2)))
    np.testing.assert_allclose(a.grad.data[1], alone.grad.data, rtol=1e-12)


def test_qr_gradient_at_a_rank_deficient_matrix_is_nan_not_an_error() -> None:
    # the documented convention: the gradient is undefined there (PyTorch: inf/NaN too)
    a = gg.Tensor(np.array([[0.0, 1.0], [0.0, 2.0]]), requires_grad=True)
    gg.linalg.qr(a).R.sum().backward()
    assert np.isnan(a.grad.data).all()


def test_qr_gradient_matches_torch_away_from_singular_matrices() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 1.0, 0.5], [1.0, 3.0, -1.0], [0.0, 1.0, 4.0], [1.0, -2.0, 1.0]])
    a = gg.Tensor(x, requires_grad=True)
    q, r = gg.linalg.qr(a)
    (q * q[:, :1] + r.sum()).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    tq, tr = torch.linalg.qr(t)
    (tq * tq[:, :1] + tr.sum()).sum().backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- every op, fed an operand already non-finite
NONFINITE_UNSAFE = {
    **{
        name: "the raw-array backward of linear/conv multiplies with np.matmul, not annihilating_contraction "
        "(nn.py _linear_array_x/_w, conv.py _matmul): inf * 0 reaches the other operand's gradient"
        for name in (
            "linear",
            "linear[no bias]",
        )
    },
}
"""Known gaps (strict: the mark must go when the gap is closed)."""

MAKE_NONFINITE: list[tuple[float, Callable[[gg.Tensor], gg.Tensor]]] = [
    (1000.0, gg.exp),  # inf
    (-1e300, lambda t: t * 1e10),  # -inf
    (-1.0, gg.sqrt),  # NaN
]
"""A leaf value and the op that makes it non-finite upstream of the op under test."""


@pytest.mark.parametrize("info", cases(differentiable_opinfos(), NONFINITE_UNSAFE))
def test_an_operand_already_non_finite_gets_no_nan_through_the_untaken_branch(info: OpInfo) -> None:
    # The registry's where-checks put each input at finite special points; here one input arrives
    # inf or NaN from an earlier op (as an overflowed activation does), so the op's own rules multiply
    # it, in matrix products too, with the zero gradient of the branch where() does not take.
    shapes = info.sample_shapes()
    middle = [sum(info.domain_of(i)) / 2 for i in range(len(shapes))]
    for i in range(len(shapes)):
        for value, make in MAKE_NONFINITE:
            leaves = [gg.Tensor(np.full(s, m), requires_grad=True) for s, m in zip(shapes, middle)]
            hot = gg.Tensor(np.full(shapes[i], value), requires_grad=True)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                xs = list(leaves)
                xs[i] = make(hot)
                try:
                    out = info.fn(*xs)
                except (GraphgradError, np.linalg.LinAlgError):
                    continue  # an input the op refuses
            loss = gg.where(np.zeros(out.shape, dtype=bool), out, 0.0).sum()
            grads = backward([loss], [None], inputs=[*leaves, hot])
            for k, g in enumerate(grads):
                if g is not None:
                    assert np.all(g.data == 0), f"{info.name}, input {i} made by {make}: gradient {g.data} of input {k}"

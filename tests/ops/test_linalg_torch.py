"""graphgrad.linalg against PyTorch in float64: values and gradients of every function, batched.

Each function's outputs are paired with fixed random weights (a scalar loss); losses of
eigenvectors and singular vectors use their squares, which do not depend on the vectors' signs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import linalg as la

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(7)


def _loss_weights(shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    return [np.random.default_rng(len(s) + sum(s)).standard_normal(s) for s in shapes]


def _compare(ours: Callable, theirs: Callable, *arrays: np.ndarray, rtol: float = 1e-9) -> None:
    """Outputs and the gradients of sum_k <w_k, out_k> agree (w_k fixed random weights)."""
    outs = ours(*arrays)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    weights = _loss_weights([o.shape for o in outs])
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    touts = theirs(*ts)
    touts = list(touts) if isinstance(touts, tuple) else [touts]
    for o, t in zip(outs, touts):
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=rtol, atol=1e-12)
    sum(
        ((t * torch.tensor(w)).sum() for t, w in zip(touts, weights)), torch.tensor(0.0, dtype=torch.float64)
    ).backward()

    def loss(*xs: gg.Tensor) -> gg.Tensor:
        res = ours(*xs)
        res = list(res) if isinstance(res, tuple) else [res]
        return sum((r * w).sum() for r, w in zip(res, weights))

    grads = gg.grad(loss, argnums=tuple(range(len(arrays))))(*arrays)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g.data, t.grad.numpy(), rtol=rtol, atol=1e-10)


def spd(n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    x = RNG.standard_normal(batch + (n, n))
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def sym(n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    x = RNG.standard_normal(batch + (n, n))
    return (x + np.swapaxes(x, -1, -2)) / 2


def test_inv_solve_det_slogdet() -> None:
    a = RNG.standard_normal((2, 4, 4))
    _compare(la.inv, torch.linalg.inv, a)
    _compare(la.det, torch.linalg.det, a)
    _compare(lambda x: la.slogdet(x).logabsdet, lambda x: torch.linalg.slogdet(x).logabsdet, a)
    _compare(la.solve, torch.linalg.solve, a, RNG.standard_normal((4, 3)))
    _compare(la.solve, torch.linalg.solve, a, RNG.standard_normal((2, 4, 3)))
    _compare(la.solve, lambda x, b: torch.linalg.solve(x, b), a[0], RNG.standard_normal(4))
    np.testing.assert_array_equal(la.slogdet(a).sign.data, np.linalg.slogdet(a)[0])


def test_pinv_full_rank_and_rank_deficient() -> None:
    _compare(la.pinv, torch.linalg.pinv, RNG.standard_normal((2, 5, 3)))
    _compare(la.pinv, torch.linalg.pinv, RNG.standard_normal((3, 5)))
    u, v = RNG.standard_normal((4, 1)), RNG.standard_normal((1, 3))
    _compare(la.pinv, torch.linalg.pinv, u @ v, rtol=1e-7)  # rank 1: the constant-rank formula


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5, 6])
def test_matrix_power(n: int) -> None:
    a = RNG.standard_normal((2, 3, 3)) / 2 + np.eye(3)
    if n == 0:
        x = gg.Tensor(a, requires_grad=True)
        y = la.matrix_power(x, 0)
        np.testing.assert_array_equal(y.data, np.broadcast_to(np.eye(3), (2, 3, 3)))
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.data, 0.0)
        return
    _compare(lambda x: la.matrix_power(x, n), lambda x: torch.linalg.matrix_power(x, n), a)


def test_cholesky_lower_and_upper() -> None:
    a = spd(4, (2,))
    _compare(la.cholesky, torch.linalg.cholesky, a)
    _compare(lambda x: la.cholesky(x, upper=True), lambda x: torch.linalg.cholesky(x, upper=True), a)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_qr(shape: tuple[int, ...]) -> None:
    _compare(lambda x: tuple(la.qr(x)), lambda x: tuple(torch.linalg.qr(x)), RNG.standard_normal(shape))


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_svd_values_and_vectors(shape: tuple[int, ...]) -> None:
    a = RNG.standard_normal(shape)

    def ours(x: gg.Tensor) -> tuple:
        u, s, vh = la.svd(x, full_matrices=False)
        return s, u * u, vh * vh

    def theirs(x: object) -> tuple:
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        return s, u * u, vh * vh

    _compare(ours, theirs, a, rtol=1e-8)
    _compare(lambda x: la.svd(x, compute_uv=False), torch.linalg.svdvals, a)


def test_eigh_values_and_vectors() -> None:
    a = sym(4, (2,))
    _compare(
        lambda x: (la.eigh(x).eigenvalues, la.eigh(x).eigenvectors ** 2),
        lambda x: (torch.linalg.eigh(x).eigenvalues, torch.linalg.eigh(x).eigenvectors ** 2),
        a,
        rtol=1e-8,
    )


@pytest.mark.parametrize(
    "ord, axis",
    [(None, None), (1, -1), (3, 0), (np.inf, -1), (-np.inf, 1), ("fro", (0, 1)), ("nuc", (0, 1)), (2, (1, 0)),
     (-2, (0, 1)), (1, (0, 1)), (np.inf, (0, 1)), (-1, (1, 0))],
)  # fmt: skip
def test_norm(ord: object, axis: object) -> None:
    a = RNG.standard_normal((3, 4))
    if axis is None or isinstance(axis, int):
        theirs = lambda x: torch.linalg.vector_norm(x, ord=2 if ord is None else ord, dim=axis)  # noqa: E731
    else:
        theirs = lambda x: torch.linalg.matrix_norm(x, ord=ord, dim=axis)  # noqa: E731
    _compare(lambda x: la.norm(x, ord=ord, axis=axis), theirs, a)

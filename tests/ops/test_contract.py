"""Contractions by hand: einsum against PyTorch (values, first and second derivatives), errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ShapeError

RNG = np.random.default_rng(0)

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...j->...i", [(2, 3, 4), (4,)]),
    ("i,i->", [(4,), (4,)]),
    ("ij,kl->ijkl", [(2, 2), (2, 3)]),
    ("ijk,k,j->i", [(2, 3, 4), (4,), (3,)]),
]


@pytest.mark.parametrize("subscripts, shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_pytorch_to_second_order(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(s) for s in shapes]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch.einsum(subscripts, *ts)
    u = RNG.standard_normal(tuple(out.shape))
    first = torch.autograd.grad((out * torch.tensor(u)).sum(), ts, create_graph=True)

    def pairing(*xs: gg.Tensor) -> gg.Tensor:
        return (gg.einsum(subscripts, *xs) * u).sum()

    argnums = tuple(range(len(arrays)))
    ours = gg.grad(pairing, argnums=argnums)(*arrays)
    ours = ours if isinstance(ours, tuple) else (ours,)
    np.testing.assert_allclose(gg.einsum(subscripts, *arrays).data, out.detach().numpy(), rtol=1e-12)
    for o, f in zip(ours, first):
        np.testing.assert_allclose(o.data, f.detach().numpy(), rtol=1e-12, atol=1e-14)
    if len(arrays) == 1:
        return  # linear in its one operand: the second derivative is 0 (the registry checks it)
    second = torch.autograd.grad(sum((f * f).sum() for f in first), ts, allow_unused=True)

    def squared(*xs: gg.Tensor) -> gg.Tensor:
        gs = gg.grad(pairing, argnums=argnums)(*xs)
        gs = gs if isinstance(gs, tuple) else (gs,)
        return sum((g * g).sum() for g in gs)

    ours2 = gg.grad(squared, argnums=argnums)(*arrays)
    ours2 = ours2 if isinstance(ours2, tuple) else (ours2,)
    for o, s in zip(ours2, second):
        np.testing.assert_allclose(o.data, 0.0 if s is None else s.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_with_one_tensor_twice_adds_both_gradients() -> None:
    x = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    gg.einsum("i,i", x, x).backward()
    np.testing.assert_array_equal(x.grad.data, 2.0 * x.data)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gg.einsum("ij,jk", np.ones((2, 3))), "einsum: 2 operand subscripts in 'ij,jk' for 1 operands"),
        (lambda: gg.einsum("ij", np.ones(3)), "einsum: subscripts 'ij' do not fit an operand of shape \\(3,\\)"),
        (lambda: gg.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 2))), "einsum: operands of shapes"),
        (lambda: gg.einsum("...i->i", np.ones((2, 3))), "einsum: the ellipsis axes"),
        (lambda: gg.einsum("i1", np.ones((2, 3))), "einsum: invalid subscripts"),
        (lambda: gg.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), "tensordot: axes \\[1\\] of shape"),
        (lambda: gg.inner(np.ones(3), np.ones(2)), "inner: last axes"),
        (lambda: gg.cross(np.ones(4), np.ones(3)), "cross: vectors must have 2 or 3 components, got 4 and 3"),
    ],
)
def test_bad_arguments_raise_shape_errors_that_name_the_op(call, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        call()


def test_kron_and_cross_gradients_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.kron(ta, tb).pow(2).sum().backward()
    ga, gb = gg.grad(lambda x, y: (gg.kron(x, y) ** 2).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.data, tb.grad.numpy(), rtol=1e-12)
    u, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    tu, tv = torch.tensor(u, requires_grad=True), torch.tensor(v, requires_grad=True)
    torch.linalg.cross(tu, tv).pow(2).sum().backward()
    gu, gv = gg.grad(lambda x, y: (gg.cross(x, y) ** 2).sum(), argnums=(0, 1))(u, v)
    np.testing.assert_allclose(gu.data, tu.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gv.data, tv.grad.numpy(), rtol=1e-12)

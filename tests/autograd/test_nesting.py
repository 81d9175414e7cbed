"""Functional transforms never cut the graph silently (issue 8, section 2).

Nested ``grad`` records its backward whenever grad mode is on and anything the function touches
requires a gradient (other arguments, closures), lists of tensors are stacked inside the graph,
and 0-d ties of maximum/minimum work. PyTorch is the oracle where it is installed; otherwise the
values are derived by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def test_mixed_partial_through_another_argument() -> None:
    # d/dx [d(x y)/dy] = d/dx [x] = 1
    g = gg.grad(lambda x: gg.grad(lambda x, y: x * y, argnums=1)(x, 2.0))(3.0)
    assert g.item() == 1.0


def test_closed_over_tensor_is_differentiated() -> None:
    # d/dx [x * d(x y)/dy] = d/dx [x * x] = 2x
    g = gg.grad(lambda x: x * gg.grad(lambda y: x * y)(2.0))(1.0)
    assert g.item() == 2.0


def test_third_derivative_of_a_closure_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")

    def f_gg(x: gg.Tensor) -> gg.Tensor:
        inner = gg.grad(lambda y: gg.sin(x * y) * y)  # closure over x
        return inner(gg.Tensor(np.float64(0.7))) * gg.exp(x)

    d3 = gg.grad(gg.grad(gg.grad(f_gg)))(gg.Tensor(np.float64(0.4)))

    def f_t(x: object) -> object:
        y = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
        (dy,) = torch.autograd.grad(torch.sin(x * y) * y, y, create_graph=True)
        return dy * torch.exp(x)

    x = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    v = f_t(x)
    for _ in range(3):
        (v,) = torch.autograd.grad(v, x, create_graph=True)
    assert d3.item() == pytest.approx(v.item(), rel=1e-12)


def test_mixed_partials_of_two_variables_by_hand() -> None:
    # f = x^2 y^3: d2f/dxdy = 6 x y^2; d3f/dx dy dy = 12 x y
    def dfdy(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        return gg.grad(lambda x, y: x**2 * y**3, argnums=1)(x, y)

    x, y = np.float64(1.5), np.float64(-0.5)
    dxdy = gg.grad(dfdy, argnums=0)(x, y)
    assert dxdy.item() == pytest.approx(6 * 1.5 * 0.25)
    dxdydy = gg.grad(lambda x, y: gg.grad(dfdy, argnums=0)(x, y), argnums=1)(x, y)
    assert dxdydy.item() == pytest.approx(12 * 1.5 * -0.5)


def test_no_outer_dependence_gives_plain_gradients() -> None:
    g = gg.grad(lambda x: (x**3).sum())(np.array([1.0, 2.0]))
    assert not g.requires_grad
    np.testing.assert_allclose(g.data, [3.0, 12.0])


def test_jacobian_and_hvp_see_closures() -> None:
    w = gg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    jac = gg.jacobian(lambda x: x * w)(np.array([1.0, 2.0]))  # diag(w), recorded
    assert jac.requires_grad
    jac.sum().backward()
    np.testing.assert_allclose(w.grad.data, [1.0, 1.0])
    w.grad = None
    hv = gg.hvp(lambda x: (w * x**3).sum(), np.array([1.0, 2.0]), np.array([1.0, 1.0]))  # 6 w x v
    hv.sum().backward()
    np.testing.assert_allclose(w.grad.data, [6.0, 12.0])


@pytest.mark.parametrize(
    ("f", "at", "expected"),
    [
        (lambda x: gg.mean([x, x + 2]), 3.0, 1.0),  # (x + x + 2) / 2
        (lambda x: gg.sum([x, 2 * x]), 3.0, 3.0),  # 3x
        (lambda x: gg.max([x, x - 1]), 3.0, 1.0),  # x
        (lambda x: gg.prod([[x, 2 * x], [1.0, 1.0]]), 1.0, 4.0),  # 2x^2 -> 4x (a nested list)
        (lambda x: gg.concatenate([[x], [x * x]]).sum(), 2.0, 5.0),  # x + x^2 -> 1 + 2x
    ],
    ids=["mean", "sum", "max", "prod nested", "concatenate"],
)
def test_lists_of_tensors_are_stacked_in_the_graph(f: object, at: float, expected: float) -> None:
    assert gg.grad(f)(at).item() == pytest.approx(expected)


def test_a_list_with_numbers_takes_the_tensors_dtype() -> None:
    x = gg.Tensor(np.float64(2.0), requires_grad=True)
    y = gg.sum([x, 1.0, [x][0]])
    assert y.dtype == np.float64 and y.item() == 5.0
    y.backward()
    assert x.grad.item() == 2.0


@pytest.mark.parametrize("op", [gg.maximum, gg.minimum])
def test_zero_dim_ties_split_the_gradient(op: object) -> None:
    assert gg.grad(lambda x: op(x, x))(3.0).item() == 1.0  # both halves land on x
    assert gg.grad(lambda x: op(x, 1.0))(1.0).item() == 0.5
    a, b = gg.Tensor(np.float64(2.0), requires_grad=True), gg.Tensor(np.float64(2.0), requires_grad=True)
    op(a, b).backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5

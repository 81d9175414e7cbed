"""Trigonometric family by hand: the conventions at the origin, sinc at 0, and PyTorch as an oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.check import gradcheck


def _grads(fn, *values: np.ndarray) -> list[np.ndarray]:
    xs = [gg.Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


def test_arctan2_and_hypot_have_zero_gradient_at_the_origin() -> None:
    gy, gx = _grads(gg.arctan2, [0.0, 1.0], [0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.0, 0.5])
    np.testing.assert_array_equal(gx, [0.0, -0.5])
    ga, gb = _grads(gg.hypot, [0.0, 3.0], [0.0, 4.0])
    np.testing.assert_array_equal(ga, [0.0, 0.6])
    np.testing.assert_array_equal(gb, [0.0, 0.8])


def test_sinc_is_smooth_at_zero() -> None:
    """sinc(0) = 1, sinc'(0) = 0, sinc''(0) = -pi^2 / 3 (Taylor series 1 - (pi x)^2 / 6 + ...)."""
    x = gg.Tensor(np.array([0.0, 1e-9, 0.5]), requires_grad=True)
    g = gg.grad(lambda t: gg.sinc(t).sum())(x)
    np.testing.assert_allclose(g.data[:2], [0.0, -(math.pi**2) / 3 * 1e-9], atol=1e-20)
    second = gg.grad(lambda t: gg.grad(lambda u: gg.sinc(u).sum())(t).sum())(x)
    np.testing.assert_allclose(second.data[:2], [-(math.pi**2) / 3] * 2, rtol=1e-12)
    gradcheck(lambda t: gg.grad(lambda u: gg.sinc(u).sum())(t), [np.array([0.0, 0.03, -0.04, 0.2, 1.7])])


def test_inverse_functions_at_the_ends_of_their_domain_give_inf() -> None:
    (g,) = _grads(gg.arctanh, [0.0])
    assert g[0] == 1.0
    with np.errstate(divide="ignore"):
        (g,) = _grads(gg.arcsin, [1.0])
    assert g[0] == np.inf


def test_deg2rad_and_rad2deg_are_inverse() -> None:
    x = gg.Tensor(np.array([-90.0, 45.0, 180.0]), requires_grad=True)
    y = gg.rad2deg(gg.deg2rad(x))
    np.testing.assert_allclose(y.data, x.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0)


@pytest.mark.parametrize(
    "name, domain",
    [("tan", (-1.4, 1.4)), ("sinh", (-3, 3)), ("cosh", (-3, 3)), ("arcsin", (-0.9, 0.9)), ("arccos", (-0.9, 0.9)),
     ("arctan", (-3, 3)), ("arcsinh", (-3, 3)), ("arccosh", (1.1, 4)), ("arctanh", (-0.9, 0.9)), ("sinc", (-3, 3))],
)  # fmt: skip
def test_first_and_second_derivatives_match_pytorch(name: str, domain: tuple[float, float]) -> None:
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(len(name)).uniform(*domain, 7)
    tfn = {"arcsin": torch.asin, "arccos": torch.acos, "arctan": torch.atan, "arcsinh": torch.asinh,
           "arccosh": torch.acosh, "arctanh": torch.atanh}.get(name) or getattr(torch, name)  # fmt: skip
    t = torch.tensor(values, requires_grad=True)
    (d1,) = torch.autograd.grad(tfn(t).sum(), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), t)
    fn = getattr(gg, name)
    g1 = gg.grad(lambda x: fn(x).sum())(values)
    g2 = gg.grad(lambda x: gg.grad(lambda u: fn(u).sum())(x).sum())(values)
    np.testing.assert_allclose(g1.data, d1.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(g2.data, d2.numpy(), rtol=1e-8, atol=1e-10)


def test_arctan2_and_hypot_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    y, x = rng.standard_normal(6), rng.standard_normal(6)
    for gfn, tfn in ((gg.arctan2, torch.atan2), (gg.hypot, torch.hypot)):
        ty, tx = torch.tensor(y, requires_grad=True), torch.tensor(x, requires_grad=True)
        tfn(ty, tx).sum().backward()
        gy, gx = _grads(gfn, y, x)
        np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)

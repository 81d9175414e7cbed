"""Exponential family by hand: accuracy where the naive formulas fail, and PyTorch as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def test_logaddexp_gradients_are_weights_that_sum_to_one_without_overflow() -> None:
    a = gg.Tensor(np.array([1000.0, -1000.0, 0.0]), requires_grad=True)
    b = gg.Tensor(np.array([1000.0, 5.0, 0.0]), requires_grad=True)
    out = gg.logaddexp(a, b)
    np.testing.assert_allclose(out.data, [1000.0 + np.log(2.0), 5.0, np.log(2.0)])
    out.sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.5, 0.0, 0.5])
    np.testing.assert_allclose(a.grad.data + b.grad.data, 1.0)


def test_expm1_gradient_is_accurate_for_tiny_inputs() -> None:
    x = gg.Tensor(np.array([1e-12, -1e-12]), requires_grad=True)
    y = gg.expm1(x)
    np.testing.assert_array_equal(y.data, np.expm1(x.data))  # not exp(x) - 1, which rounds to 1.000088900582341e-12
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data), rtol=1e-15)


@pytest.mark.parametrize("name", ["expm1", "exp2", "log2", "log10"])
def test_unary_first_and_second_derivatives_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(1).uniform(0.2, 3.0, 6)
    t = torch.tensor(values, requires_grad=True)
    (d1,) = torch.autograd.grad(getattr(torch, name)(t).sum(), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), t)
    fn = getattr(gg, name)
    np.testing.assert_allclose(gg.grad(lambda x: fn(x).sum())(values).data, d1.detach().numpy(), rtol=1e-12)
    second = gg.grad(lambda x: gg.grad(lambda u: fn(u).sum())(x).sum())(values)
    np.testing.assert_allclose(second.data, d2.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_binary_gradients_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-20, 20, (3, 4)), rng.uniform(-20, 20, (4,))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    getattr(torch, name)(ta, tb).sum().backward()
    ga, gb = gg.Tensor(a, requires_grad=True), gg.Tensor(b, requires_grad=True)
    getattr(gg, name)(ga, gb).sum().backward()
    np.testing.assert_allclose(ga.grad.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.grad.data, tb.grad.numpy(), rtol=1e-12)  # summed over the broadcast rows

"""l2_penalty: value, gradient, what it skips, and its exact relation to SGD's weight_decay."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.errors import ConfigError


def model():
    return nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float64), nn.Linear(4, 2, rng=1, dtype=np.float64))


def test_value_is_lambda_times_sum_of_squared_weights():
    m = model()
    want = 0.01 * (np.sum(m[0].weight.data ** 2) + np.sum(m[1].weight.data ** 2))
    assert nn.l2_penalty(m, 0.01).item() == pytest.approx(want, rel=1e-14)
    with_bias = want + 0.01 * (np.sum(m[0].bias.data ** 2) + np.sum(m[1].bias.data ** 2))
    assert nn.l2_penalty(m, 0.01, include_1d=True).item() == pytest.approx(with_bias, rel=1e-14)
    assert nn.l2_penalty([m[0].weight], 0.5).item() == pytest.approx(0.5 * np.sum(m[0].weight.data ** 2))


def test_gradient_is_two_lambda_w_and_biases_get_none():
    m = model()
    nn.l2_penalty(m, 0.1).backward()
    np.testing.assert_allclose(m[0].weight.grad.data, 0.2 * m[0].weight.data, rtol=1e-14)
    np.testing.assert_allclose(m[1].weight.grad.data, 0.2 * m[1].weight.data, rtol=1e-14)
    assert m[0].bias.grad is None


def test_nothing_to_penalize_gives_zero():
    assert nn.l2_penalty(nn.Linear(2, 2, rng=0), 0.1, include_1d=False).item() > 0
    assert nn.l2_penalty([nn.Parameter(np.ones(3))], 0.1).item() == 0.0


def test_loss_term_equals_sgd_weight_decay_of_twice_lambda():
    lam, lr = 0.05, 0.1
    x = gg.Tensor(np.random.default_rng(0).standard_normal((5, 3)))
    y = gg.Tensor(np.random.default_rng(1).standard_normal((5, 2)))

    a = model()
    opt_a = optim.SGD(a.parameters(), lr=lr)
    (nn.MSELoss()(a(x), y) + nn.l2_penalty(a, lam, include_1d=True)).backward()
    opt_a.step()

    b = model()
    opt_b = optim.SGD(b.parameters(), lr=lr, weight_decay=2 * lam)
    nn.MSELoss()(b(x), y).backward()
    opt_b.step()

    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=1e-13)


def test_bad_weight_decay():
    with pytest.raises(ConfigError, match="weight_decay must be a number >= 0, got -1"):
        nn.l2_penalty(model(), -1)
    with pytest.raises(ConfigError, match="expected a Module or tensors, got a str"):
        nn.l2_penalty(["w"], 0.1)

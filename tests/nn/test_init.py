"""nn.init: distributions' statistics and bounds with a seeded rng, fans, gains, in-place contract."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.errors import ConfigError, ShapeError
from graphgrad.nn import init


def weight(shape=(200, 300)):
    return nn.Parameter(np.zeros(shape, dtype=np.float32))


def test_xavier_uniform_bound_and_variance():
    w = init.xavier_uniform_(weight(), rng=0)
    bound = math.sqrt(6 / (300 + 200))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.data.var() == pytest.approx(2 / 500, rel=0.03)  # Var U(-b, b) = b^2 / 3
    assert abs(w.data.mean()) < 0.005


def test_xavier_normal_std_with_gain():
    w = init.xavier_normal_(weight(), gain=2.0, rng=1)
    assert w.data.std() == pytest.approx(2.0 * math.sqrt(2 / 500), rel=0.02)


def test_kaiming_uniform_relu():
    w = init.kaiming_uniform_(weight(), nonlinearity="relu", rng=2)
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.data.var() == pytest.approx(2 / 300, rel=0.03)


def test_kaiming_normal_fan_out_and_conv_fans():
    w = init.kaiming_normal_(weight(), mode="fan_out", nonlinearity="relu", rng=3)
    assert w.data.std() == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    conv = init.kaiming_normal_(weight((64, 8, 3, 3)), nonlinearity="relu", rng=4)  # fan_in = 8 * 9
    assert conv.data.std() == pytest.approx(math.sqrt(2 / 72), rel=0.03)


def test_kaiming_default_is_leaky_relu_with_slope_a():
    w = init.kaiming_uniform_(weight(), a=math.sqrt(5), rng=5)
    # PyTorch's Linear default: gain sqrt(2 / 6) gives bound 1 / sqrt(fan_in)
    assert np.abs(w.data).max() <= 1 / math.sqrt(300) and np.abs(w.data).max() > 0.99 / math.sqrt(300)


def test_normal_and_uniform():
    n = init.normal_(weight(), mean=3.0, std=0.5, rng=6)
    assert n.data.mean() == pytest.approx(3.0, abs=0.01) and n.data.std() == pytest.approx(0.5, rel=0.02)
    u = init.uniform_(weight(), -2.0, 4.0, rng=7)
    assert u.data.min() >= -2.0 and u.data.max() < 4.0 and u.data.mean() == pytest.approx(1.0, abs=0.02)


def test_constants():
    assert np.all(init.zeros_(nn.Parameter(np.ones(3))).data == 0)
    assert np.all(init.ones_(nn.Parameter(np.zeros(3))).data == 1)
    assert np.all(init.constant_(nn.Parameter(np.zeros(3)), 0.25).data == 0.25)


def test_seeded_reproducible_in_place_and_dtype_kept():
    a, b = weight((4, 5)), weight((4, 5))
    data, version = a.data, a._version
    out = init.xavier_uniform_(a, rng=42)
    init.xavier_uniform_(b, rng=np.random.default_rng(42))
    assert out is a and a.data is data and a._version == version + 1 and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, init.xavier_uniform_(weight((4, 5)), rng=43).data)


def test_init_works_while_grad_is_recorded_and_on_plain_tensors():
    t = gg.Tensor(np.zeros((3, 3)), requires_grad=True)
    init.normal_(t, rng=0)  # no graph recorded, no in-place error
    assert t.is_leaf and np.any(t.data != 0)


def test_calculate_gain():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ConfigError, match="unknown nonlinearity 'swish'; valid: .*relu"):
        init.calculate_gain("swish")


def test_errors():
    with pytest.raises(ShapeError, match="at least 2 dimensions, got shape \\(5,\\)"):
        init.xavier_uniform_(nn.Parameter(np.zeros(5)))
    with pytest.raises(ConfigError, match="invalid mode 'fan'"):
        init.kaiming_normal_(weight(), mode="fan")
    with pytest.raises(ConfigError, match="fill a Tensor in place, got ndarray"):
        init.zeros_(np.zeros(3))

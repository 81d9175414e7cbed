"""linspace and meshgrid by hand: exact endpoints, gradients to the bounds, dtypes, NumPy's shapes."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ConfigError


def test_linspace_gradients_are_the_interpolation_weights() -> None:
    s = gg.Tensor(np.array(1.0), requires_grad=True)
    e = gg.Tensor(np.array(3.0), requires_grad=True)
    y = gg.linspace(s, e, 5)
    np.testing.assert_array_equal(y.data, np.linspace(1.0, 3.0, 5))
    g = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    y.backward(g)
    t = np.arange(5) / 4
    np.testing.assert_allclose(s.grad.data, np.sum(g * (1 - t)))
    np.testing.assert_allclose(e.grad.data, np.sum(g * t))


def test_linspace_ends_exactly_on_stop_and_returns_the_step() -> None:
    y, step = gg.linspace(np.float64(0.1), np.float64(0.7), 7, retstep=True)
    assert y.data[-1] == 0.7
    assert step.item() == pytest.approx(0.1)
    assert np.isnan(gg.linspace(np.float64(2.0), 3.0, 1, retstep=True)[1].item())


def test_linspace_dtypes() -> None:
    assert gg.linspace(0, 1, 3).dtype == np.float32  # Python numbers: graphgrad's default
    assert gg.linspace(np.arange(2), 5, 3).dtype == np.float64  # integer arrays: NumPy's float64
    assert gg.linspace(np.float32(0), np.float32(1), 3).dtype == np.float32
    assert gg.linspace(0, 1, 3, dtype=np.float64).dtype == np.float64
    with pytest.raises(ConfigError, match="linspace: the number of samples must be non-negative, got -1"):
        gg.linspace(0, 1, -1)


def test_meshgrid_gradient_counts_the_copies() -> None:
    x = gg.Tensor(np.arange(3.0), requires_grad=True)
    y = gg.Tensor(np.arange(2.0), requires_grad=True)
    gx, gy = gg.meshgrid(x, y)
    assert gx.shape == gy.shape == (2, 3)
    (gx + 10.0 * gy).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(y.grad.data, [30.0, 30.0])
    gx.data[0, 0] = 9.0  # copy=True: writable, and x is untouched
    assert x.data[0] == 0.0
    with pytest.raises(ConfigError, match="meshgrid: indexing must be 'xy' or 'ij'"):
        gg.meshgrid(x, y, indexing="yx")

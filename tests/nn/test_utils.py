"""Gradient clipping: the norm it reports, the scaling it applies, and never writing shared arrays."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.errors import ConfigError, TrainingDivergedError


def params_with_grads(g1, g2):
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1))
    a.grad, b.grad = gg.Tensor(np.array(g1, dtype=float)), gg.Tensor(np.array(g2, dtype=float))
    return a, b


def test_clip_grad_norm_scales_to_max_norm():
    a, b = params_with_grads([3.0, 0.0], [4.0])  # joint norm 5
    shared = a.grad.data
    norm = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3.0 * coef, 0.0], rtol=1e-14)
    np.testing.assert_allclose(b.grad.data, [4.0 * coef], rtol=1e-14)
    np.testing.assert_array_equal(shared, [3.0, 0.0])  # the old array is untouched


def test_clip_grad_norm_leaves_small_gradients_alone():
    a, b = params_with_grads([0.3, 0.0], [0.4])
    before = a.grad
    assert nn.utils.clip_grad_norm_([a, b], max_norm=1.0).item() == pytest.approx(0.5)
    assert a.grad is before


def test_clip_grad_norm_inf_and_p1_and_skips_missing_grads():
    a, b = params_with_grads([3.0, -7.0], [4.0])
    c = nn.Parameter(np.ones(3))  # no grad: skipped
    assert nn.utils.clip_grad_norm_([a, b, c], max_norm=100.0, norm_type=float("inf")).item() == 7.0
    assert nn.utils.clip_grad_norm_([a, b], max_norm=100.0, norm_type=1).item() == pytest.approx(14.0)
    assert nn.utils.clip_grad_norm_([c], max_norm=1.0).item() == 0.0


def test_clip_grad_norm_nonfinite_and_bad_args():
    a, b = params_with_grads([np.nan, 1.0], [1.0])
    with pytest.raises(TrainingDivergedError, match="total gradient norm is nan"):
        nn.utils.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    with pytest.raises(ConfigError, match="max_norm must be >= 0, got -1"):
        nn.utils.clip_grad_norm_([a], -1)


def test_clip_grad_value():
    a, b = params_with_grads([3.0, -0.5], [-4.0])
    shared = a.grad.data
    nn.utils.clip_grad_value_([a, b], 1.0)
    np.testing.assert_array_equal(a.grad.data, [1.0, -0.5])
    np.testing.assert_array_equal(b.grad.data, [-1.0])
    np.testing.assert_array_equal(shared, [3.0, -0.5])


def test_clip_a_module_after_backward():
    lin = nn.Linear(3, 2, rng=0, dtype=np.float64)
    (lin(gg.Tensor(np.full((4, 3), 10.0))) ** 2).sum().backward()
    nn.utils.clip_grad_norm_(lin.parameters(), max_norm=0.5)
    total = np.sqrt(sum(np.sum(p.grad.data ** 2) for p in lin.parameters()))
    assert total == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_keeps_a_zero_dimensional_gradient_a_writable_array(clip):
    # NumPy ufuncs on 0-d arrays return scalars: the clipped .grad of a learned scalar became a
    # np.float64, not the writable array every .grad must be.
    p = gg.Tensor(np.array(2.0), requires_grad=True)
    (p * p).backward()
    if clip == "norm":
        nn.utils.clip_grad_norm_([p], 0.5)
    else:
        nn.utils.clip_grad_value_([p], 0.5)
    assert type(p.grad.data) is np.ndarray and p.grad.data.shape == ()
    assert p.grad.data == pytest.approx(0.5, rel=1e-5)
    p.grad.data[...] = 0.0  # writable, as every .grad handed to a user

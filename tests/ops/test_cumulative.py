"""Running sums and products by hand: cumprod exact with zeros (PyTorch as the oracle), diff, nan-reductions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ShapeError


def _leaf(values: object) -> gg.Tensor:
    return gg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_cumprod_gradient_with_zeros_is_exact() -> None:
    """d/da_i sum_j g_j prod_{k<=j} a_k by hand for a = [2, 0, 3, 0, 5], g = 1."""
    a = _leaf([2.0, 0.0, 3.0, 0.0, 5.0])
    gg.cumprod(a).sum().backward()
    # i=0: 1 + 0...; i=1: 2 + 2*3 + 0 + 0 = 8; i=2: 0; i=3: 2*0*3 = 0 ...; i=4: 0
    np.testing.assert_array_equal(a.grad.data, [1.0, 8.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("zeros", [[], [3], [0, 5], [2, 3, 9]])
def test_cumprod_first_and_second_derivatives_match_pytorch(zeros: list[int]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(zeros))
    a = rng.uniform(-1.5, 1.5, (2, 10))
    a[:, zeros] = 0.0
    g = rng.standard_normal((2, 10))
    t = torch.tensor(a, requires_grad=True)
    (d1,) = torch.autograd.grad(torch.cumprod(t, 1), t, torch.tensor(g), create_graph=True)
    (d2,) = torch.autograd.grad((d1 * d1).sum(), t)
    ours = gg.grad(lambda x: (gg.cumprod(x, axis=1) * g).sum())
    np.testing.assert_allclose(ours(a).data, d1.detach().numpy(), rtol=1e-12, atol=1e-14)
    second = gg.grad(lambda x: (ours(x) * ours(x)).sum())(a)
    np.testing.assert_allclose(second.data, d2.numpy(), rtol=1e-10, atol=1e-12)


def test_cumsum_gradient_is_the_reversed_running_sum_and_flattens_without_axis() -> None:
    x = _leaf(np.arange(6.0).reshape(2, 3))
    y = gg.cumsum(x)
    assert y.shape == (6,)
    y.backward(np.arange(6.0))
    np.testing.assert_array_equal(x.grad.data.reshape(-1), np.cumsum(np.arange(6.0)[::-1])[::-1])
    assert gg.cumsum(np.arange(3), dtype=np.float32).dtype == np.float32


def test_diff_with_prepend_is_the_inverse_of_cumsum() -> None:
    x = _leaf([1.0, 4.0, 9.0, 16.0])
    y = gg.diff(gg.cumsum(x), prepend=0.0)
    np.testing.assert_allclose(y.data, x.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0)
    with pytest.raises(ShapeError, match="diff: order must be non-negative, got -1"):
        gg.diff(x, -1)


def test_nan_entries_get_zero_gradient_and_an_all_nan_slice_warns_like_numpy() -> None:
    x = _leaf([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        m = gg.nanmean(x, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(m.data, np.nanmean(x.data, axis=1))
    m[0].backward()
    np.testing.assert_array_equal(x.grad.data, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    s = _leaf([np.nan, 2.0])
    gg.nansum(s).backward()
    np.testing.assert_array_equal(s.grad.data, [0.0, 1.0])


def test_nan_reductions_of_size_zero_follow_numpy() -> None:
    assert gg.nansum(np.zeros((0, 3))).item() == 0.0
    with pytest.warns(RuntimeWarning):
        assert np.isnan(gg.nanmean(np.zeros((0,))).item())


@pytest.mark.parametrize(
    "fn",
    [lambda x: gg.cumsum(x, axis=0), lambda x: gg.cumprod(x, axis=0), gg.cumprod, lambda x: gg.diff(x, axis=0),
     lambda x: gg.nansum(x, axis=0), lambda x: gg.einsum("ij,kj->ik", x, x), lambda x: gg.sort(x, axis=0)],
)  # fmt: skip
def test_size_zero_inputs_give_empty_gradients(fn) -> None:
    x = gg.Tensor(np.zeros((0, 3)), requires_grad=True)
    y = fn(x)
    y.backward(np.ones(y.shape))
    assert x.grad.shape == (0, 3)

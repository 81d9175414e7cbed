"""Layers: Linear (values, gradients, init), Flatten, Identity, activations, Dropout."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.errors import ConfigError, ShapeError

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 4))


# ------------------------------------------------------------------ Linear
def test_linear_forward_is_x_wT_plus_b():
    lin = nn.Linear(4, 3, rng=0)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,) and lin.weight.dtype == np.float32
    x = gg.Tensor(X.astype(np.float32))
    np.testing.assert_allclose(lin(x).data, X @ lin.weight.data.T + lin.bias.data, rtol=1e-5, atol=1e-6)
    no_bias = nn.Linear(4, 3, bias=False, rng=0)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(x).data, X @ no_bias.weight.data.T, rtol=1e-5, atol=1e-6)


def test_linear_gradients_match_matrix_formulas():
    lin = nn.Linear(4, 3, rng=1, dtype=np.float64)
    x = gg.Tensor(X.copy(), requires_grad=True)
    u = RNG.standard_normal((5, 3))
    (lin(x) * u).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, u.T @ X, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.data, u.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, u @ lin.weight.data, rtol=1e-12)


def test_linear_batched_leading_dims():
    lin = nn.Linear(4, 2, rng=0, dtype=np.float64)
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(lin(gg.Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-12)


def test_linear_init_is_seeded_and_bounded():
    a, b = nn.Linear(50, 40, rng=3), nn.Linear(50, 40, rng=3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Linear(50, 40, rng=4).weight.data)
    bound = 1 / math.sqrt(50)
    assert np.abs(a.weight.data).max() <= bound and np.abs(a.weight.data).max() > 0.9 * bound
    # U(-b, b) has variance b^2 / 3
    assert a.weight.data.var() == pytest.approx(bound**2 / 3, rel=0.1)
    gen = np.random.default_rng(5)
    c, d = nn.Linear(2, 2, rng=gen), nn.Linear(2, 2, rng=gen)
    assert not np.array_equal(c.weight.data, d.weight.data)  # a shared Generator advances


def test_linear_errors():
    with pytest.raises(ConfigError, match="in_features must be a positive integer, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ConfigError, match="out_features must be a positive integer, got 2.5"):
        nn.Linear(3, 2.5)
    with pytest.raises(ShapeError, match="got input of shape \\(5, 3\\); its last dimension must be 4"):
        nn.Linear(4, 2, rng=0)(gg.Tensor(np.ones((5, 3), dtype=np.float32)))


# ------------------------------------------------------------------ Flatten, Identity
def test_flatten():
    x = gg.Tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(start_axis=0)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.data.reshape(2, 60))
    with pytest.raises(ShapeError, match="cannot flatten shape \\(2, 3, 4, 5\\)"):
        nn.Flatten(3, 1)(x)


def test_flatten_passes_gradient_back_in_shape():
    x = gg.Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    (nn.Flatten()(x) * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3, 4), 2.0))


def test_identity():
    x = gg.Tensor(X)
    assert nn.Identity(3, anything=1)(x) is x


# ------------------------------------------------------------------ activations
def _erf(a):
    return np.vectorize(math.erf)(a)


ACTIVATIONS = [
    (nn.ReLU(), lambda a: np.maximum(a, 0)),
    (nn.LeakyReLU(0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    (nn.Sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    (nn.Tanh(), np.tanh),
    (nn.GELU(), lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2)))),
    (nn.ELU(0.5), lambda a: np.where(a > 0, a, 0.5 * (np.exp(a) - 1))),
    (nn.Softplus(), lambda a: np.log1p(np.exp(a))),
    (nn.Softplus(beta=2.0, threshold=1.0), lambda a: np.where(2 * a > 1, a, np.log1p(np.exp(2 * a)) / 2)),
    (nn.GELU(approximate="tanh"),
     lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))),
    (nn.Softmax(axis=1), lambda a: np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)),
    (nn.Softmax(dim=0), lambda a: np.exp(a) / np.exp(a).sum(axis=0, keepdims=True)),
    (nn.LogSoftmax(), lambda a: a - np.log(np.exp(a).sum(axis=-1, keepdims=True))),
]


@pytest.mark.parametrize("module,formula", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activation_values(module, formula):
    np.testing.assert_allclose(module(gg.Tensor(X)).data, formula(X), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("module,formula", ACTIVATIONS[:8], ids=[repr(m) for m, _ in ACTIVATIONS[:8]])
def test_activation_gradient_matches_central_differences(module, formula):
    x = gg.Tensor(X.copy(), requires_grad=True)
    module(x).sum().backward()
    h = 1e-6
    numeric = (formula(X + h) - formula(X - h)) / (2 * h)  # elementwise ops: the Jacobian is diagonal
    np.testing.assert_allclose(x.grad.data, numeric, rtol=1e-5, atol=1e-7)


def test_activation_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(axis=1)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU()) == "GELU()" and repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    with pytest.raises(ConfigError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")
    with pytest.raises(ConfigError, match="beta must be a positive number, got 0"):
        nn.Softplus(beta=0)
    with pytest.raises(ConfigError, match="axis must be an integer"):
        nn.Softmax(axis="rows")


# ------------------------------------------------------------------ Dropout
def test_dropout_train_inverted():
    drop = nn.Dropout(0.25, rng=0)
    x = gg.Tensor(np.ones((200, 50), dtype=np.float32))
    y = drop(x).data
    kept = y != 0
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert kept.mean() == pytest.approx(0.75, abs=0.02)
    assert y.mean() == pytest.approx(1.0, abs=0.03)  # expectation preserved
    assert not np.array_equal(drop(x).data, y)  # a fresh mask each call


def test_dropout_eval_is_identity_and_seeded():
    x = gg.Tensor(np.ones((10, 10), dtype=np.float32))
    drop = nn.Dropout(0.5, rng=1).eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    a, b = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_dropout_seeds_rule_scales_at_test_time():
    x = gg.Tensor(np.ones((100, 100), dtype=np.float32))
    drop = nn.Dropout(0.2, rng=0, inverted=False)
    y = drop(x).data
    assert set(np.unique(y)) == {0.0, 1.0}
    drop.eval()
    np.testing.assert_allclose(drop(x).data, 0.8)
    assert repr(drop) == "Dropout(p=0.2, inverted=False)"


def test_dropout_gradient_follows_mask_and_follows_model_mode():
    model = nn.Sequential(nn.Dropout(0.5, rng=0))
    x = gg.Tensor(np.ones((4, 6)), requires_grad=True)
    y = model(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # mask * 2 in both
    model.eval()
    assert model(x) is x or np.array_equal(model(x).data, x.data)


def test_dropout_bad_p():
    with pytest.raises(ConfigError, match="p must be in \\[0, 1\\], got 1.5"):
        nn.Dropout(1.5)


# ------------------------------------------------------------------ inplace=True (PyTorch's argument)
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.ReLU(inplace=True), lambda tnn: tnn.ReLU(inplace=True)),
    (lambda: nn.LeakyReLU(0.1, True), lambda tnn: tnn.LeakyReLU(0.1, True)),
    (lambda: nn.ELU(0.5, inplace=True), lambda tnn: tnn.ELU(0.5, inplace=True)),
], ids=["relu", "leaky_relu", "elu"])
def test_inplace_activations_change_their_input_and_match_torch(ours, theirs) -> None:
    torch = pytest.importorskip("torch")
    x, w = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 4))
    xt, wt = gg.Tensor(x, requires_grad=True), gg.Tensor(w, requires_grad=True)
    h = xt @ wt
    out = ours()(h)
    assert out is h  # the same tensor, changed
    (out * out).sum().backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    th = tx @ tw
    tout = theirs(torch.nn)(th)
    (tout * tout).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_inplace_without_a_gradient_writes_into_the_array_and_dropout_in_eval_leaves_it() -> None:
    a = np.array([-1.0, 2.0, -3.0])
    t = gg.Tensor(a)
    assert nn.ReLU(inplace=True)(t) is t
    np.testing.assert_array_equal(a, [0.0, 2.0, 0.0])  # the tensor's array is the caller's
    drop = nn.Dropout(0.5, inplace=True, rng=0)
    x = gg.Tensor(np.ones((4, 6)), requires_grad=True)
    h = x * 1.0
    assert drop(h) is h and set(np.unique(h.data)) <= {0.0, 2.0}
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, h.data)  # the mask times 2, as out of place
    drop.eval()
    before = h.data.copy()
    assert drop(h) is h and np.array_equal(h.data, before)


def test_inplace_refusals_say_what_to_write_instead() -> None:
    with pytest.raises(gg.errors.BackwardError, match=r"relu\(inplace=True\) on a leaf tensor that requires a grad"):
        nn.ReLU(inplace=True)(gg.Tensor(np.ones(3), requires_grad=True))
    flat = nn.Flatten()(gg.Tensor(np.ones((2, 2, 2)), requires_grad=True) * 1.0)  # a view of a live tensor
    with pytest.raises(gg.errors.InplaceError, match=r"dropout\(inplace=True\) .* Use inplace=False"):
        nn.Dropout(0.5, True, rng=0)(flat)
    with pytest.raises(ConfigError, match=r"Dropout: inplace must be True or False, got 3 \(a seed or generator goes"):
        nn.Dropout(0.5, 3)
    with pytest.raises(ConfigError, match="ReLU: inplace must be True or False"):
        nn.ReLU("yes")
    assert repr(nn.ReLU(True)) == "ReLU(inplace=True)" and repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Dropout(0.2, True, inverted=False)) == "Dropout(p=0.2, inplace=True, inverted=False)"
    assert repr(nn.LeakyReLU(0.2, True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"

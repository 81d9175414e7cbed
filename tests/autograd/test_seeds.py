"""The lecture notes' worked examples, gradients checked against the formulas derived by hand there."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from tests.autograd.helpers import np_sigmoid, scalar, sigmoid


def test_seed001_x_times_y_squared_plus_z_at_1_2_3() -> None:
    """f(x, y, z) = x (y^2 + z): g = y^2 + z = 7, f = 7, df/dx = g = 7, df/dy = 2xy = 4, df/dz = x = 1."""
    x, y, z = scalar(1.0), scalar(2.0), scalar(3.0)
    g = (y**2 + z).retain_grad()
    f = x * g
    assert f.item() == 7.0
    f.backward()
    assert x.grad.item() == 7.0
    assert y.grad.item() == 4.0
    assert z.grad.item() == 1.0
    assert g.grad.item() == 1.0  # df/dg = x


@pytest.mark.parametrize("sigmoid_output", [False, True], ids=["linear-output", "sigmoid-output"])
def test_seed001_two_two_one_network_every_weight(sigmoid_output: bool) -> None:
    """The 2-2-1 sigmoid network with L = 1/2 (y - y*)^2, all nine weights.

    The slides' formulas treat the output unit as linear (dy/dw^o_01 = 1, dy/dw^o_11 = z1); with a
    sigmoid output every output-side factor gains y (1 - y).
    """
    x1, x2, y_star = 0.35, -0.8, 0.25
    values = {
        "wh01": 0.1, "wh11": -0.4, "wh21": 0.7,  # hidden unit 1: bias, from x1, from x2
        "wh02": -0.3, "wh12": 0.5, "wh22": 0.2,  # hidden unit 2
        "wo01": 0.05, "wo11": 0.9, "wo21": -0.6,  # output: bias, from z1, from z2
    }  # fmt: skip
    w = {name: scalar(v) for name, v in values.items()}
    z1 = sigmoid(w["wh01"] + w["wh11"] * x1 + w["wh21"] * x2)
    z2 = sigmoid(w["wh02"] + w["wh12"] * x1 + w["wh22"] * x2)
    t = w["wo01"] + w["wo11"] * z1 + w["wo21"] * z2
    y = sigmoid(t) if sigmoid_output else t
    loss = 0.5 * (y - y_star) ** 2
    loss.backward()

    v = values
    z1v = np_sigmoid(v["wh01"] + v["wh11"] * x1 + v["wh21"] * x2)
    z2v = np_sigmoid(v["wh02"] + v["wh12"] * x1 + v["wh22"] * x2)
    tv = v["wo01"] + v["wo11"] * z1v + v["wo21"] * z2v
    yv = np_sigmoid(tv) if sigmoid_output else tv
    dL_dy = yv - y_star  # dL/dy = y - y*
    dy_dt = yv * (1 - yv) if sigmoid_output else 1.0
    expected = {
        "wo01": dL_dy * dy_dt * 1.0,  # dy/dw^o_01 = 1
        "wo11": dL_dy * dy_dt * z1v,  # dy/dw^o_11 = z1 (the cached dL/dy reused)
        "wo21": dL_dy * dy_dt * z2v,
        # dL/dw^h_ij = dL/dy * w^o_j1 * z_j (1 - z_j) * x_i  (x_0 = 1 for the bias)
        "wh01": dL_dy * dy_dt * v["wo11"] * z1v * (1 - z1v) * 1.0,
        "wh11": dL_dy * dy_dt * v["wo11"] * z1v * (1 - z1v) * x1,
        "wh21": dL_dy * dy_dt * v["wo11"] * z1v * (1 - z1v) * x2,
        "wh02": dL_dy * dy_dt * v["wo21"] * z2v * (1 - z2v) * 1.0,
        "wh12": dL_dy * dy_dt * v["wo21"] * z2v * (1 - z2v) * x1,
        "wh22": dL_dy * dy_dt * v["wo21"] * z2v * (1 - z2v) * x2,
    }
    assert loss.item() == pytest.approx(0.5 * (yv - y_star) ** 2, rel=1e-12)
    for name, want in expected.items():
        assert w[name].grad.item() == pytest.approx(want, rel=1e-10, abs=1e-15), name


def _seed002_numpy_backward(Ws, bs, x, y, lam):
    """Seed 002's backward in matrix form, by hand: g <- g * f'(a); grads; g <- W^T g."""
    hs, as_ = [x], []
    for W, b in zip(Ws, bs):
        as_.append(b + W @ hs[-1])
        hs.append(np_sigmoid(as_[-1]))
    y_hat = hs[-1]
    J = np.sum((y_hat - y) ** 2) + lam * sum(np.sum(W**2) for W in Ws)
    g = 2.0 * (y_hat - y)  # grad of L with respect to y_hat
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        g = g * hs[k + 1] * (1.0 - hs[k + 1])  # f'(a) for the sigmoid, elementwise
        dbs[k] = g  # Omega does not penalize the biases
        dWs[k] = np.outer(g, hs[k]) + lam * 2.0 * Ws[k]  # g h^(k-1)T + lambda grad Omega
        g = Ws[k].T @ g
    return J, dWs, dbs


def test_seed002_mlp_matrix_form_backward_with_l2() -> None:
    rng = np.random.default_rng(2)
    sizes = [4, 5, 3, 2]
    Ws = [rng.standard_normal((n, m)) for m, n in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(n) for n in sizes[1:]]
    x, y, lam = rng.standard_normal(4), rng.uniform(0, 1, 2), 0.05
    J_np, dWs, dbs = _seed002_numpy_backward(Ws, bs, x, y, lam)

    W_t = [gg.Tensor(W, requires_grad=True) for W in Ws]
    b_t = [gg.Tensor(b, requires_grad=True) for b in bs]
    h = gg.Tensor(x)
    for W, b in zip(W_t, b_t):
        h = sigmoid(b + W @ h)
    omega = sum(gg.sum(W * W) for W in W_t)
    J = gg.sum((h - y) ** 2) + lam * omega
    J.backward()
    assert J.item() == pytest.approx(J_np, rel=1e-12)
    for k in range(len(Ws)):
        np.testing.assert_allclose(W_t[k].grad.data, dWs[k], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(b_t[k].grad.data, dbs[k], rtol=1e-10, atol=1e-14)


def test_seed002_one_hidden_layer_example() -> None:
    """a = W x, h = sigma(a), y_hat = v^T h, J = (y_hat - y)^2 + lambda (|W|_F^2 + |v|^2)."""
    rng = np.random.default_rng(3)
    Wv, vv, x, y, lam = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4), 0.7, 0.1
    a = Wv @ x
    h = np_sigmoid(a)
    y_hat = vv @ h
    g = 2 * (y_hat - y)
    grad_v = g * h + 2 * lam * vv
    g_a = (g * vv) * h * (1 - h)
    grad_W = np.outer(g_a, x) + 2 * lam * Wv

    W, v = gg.Tensor(Wv, requires_grad=True), gg.Tensor(vv, requires_grad=True)
    J = (v @ sigmoid(W @ x) - y) ** 2 + lam * (gg.sum(W**2) + gg.sum(v**2))
    J.backward()
    np.testing.assert_allclose(v.grad.data, grad_v, rtol=1e-12)
    np.testing.assert_allclose(W.grad.data, grad_W, rtol=1e-12)

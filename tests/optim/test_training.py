"""nn and optim together: small networks actually learn, and a seeded run is reproducible."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.optim import lr_scheduler

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def train_xor(seed):
    model = nn.Sequential(nn.Linear(2, 8, rng=seed), nn.Tanh(), nn.Linear(8, 2, rng=seed + 1))
    opt = optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    x = gg.Tensor(XOR_X)
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn(model(x), XOR_Y)
        loss.backward()
        opt.step()
    return model, loss.item()


def test_mlp_learns_xor_with_adam():
    model, loss = train_xor(0)
    with gg.no_grad():
        pred = model.eval()(gg.Tensor(XOR_X)).data.argmax(axis=1)
    assert loss < 0.05 and np.array_equal(pred, XOR_Y)


def test_same_seed_same_weights_bit_for_bit():
    a, _ = train_xor(3)
    b, _ = train_xor(3)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(pa, pb)


def test_linear_regression_with_square_loss_sgd_and_schedule():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    w_true = np.array([[1.5, -2.0, 0.5]], dtype=np.float32)
    y = x @ w_true.T + 0.3
    model = nn.Linear(3, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    sched = lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    for _ in range(60):
        opt.zero_grad()
        nn.SquareLoss()(model(gg.Tensor(x)), gg.Tensor(y)).backward()
        opt.step()
        sched.step()
    np.testing.assert_allclose(model.weight.data, w_true, atol=1e-3)
    np.testing.assert_allclose(model.bias.data, [0.3], atol=1e-3)
    assert sched.get_last_lr()[0] == 0.2 * 0.5**3

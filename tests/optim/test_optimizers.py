"""Optimizer updates against hand-computed numbers and against the published formulas, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim
from graphgrad.errors import ConfigError

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.4, 1.0]), np.array([1.5, 0.0, -2.5]), np.array([0.2, -0.7, 0.1])]
P0 = np.array([1.0, -2.0, 0.5])


def run(make_opt, grads=GRADS, p0=P0):
    """Positions after each step of an optimizer fed the gradient sequence ``grads``."""
    p = gg.Tensor(p0.copy(), requires_grad=True)
    opt = make_opt([p])
    out = []
    for g in grads:
        p.grad = gg.Tensor(g.copy())
        opt.step()
        out.append(p.data.copy())
    return out


# ------------------------------------------------------------------ literal hand computations
def test_sgd_plain_two_steps_by_hand():
    out = run(lambda ps: optim.SGD(ps, lr=0.1), grads=[np.array([1.0]), np.array([-2.0])], p0=np.array([1.0]))
    assert out[0][0] == pytest.approx(0.9) and out[1][0] == pytest.approx(1.1)


def test_sgd_momentum_by_hand():
    # b1 = 1, p1 = 1 - 0.1 = 0.9; b2 = 0.9 * 1 + 1 = 1.9, p2 = 0.9 - 0.19 = 0.71
    out = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), grads=[np.array([1.0])] * 2, p0=np.array([1.0]))
    assert [o[0] for o in out] == pytest.approx([0.9, 0.71])


def test_sgd_nesterov_by_hand():
    # step 1: b = 1, g = 1 + 0.9 * 1 = 1.9, p = 0.81; step 2: b = 1.9, g = 1 + 0.9 * 1.9 = 2.71, p = 0.539
    out = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), grads=[np.array([1.0])] * 2,
              p0=np.array([1.0]))
    assert [o[0] for o in out] == pytest.approx([0.81, 0.539])


def test_sgd_weight_decay_by_hand():
    # g = 1 + 0.5 * 2 = 2, p = 2 - 0.1 * 2 = 1.8
    out = run(lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.5), grads=[np.array([1.0])], p0=np.array([2.0]))
    assert out[0][0] == pytest.approx(1.8)


def test_adam_first_step_moves_by_lr_times_sign():
    # m_hat = g and v_hat = g^2 at step 1, so the step is lr * g / (|g| + eps)
    out = run(lambda ps: optim.Adam(ps, lr=0.01), grads=[np.array([3.0, -0.2])], p0=np.array([0.0, 0.0]))
    np.testing.assert_allclose(out[0], [-0.01 * 3 / (3 + 1e-8), 0.01 * 0.2 / (0.2 + 1e-8)], rtol=1e-14)


def test_adagrad_by_hand():
    # s1 = 4, p1 = 1 - 0.1 * 2 / 2 = 0.9; s2 = 4 + 1 = 5, p2 = 0.9 - 0.1 * 1 / sqrt(5)
    out = run(lambda ps: optim.Adagrad(ps, lr=0.1, eps=0.0), grads=[np.array([2.0]), np.array([1.0])],
              p0=np.array([1.0]))
    assert [o[0] for o in out] == pytest.approx([0.9, 0.9 - 0.1 / math.sqrt(5)], rel=1e-14)


def test_rmsprop_by_hand():
    # v1 = 0.01 * 4 = 0.04, p1 = 1 - 0.01 * 2 / 0.2 = 0.9
    out = run(lambda ps: optim.RMSprop(ps, lr=0.01, eps=0.0), grads=[np.array([2.0])], p0=np.array([1.0]))
    assert out[0][0] == pytest.approx(0.9, rel=1e-14)


def test_adamw_decay_is_decoupled():
    # a zero gradient leaves Adam's moments at 0: AdamW only shrinks p by (1 - lr * wd), Adam with wd moves
    # by about lr (the decay term goes through the normalized moments)
    zero = [np.zeros(1)]
    out_w = run(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), grads=zero, p0=np.array([2.0]))
    out_a = run(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.5), grads=zero, p0=np.array([2.0]))
    assert out_w[0][0] == pytest.approx(2.0 * (1 - 0.1 * 0.5), rel=1e-14)
    assert out_a[0][0] == pytest.approx(2.0 - 0.1, rel=1e-7)


# ------------------------------------------------------------------ formula references, several steps
def ref_sgd(grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False):
    p, b, out = P0.copy(), None, []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        out.append(p)
    return out


def ref_adagrad(grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p, s, out = P0.copy(), np.full(3, initial_accumulator_value), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        s = s + g**2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def ref_rmsprop(grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p, v, m, b, out = P0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            m = alpha * m + (1 - alpha) * g
            d = np.sqrt(v - m**2) + eps
        else:
            d = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
        out.append(p)
    return out


def ref_adam(grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas
    p, m, v, vmax, out = P0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


CASES = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1), lambda: ref_sgd(GRADS, 0.1)),
    ("sgd-momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda: ref_sgd(GRADS, 0.1, 0.9)),
    ("sgd-dampening", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.3),
     lambda: ref_sgd(GRADS, 0.1, 0.8, dampening=0.3)),
    ("sgd-nesterov-wd", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
     lambda: ref_sgd(GRADS, 0.05, 0.9, nesterov=True, weight_decay=0.1)),
    ("sgd-maximize", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.2, maximize=True),
     lambda: ref_sgd(GRADS, 0.1, 0.5, weight_decay=0.2, maximize=True)),
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1), lambda: ref_adagrad(GRADS, 0.1)),
    ("adagrad-all", lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.3),
     lambda: ref_adagrad(GRADS, 0.1, 0.5, 0.1, 0.3)),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01), lambda: ref_rmsprop(GRADS, 0.01)),
    ("rmsprop-centered-momentum", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.8, centered=True,
                                                           weight_decay=0.1),
     lambda: ref_rmsprop(GRADS, 0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.1)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.1), lambda: ref_adam(GRADS, 0.1)),
    ("adam-wd-betas", lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.9), weight_decay=0.3, eps=1e-6),
     lambda: ref_adam(GRADS, 0.1, betas=(0.8, 0.9), weight_decay=0.3, eps=1e-6)),
    ("adam-amsgrad", lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True), lambda: ref_adam(GRADS, 0.1, amsgrad=True)),
    ("adamw", lambda ps: optim.AdamW(ps, lr=0.1), lambda: ref_adam(GRADS, 0.1, weight_decay=1e-2, decoupled=True)),
    ("adamw-amsgrad", lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.2, amsgrad=True),
     lambda: ref_adam(GRADS, 0.1, weight_decay=0.2, amsgrad=True, decoupled=True)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_matches_formula_over_several_steps(name, make, ref):
    for got, want in zip(run(make), ref()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_amsgrad_differs_once_v_shrinks():
    # GRADS[3] is small after large ones, so max(v) > v and the two variants part ways
    a, b = run(CASES[9][1]), run(CASES[11][1])
    assert np.abs(a[-1] - b[-1]).max() > 1e-6


# ------------------------------------------------------------------ mechanics
@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_gradient_is_never_written(name, make, ref):
    p = gg.Tensor(P0.copy(), requires_grad=True)
    opt = make([p])
    for g in GRADS[:2]:
        p.grad = gg.Tensor(g.copy())
        opt.step()
        np.testing.assert_array_equal(p.grad.data, g)


def test_float32_params_stay_float32_and_version_bumps():
    p = gg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    p.grad = gg.Tensor(np.full(4, 0.5, dtype=np.float32))
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    v0 = p._version
    opt.step()
    assert p.dtype == np.float32 and p._version == v0 + 1
    assert all(a.dtype == np.float32 for a in opt.state[p].values() if isinstance(a, np.ndarray))


def test_params_without_grad_are_skipped():
    a = gg.Tensor(np.ones(2), requires_grad=True)
    b = gg.Tensor(np.ones(2), requires_grad=True)
    a.grad = gg.Tensor(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in opt.state


def test_param_groups_take_their_own_hyperparameters():
    a = gg.Tensor(np.ones(1), requires_grad=True)
    b = gg.Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["momentum"] == 0.0  # filled from defaults
    a.grad = b.grad = gg.Tensor(np.ones(1))
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.99)


def test_add_param_group_and_duplicates():
    a = gg.Tensor(np.ones(1), requires_grad=True)
    b = gg.Tensor(np.ones(1), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.6) and opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(ConfigError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ConfigError, match="twice"):
        optim.SGD([a, a], lr=0.1)


def test_zero_grad_modes():
    p = gg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    shared = np.ones(2)
    p.grad = gg.Tensor(shared)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
    np.testing.assert_array_equal(shared, [1.0, 1.0])  # a fresh array, the shared one untouched
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_loss_and_uses_its_gradient():
    p = gg.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with gg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and p.data[0] == pytest.approx(3.0 - 0.25 * 6.0)


def test_trains_a_quadratic_to_its_minimum():
    target = np.array([1.0, -2.0])
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1),
                 lambda ps: optim.RMSprop(ps, lr=0.01), lambda ps: optim.Adagrad(ps, lr=0.5)):
        p = gg.Tensor(np.zeros(2), requires_grad=True)
        opt = make([p])
        for _ in range(300):
            opt.zero_grad()
            ((p - target) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(p.data, target, atol=1e-2)


# ------------------------------------------------------------------ validation
BAD = [
    (lambda ps: optim.SGD(ps, lr=-0.1), "lr", "-0.1"),
    (lambda ps: optim.SGD(ps, lr=float("nan")), "lr", "nan"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "momentum", "-1"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-0.5), "weight_decay", "-0.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov", "momentum=0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov", "dampening=0.1"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "betas\\[0\\]", "1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "betas\\[1\\]", "-0.1"),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), "betas", "0.9"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "eps", "-1e-08"),
    (lambda ps: optim.AdamW(ps, weight_decay=-1), "weight_decay", "-1"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "lr_decay", "-1"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value", "-1"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.5), "alpha", "-0.5"),
    (lambda ps: optim.RMSprop(ps, lr="fast"), "lr", "fast"),
]


@pytest.mark.parametrize("make,name,value", BAD)
def test_invalid_hyperparameters_name_parameter_and_value(make, name, value):
    p = gg.Tensor(np.ones(1), requires_grad=True)
    with pytest.raises(ConfigError, match=name) as info:
        make([p])
    assert value in str(info.value)


def test_invalid_group_hyperparameter_is_caught_too():
    a = gg.Tensor(np.ones(1), requires_grad=True)
    with pytest.raises(ConfigError, match="lr: -1"):
        optim.SGD([{"params": [a], "lr": -1}], lr=0.1)


def test_invalid_params():
    with pytest.raises(ConfigError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    p = gg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ConfigError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ConfigError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ConfigError, match="params\\[1\\] is a ndarray"):
        optim.SGD([p, np.ones(2)], lr=0.1)
    with pytest.raises(ConfigError, match="int64"):
        optim.SGD([gg.Tensor(np.ones(2, dtype=np.int64))], lr=0.1)


def test_grad_shape_mismatch_is_reported():
    p = gg.Tensor(np.ones(2), requires_grad=True)
    p.grad = gg.Tensor(np.ones(3))
    with pytest.raises(ConfigError, match="\\(3,\\).*\\(2,\\)"):
        optim.SGD([p], lr=0.1).step()


def test_repr_lists_groups():
    p = gg.Tensor(np.ones(1), requires_grad=True)
    text = repr(optim.SGD([p], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


@pytest.mark.parametrize(
    "name,kwargs",
    [("SGD", {"momentum": 0.9, "nesterov": True}), ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 0.1}),
     ("RMSprop", {"centered": True, "momentum": 0.5}), ("Adagrad", {"lr_decay": 0.01})],
)
def test_a_zero_dimensional_parameter_updates_as_in_torch(name, kwargs):
    # A 0-d parameter (a learned scalar: a temperature, a scale) used to make Adam, AdamW, RMSprop
    # and Adagrad fail with NumPy's "return arrays must be of ArrayType": ufuncs on 0-d arrays
    # return scalars, which then served as out=.
    torch = pytest.importorskip("torch")
    p = gg.Tensor(np.array(1.5), requires_grad=True)
    tp = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.1, **kwargs)
    t_opt = getattr(torch.optim, name)([tp], lr=0.1, **kwargs)
    for _ in range(4):
        opt.zero_grad()
        t_opt.zero_grad()
        (p * p * p).backward()
        (tp * tp * tp).backward()
        opt.step()
        t_opt.step()
        assert p.data.shape == () and p.item() == pytest.approx(tp.item(), rel=1e-12, abs=1e-15)

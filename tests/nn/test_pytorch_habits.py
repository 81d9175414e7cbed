"""What a PyTorch CNN's code expects of nn: softmax's ``dim``, the activations CNNs use, channel dropout.

Activations are checked against PyTorch (float64) in value, gradient and second derivative,
with the kink points themselves among the inputs; channel dropout against the mask its
generator promises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.compile import capture
from graphgrad.errors import ConfigError, ShapeError

F = nn.functional
RNG = np.random.default_rng(2024)

KINKS = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
"""Where a piecewise activation changes piece (hardtanh's default and (-2, 3) bounds included)."""


def _inputs() -> np.ndarray:
    near = np.concatenate([KINKS + d for d in (-1e-7, 1e-7)] + [[-2.0, 2.0 - 1e-9]])
    far = np.array([-40.0, -25.0, -19.0, 19.0, 21.0, 40.0])  # softplus's identity past 20; sigmoid saturating
    return np.concatenate([KINKS, near, far, RNG.standard_normal(40) * 4.0])


# name: (our function, our module, PyTorch's function), each taking the input only
ACTIVATIONS: dict[str, tuple[Callable[..., Any], Callable[[], nn.Module], str]] = {
    "silu": (F.silu, nn.SiLU, "silu"),
    "mish": (F.mish, nn.Mish, "mish"),
    "relu6": (F.relu6, nn.ReLU6, "relu6"),
    "hardsigmoid": (F.hardsigmoid, nn.Hardsigmoid, "hardsigmoid"),
    "hardswish": (F.hardswish, nn.Hardswish, "hardswish"),
    "hardtanh": (F.hardtanh, nn.Hardtanh, "hardtanh"),
    "hardtanh(-2, 3)": (lambda x, **kw: F.hardtanh(x, -2.0, 3.0, **kw), lambda **kw: nn.Hardtanh(-2, 3, **kw),
                        "hardtanh(-2, 3)"),
}


GRAD_RTOL = {"hardsigmoid": 1e-7}
"""PyTorch's hardsigmoid gradient is 1/6 rounded to float32 even in float64 (0.16666667163...);
ours is 1/6 in the input's dtype (checked by hand in test_kink_gradients_by_hand)."""


def _torch_fn(torch: Any, name: str) -> Callable[[Any], Any]:
    if name == "hardtanh(-2, 3)":
        return lambda t: torch.nn.functional.hardtanh(t, -2.0, 3.0)
    return getattr(torch.nn.functional, name)


def _torch_grads(torch: Any, name: str, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, ...]:
    """PyTorch's value, gradient (against upstream ``u``) and elementwise second derivative."""
    xt = torch.tensor(x, requires_grad=True)
    y = _torch_fn(torch, name)(xt)
    (g,) = torch.autograd.grad(y, xt, torch.tensor(u), create_graph=True)
    (d1,) = torch.autograd.grad(y.sum(), xt, create_graph=True)
    try:
        (d2,) = torch.autograd.grad(d1.sum(), xt, allow_unused=True)
    except RuntimeError:  # "derivative for aten::hardsigmoid_backward is not implemented"
        d2 = None  # (piecewise linear: 0 everywhere)
    d2 = np.zeros_like(x) if d2 is None else d2.detach().numpy()
    return y.detach().numpy(), g.detach().numpy(), d2


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_pytorch_in_value_gradient_and_second_derivative(name: str) -> None:
    torch = pytest.importorskip("torch")
    fn, make, _ = ACTIVATIONS[name]
    x = _inputs()
    u = RNG.standard_normal(x.shape)
    want_y, want_g, want_d2 = _torch_grads(torch, name, x, u)
    for apply in (fn, make()):
        xs = gg.Tensor(x, requires_grad=True)
        y = apply(xs)
        y.backward(u)
        assert y.dtype == np.float64
        np.testing.assert_allclose(y.data, want_y, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(xs.grad.data, want_g, rtol=GRAD_RTOL.get(name, 1e-12), atol=1e-15)
    d1 = lambda t: gg.grad(lambda s: fn(s).sum())(t)  # noqa: E731
    np.testing.assert_allclose(gg.grad(lambda t: d1(t).sum())(x).data, want_d2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["relu6", "hardsigmoid", "hardswish", "hardtanh", "hardtanh(-2, 3)"])
def test_gradient_at_the_kinks_is_pytorchs(name: str) -> None:
    """Exactly at each kink (a wrong side is off by 1/6 or more; elsewhere only rounding differs)."""
    torch = pytest.importorskip("torch")
    fn = ACTIVATIONS[name][0]
    x = np.concatenate([KINKS, [-2.0]])
    xs = gg.Tensor(x, requires_grad=True)
    fn(xs).sum().backward()
    _, want, _ = _torch_grads(torch, name, x, np.ones_like(x))
    np.testing.assert_allclose(xs.grad.data, want, rtol=GRAD_RTOL.get(name, 1e-15), atol=0)


def test_kink_gradients_by_hand() -> None:
    """The documented rule: each kink belongs to the outer piece."""
    def grad(fn: Callable[..., Any], points: list[float]) -> list[float]:
        x = gg.Tensor(np.array(points), requires_grad=True)
        fn(x).sum().backward()
        return x.grad.data.tolist()

    assert grad(F.relu6, [0.0, 6.0, 3.0]) == [0.0, 0.0, 1.0]
    assert grad(F.hardtanh, [-1.0, 1.0, 0.5]) == [0.0, 0.0, 1.0]
    assert grad(F.hardsigmoid, [-3.0, 3.0, 0.0]) == [0.0, 0.0, 1.0 / 6.0]
    assert grad(F.hardswish, [-3.0, 3.0, 0.0, 1.5]) == [0.0, 1.0, 0.5, 1.0]  # x/3 + 1/2 inside
    assert grad(F.silu, [0.0]) == [0.5] and grad(F.mish, [0.0]) == pytest.approx([0.6])  # tanh(log 2) = 0.6


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_inplace_writes_into_the_input_and_the_gradient_flows_as_pytorchs(name: str) -> None:
    torch = pytest.importorskip("torch")
    fn, make, _ = ACTIVATIONS[name]
    x = _inputs()
    u = RNG.standard_normal(x.shape)
    _, want_g, _ = _torch_grads(torch, name, x, u)
    want_y = fn(gg.Tensor(x)).data
    for apply in (lambda t: fn(t, inplace=True), make(inplace=True)):
        leaf = gg.Tensor(x, requires_grad=True)
        h = leaf * 1.0
        out = apply(h)
        assert out is h
        np.testing.assert_array_equal(h.data, want_y)
        out.backward(u)
        np.testing.assert_allclose(leaf.grad.data, want_g, rtol=GRAD_RTOL.get(name, 1e-12), atol=1e-15)
    plain = np.array([-4.0, 0.5, 7.0], dtype=np.float32)
    t = gg.Tensor(plain.copy())
    assert fn(t, inplace=True) is t and t.dtype == np.float32
    np.testing.assert_array_equal(t.data, fn(gg.Tensor(plain)).data)


def test_activation_layers_repr_and_refusals() -> None:
    assert repr(nn.SiLU()) == "SiLU()" and repr(nn.Mish(inplace=True)) == "Mish(inplace=True)"
    assert repr(nn.ReLU6()) == "ReLU6()" and repr(nn.Hardswish()) == "Hardswish()"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Hardtanh(0, 6, True)) == "Hardtanh(min_val=0.0, max_val=6.0, inplace=True)"
    with pytest.raises(ConfigError, match=r"Hardsigmoid: inplace must be True or False, got 1"):
        nn.Hardsigmoid(1)
    with pytest.raises(ConfigError, match="Hardtanh: min_val must be less than max_val, got min_val=2, max_val=1"):
        nn.Hardtanh(2, 1)
    with pytest.raises(ConfigError, match="hardtanh: max_val must be a number, got '1'"):
        F.hardtanh(gg.Tensor([1.0]), 0, "1")


def _step(model: nn.Module, opt: optim.Optimizer) -> Callable[[gg.Tensor, gg.Tensor], gg.Tensor]:
    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


# ------------------------------------------------------------------ softmax's dim
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_takes_pytorchs_dim(name: str) -> None:
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 4, 5))
    u = RNG.standard_normal(x.shape)
    for dim in (1, -1, 0, 3):
        xs, xt = gg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours, theirs = getattr(F, name)(xs, dim=dim), getattr(torch.nn.functional, name)(xt, dim=dim)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
        ours.backward(u)
        theirs.backward(torch.tensor(u))
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(ours.data, getattr(F, name)(gg.Tensor(x), axis=dim).data)
    np.testing.assert_array_equal(getattr(F, name)(gg.Tensor(x)).data, getattr(F, name)(gg.Tensor(x), -1).data)


def test_softmax_refuses_axis_and_dim_together_and_dims_that_are_not_integers() -> None:
    x = gg.Tensor(np.ones((2, 3)))
    for call in (lambda: F.softmax(x, -1, dim=1), lambda: F.softmax(x, axis=0, dim=1)):
        with pytest.raises(ConfigError, match=r"softmax: got both axis=(-1|0) and dim=1; pass one"):
            call()
    with pytest.raises(ConfigError, match=r"log_softmax: got both axis=1 and dim=1"):
        F.log_softmax(x, 1, dim=1)
    for bad in (1.0, True, "1", np.float64(1)):
        with pytest.raises(ConfigError, match=re.escape(f"log_softmax: dim must be an integer, got {bad!r}")):
            F.log_softmax(x, dim=bad)
    with pytest.raises(ConfigError, match="Softmax: got both axis=0 and dim=1"):
        nn.Softmax(0, dim=1)
    with pytest.raises(ShapeError, match=r"softmax: axis 2 is out of range for shape \(2, 3\)"):
        F.softmax(x, dim=2)
    assert nn.LogSoftmax(dim=np.int64(0)).axis == 0 and F.softmax(x, dim=np.int32(0)).shape == (2, 3)


# ------------------------------------------------------------------ channel dropout
def _promised_mask(seed: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    """The documented draw: one float64 uniform per (sample, channel), kept where below 1 - p."""
    return (np.random.default_rng(seed).random(shape) < 1.0 - p) / (1.0 - p)


def test_dropout2d_zeroes_whole_channels_with_the_promised_mask_and_its_gradient_is_the_mask() -> None:
    x = RNG.standard_normal((6, 5, 3, 4))
    xs = gg.Tensor(x, requires_grad=True)
    out = F.dropout2d(xs, 0.4, rng=3)
    mask = _promised_mask(3, (6, 5, 1, 1), 0.4)
    np.testing.assert_array_equal(out.data, x * mask)
    u = RNG.standard_normal(x.shape)
    out.backward(u)
    np.testing.assert_array_equal(xs.grad.data, u * mask)
    layer = nn.Dropout2d(0.4, rng=3)
    np.testing.assert_array_equal(layer(gg.Tensor(x)).data, x * mask)
    one_d = RNG.standard_normal((6, 5, 7))
    np.testing.assert_array_equal(nn.Dropout1d(0.25, rng=4)(gg.Tensor(one_d)).data,
                                  one_d * _promised_mask(4, (6, 5, 1), 0.25))
    np.testing.assert_array_equal(F.dropout1d(gg.Tensor(one_d[0]), 0.25, rng=4).data,
                                  one_d[0] * _promised_mask(4, (5, 1), 0.25))


def test_dropout2d_statistics() -> None:
    p, n, c = 0.3, 400, 50
    layer = nn.Dropout2d(p, rng=np.random.default_rng(11))
    x = gg.Tensor(np.ones((n, c, 2, 3), dtype=np.float32))
    first, second = layer(x).data, layer(x).data
    assert first.dtype == np.float32
    for out in (first, second):
        per_channel = out.reshape(n, c, -1)
        assert np.all(per_channel == per_channel[..., :1])  # a channel is dropped or kept whole
        assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.7)}
        dropped = np.mean(per_channel[..., 0] == 0)
        assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / (n * c))  # 5 standard deviations
        assert abs(out.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / (n * c))  # inverted: the mean is kept
    assert not np.array_equal(first, second)  # a generator draws a fresh mask every call


def test_dropout2d_eval_p0_p1_and_inplace() -> None:
    x = gg.Tensor(RNG.standard_normal((2, 3, 4, 4)), requires_grad=True)
    layer = nn.Dropout2d(0.5, rng=0)
    layer.eval()
    assert layer(x) is x and F.dropout2d(x, 0.5, training=False) is x and F.dropout2d(x, 0.0) is x
    dropped = F.dropout2d(x, 1.0, rng=0)
    dropped.sum().backward()
    assert not dropped.data.any() and not x.grad.data.any()
    h = x * 1.0
    before = h.data.copy()
    out = nn.Dropout2d(0.5, inplace=True, rng=5)(h)
    assert out is h
    np.testing.assert_array_equal(h.data, before * _promised_mask(5, (2, 3, 1, 1), 0.5))
    x.grad = None
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.broadcast_to(_promised_mask(5, (2, 3, 1, 1), 0.5), x.shape))
    assert repr(nn.Dropout2d(0.2, True)) == "Dropout2d(p=0.2, inplace=True)"
    assert repr(nn.Dropout1d()) == "Dropout1d(p=0.5)"


def test_channel_dropout_refusals() -> None:
    with pytest.raises(ShapeError, match=r"dropout2d: input must be \(N, C, H, W\), got shape \(2, 3, 4\); "
                                         r"for \(N, C, L\) input use dropout1d"):
        nn.Dropout2d()(gg.Tensor(np.ones((2, 3, 4))))
    with pytest.raises(ShapeError, match=r"dropout1d: input must be \(N, C, L\) or \(C, L\), got shape \(2, 3, 4, 5\)"):
        F.dropout1d(gg.Tensor(np.ones((2, 3, 4, 5))))
    with pytest.raises(ConfigError, match=r"dropout2d: p is the probability of dropping a channel and must be in "
                                          r"\[0, 1\], got 1.5"):
        F.dropout2d(gg.Tensor(np.ones((1, 1, 1, 1))), 1.5)
    with pytest.raises(ConfigError, match=r"dropout2d: inplace must be True or False, got Generator.* goes in rng="):
        F.dropout2d(gg.Tensor(np.ones((1, 1, 1, 1))), 0.5, True, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"Dropout2d probability p must be in \[0, 1\], got -0.1"):
        nn.Dropout2d(-0.1)
    with pytest.raises(ConfigError, match=r"Dropout1d: inplace must be True or False, got 7 \(a seed or generator"):
        nn.Dropout1d(0.5, 7)


def test_a_captured_step_draws_a_fresh_channel_mask_at_every_replay() -> None:
    """As Dropout's: the mask is drawn through ``core.drawn``, so the plan draws it again from the
    layer's generator, in eager mode's order."""
    def run(captured: bool) -> tuple[list[bytes], Any, nn.Module]:
        model = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1, rng=1), nn.ReLU(), nn.Dropout2d(0.5, rng=np.random.default_rng(7)),
            nn.Flatten(), nn.Linear(4 * 4 * 4, 3, rng=2),
        )
        step = _step(model, optim.Adam(list(model.parameters()), lr=1e-2))
        fn = capture(step) if captured else step
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(20):
            x = gg.Tensor(rng.standard_normal((8, 2, 4, 4)).astype(np.float32))
            losses.append(fn(x, gg.Tensor(rng.integers(0, 3, 8))).data.tobytes())
        return losses + [p.data.tobytes() for p in model.parameters()], fn, model

    want, _, eager_model = run(False)
    got, fn, model = run(True)
    assert fn.refused is None and fn.plans
    draws = [ins for plan in fn.plans.values() for ins in plan.instructions if ins.what == "_dropout_mask"]
    assert len(draws) == 1
    assert got == want
    assert model[2].rng.bit_generator.state == eager_model[2].rng.bit_generator.state

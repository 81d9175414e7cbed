"""cross_entropy / nll_loss with ``weight`` and ``ignore_index``, and the nn modules' arguments
(issue 8, section 5), against PyTorch: values, gradients, and the weighted mean."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.check import gradcheck
from graphgrad.errors import ConfigError, DataError, ShapeError

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(7)
Z = RNG.standard_normal((6, 4))
T = np.array([0, 3, -100, 1, 3, 2])
W = np.array([0.5, 2.0, 1.0, 3.0])
Q = RNG.dirichlet(np.ones(4), size=6)


def _targets(ignore_index: int) -> np.ndarray:
    """T with its ignored row marked by ``ignore_index`` (a class index ignores every row of that class)."""
    return np.where(T == -100, ignore_index, T)


def _both(fn_gg, fn_torch, target, **kw):  # noqa: ANN001, ANN202
    z = gg.Tensor(Z.copy(), requires_grad=True)
    out = fn_gg(z, target, **kw)
    out.sum().backward()
    tz = torch.tensor(Z, requires_grad=True)
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    tt = torch.tensor(target)
    tout = fn_torch(tz, tt, **tkw)
    tout.sum().backward()
    return out, z.grad, tout, tz.grad


CASES = list(
    itertools.product(
        ["mean", "sum", "none"],
        [None, W],
        [-100, 3],
        [0.0, 0.2],
    )
)


@pytest.mark.parametrize(("reduction", "weight", "ignore_index", "smoothing"), CASES)
def test_cross_entropy_with_class_indices_matches_pytorch(reduction, weight, ignore_index, smoothing) -> None:  # noqa: ANN001
    kw = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": smoothing}
    if weight is not None:
        kw["weight"] = weight
    out, grad, tout, tgrad = _both(gg.cross_entropy, F.cross_entropy, _targets(ignore_index), **kw)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad.data, tgrad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("reduction", "weight", "ignore_index"), [c[:3] for c in CASES if c[3] == 0.0])
def test_nll_loss_matches_pytorch(reduction, weight, ignore_index) -> None:  # noqa: ANN001
    kw = {"reduction": reduction, "ignore_index": ignore_index}
    if weight is not None:
        kw["weight"] = weight
    out, grad, tout, tgrad = _both(
        lambda z, t, **k: gg.nll_loss(gg.log_softmax(z), t, **k),
        lambda z, t, **k: F.nll_loss(F.log_softmax(z, -1), t, **k),
        _targets(ignore_index),
        **kw,
    )
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad.data, tgrad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_probabilities_and_weight_matches_pytorch(reduction: str, smoothing: float) -> None:
    z = gg.Tensor(Z.copy(), requires_grad=True)
    q = gg.Tensor(Q.copy(), requires_grad=True)
    out = gg.cross_entropy(z, q, reduction=reduction, weight=W, label_smoothing=smoothing)
    out.sum().backward()
    tz, tq = torch.tensor(Z, requires_grad=True), torch.tensor(Q, requires_grad=True)
    tout = F.cross_entropy(tz, tq, reduction=reduction, weight=torch.tensor(W), label_smoothing=smoothing)
    tout.sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.data, tz.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(q.grad.data, tq.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_pytorch_layout_with_weight_and_ignored_positions() -> None:
    z = RNG.standard_normal((2, 4, 3))  # (N, C, d)
    t = np.array([[1, -100, 3], [0, 2, -100]])
    zz = gg.Tensor(z.copy(), requires_grad=True)
    out = gg.cross_entropy(zz, t, axis=1, weight=W)
    out.backward()
    tz = torch.tensor(z, requires_grad=True)
    tout = F.cross_entropy(tz, torch.tensor(t), weight=torch.tensor(W))
    tout.backward()
    assert out.item() == pytest.approx(tout.item(), rel=1e-12)
    np.testing.assert_allclose(zz.grad.data, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_every_row_ignored_is_nan_with_zero_gradient_as_pytorch() -> None:
    z = gg.Tensor(Z.copy(), requires_grad=True)
    out = gg.cross_entropy(z, np.full(6, -100))
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(z.grad.data, np.zeros_like(Z))
    lp = gg.Tensor(Z.copy(), requires_grad=True)
    out = gg.nll_loss(lp, np.full(6, 5), ignore_index=5)
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(lp.grad.data, np.zeros_like(Z))


def test_weighted_cross_entropy_second_derivative_against_finite_differences() -> None:
    from graphgrad.autograd.engine import backward

    def first(z: gg.Tensor) -> gg.Tensor:
        with gg.enable_grad():
            loss = gg.cross_entropy(z, T, weight=W, ignore_index=-100, label_smoothing=0.1)
            (g,) = backward([loss], [None], create_graph=True, inputs=[z])  # type: ignore[misc]
        return g

    gradcheck(first, [Z.copy()])


def test_modules_take_pytorchs_arguments() -> None:
    w = gg.Tensor(W.astype(np.float32))
    loss = gg.nn.CrossEntropyLoss(weight=w, ignore_index=3, reduction="sum", label_smoothing=0.1)
    value = loss(gg.Tensor(Z), _targets(3))
    expected = F.cross_entropy(torch.tensor(Z), torch.tensor(_targets(3)), weight=torch.tensor(W), ignore_index=3,
                               reduction="sum", label_smoothing=0.1)  # fmt: skip
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert "ignore_index=3" in repr(loss) and "weight" in repr(loss)
    nll = gg.nn.NLLLoss(W, ignore_index=0)  # weight first, as in PyTorch
    expected = F.nll_loss(torch.tensor(Z), torch.tensor(_targets(0)), weight=torch.tensor(W), ignore_index=0)
    assert nll(gg.Tensor(Z), _targets(0)).item() == pytest.approx(expected.item(), rel=1e-12)
    assert gg.nn.CrossEntropyLoss("sum").reduction == "sum"  # the old positional reduction still works
    assert set(loss.state_dict()) == {"weight"}  # a buffer, saved with the model as in PyTorch


def test_bad_weights_and_targets_are_named() -> None:
    with pytest.raises(ShapeError, match=r"one value per class, shape \(4,\)"):
        gg.cross_entropy(Z, T, weight=np.ones(3))
    with pytest.raises(DataError, match="target class 7 is out of range"):
        gg.cross_entropy(Z, np.array([0, 7, 1, 1, 1, 1]))
    with pytest.raises(DataError, match="out of range"):
        gg.cross_entropy(Z, T, ignore_index=5)  # -100 is then an ordinary (bad) class index
    with pytest.raises(ConfigError, match="ignore_index"):
        gg.cross_entropy(Z, Q, ignore_index=1)
    with pytest.raises(ConfigError, match="ignore_index"):
        gg.nn.CrossEntropyLoss(ignore_index=1.5)
    with pytest.raises(ConfigError, match="gets no gradient"):
        gg.cross_entropy(Z, T, weight=gg.Tensor(W, requires_grad=True))

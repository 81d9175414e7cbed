"""Loss modules against direct NumPy formulas, for each reduction, plus gradients of the key ones."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.errors import ConfigError

RNG = np.random.default_rng(11)
PRED = RNG.standard_normal((6, 3))
TARGET = RNG.standard_normal((6, 3))
LOGITS = RNG.standard_normal((6, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 0])
PROBS = RNG.dirichlet(np.ones(4), size=6)
P01 = 1 / (1 + np.exp(-PRED))
Y01 = (RNG.random((6, 3)) > 0.5).astype(np.float64)


def reduce(v, reduction):
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


CASES = [
    ("square", lambda r: nn.SquareLoss(r), PRED, TARGET, 0.5 * (PRED - TARGET) ** 2),
    ("mse", lambda r: nn.MSELoss(r), PRED, TARGET, (PRED - TARGET) ** 2),
    ("l1", lambda r: nn.L1Loss(r), PRED, TARGET, np.abs(PRED - TARGET)),
    ("bce", lambda r: nn.BCELoss(r), P01, Y01, -(Y01 * np.log(P01) + (1 - Y01) * np.log(1 - P01))),
    ("bce-logits", lambda r: nn.BCEWithLogitsLoss(r), PRED, Y01,
     -(Y01 * np.log(P01) + (1 - Y01) * np.log(1 - P01))),
    ("bce-logits-posweight", lambda r: nn.BCEWithLogitsLoss(r, pos_weight=np.array([1.0, 2.0, 0.5])), PRED, Y01,
     -(np.array([1.0, 2.0, 0.5]) * Y01 * np.log(P01) + (1 - Y01) * np.log(1 - P01))),
    ("ce-index", lambda r: nn.CrossEntropyLoss(r), LOGITS, LABELS, -log_softmax(LOGITS)[np.arange(6), LABELS]),
    ("ce-probs", lambda r: nn.CrossEntropyLoss(r), LOGITS, PROBS, -(PROBS * log_softmax(LOGITS)).sum(axis=1)),
    ("ce-smooth", lambda r: nn.CrossEntropyLoss(r, label_smoothing=0.1), LOGITS, LABELS,
     -((0.9 * np.eye(4)[LABELS] + 0.1 / 4) * log_softmax(LOGITS)).sum(axis=1)),
    ("nll", lambda r: nn.NLLLoss(r), log_softmax(LOGITS), LABELS, -log_softmax(LOGITS)[np.arange(6), LABELS]),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,make,inp,target,terms", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_formula(name, make, inp, target, terms, reduction):
    got = make(reduction)(gg.Tensor(inp), gg.Tensor(target) if target.dtype.kind == "f" else target)
    want = reduce(terms, reduction)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)


def test_square_loss_gradient_is_residual():
    # the seeds' 1/2 (y - y*)^2: dL/dy = y - y*
    y = gg.Tensor(PRED.copy(), requires_grad=True)
    nn.SquareLoss(reduction="sum")(y, gg.Tensor(TARGET)).backward()
    np.testing.assert_allclose(y.grad.data, PRED - TARGET, rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    z = gg.Tensor(LOGITS.copy(), requires_grad=True)
    nn.CrossEntropyLoss()(z, LABELS).backward()
    want = (np.exp(log_softmax(LOGITS)) - np.eye(4)[LABELS]) / 6
    np.testing.assert_allclose(z.grad.data, want, rtol=1e-10, atol=1e-14)


def test_logsoftmax_then_nll_equals_cross_entropy():
    z = gg.Tensor(LOGITS)
    a = nn.NLLLoss()(nn.LogSoftmax()(z), LABELS)
    b = nn.CrossEntropyLoss()(z, LABELS)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_cross_entropy_class_axis_1():
    logits = RNG.standard_normal((2, 4, 5))  # PyTorch's (N, C, d) layout
    labels = RNG.integers(0, 4, size=(2, 5))
    got = nn.CrossEntropyLoss(reduction="none", axis=1)(gg.Tensor(logits), labels)
    lp = np.moveaxis(logits, 1, -1)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    np.testing.assert_allclose(got.data, -np.take_along_axis(lp, labels[..., None], -1)[..., 0], rtol=1e-10)


@pytest.mark.parametrize("cls", [nn.SquareLoss, nn.MSELoss, nn.L1Loss, nn.BCELoss, nn.BCEWithLogitsLoss,
                                 nn.CrossEntropyLoss, nn.NLLLoss])
def test_bad_reduction_lists_choices(cls):
    with pytest.raises(ConfigError, match=f"{cls.__name__}: reduction must be one of mean, sum, none, got 'avg'"):
        cls(reduction="avg")


def test_bad_label_smoothing_and_reprs():
    with pytest.raises(ConfigError, match="label_smoothing must be in \\[0, 1\\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == "CrossEntropyLoss(reduction='mean', label_smoothing=0.1)"

"""nn primitives by hand: softmax, linear, the losses (direct formulas, logits of 1e4), dropout."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.errors import ConfigError, DataError, DTypeError, ShapeError
from graphgrad.nn import functional as F

RNG = np.random.default_rng(0)


def np_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def onehot(t: np.ndarray, ncls: int, dtype=np.float64) -> np.ndarray:
    return np.eye(ncls, dtype=dtype)[t]


def grads(f, *arrays: np.ndarray) -> tuple[gg.Tensor, list[np.ndarray]]:
    ts = [gg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*ts)
    out.backward(np.ones(out.shape, dtype=out.dtype))
    return out, [t.grad.data for t in ts]


def check_second_order(f, *arrays: np.ndarray, tol: float = 1e-6) -> None:
    """Hessian-vector product by double backward against differences of first gradients."""

    def first(*xs: np.ndarray) -> tuple[list[gg.Tensor], list[gg.Tensor]]:
        ts = [gg.Tensor(x.copy(), requires_grad=True) for x in xs]
        return ts, backward([f(*ts)], [None], retain_graph=True, create_graph=True, inputs=ts)

    vs = [RNG.standard_normal(a.shape) for a in arrays]
    ts, gs = first(*arrays)
    pairing = sum((g * gg.Tensor(v)).sum() for g, v in zip(gs, vs))
    hv = backward([pairing], [None], inputs=ts)
    eps = 1e-6
    _, plus = first(*[a + eps * v for a, v in zip(arrays, vs)])
    _, minus = first(*[a - eps * v for a, v in zip(arrays, vs)])
    for h, p, m in zip(hv, plus, minus):
        np.testing.assert_allclose(h.data, (p.data - m.data) / (2 * eps), atol=tol, rtol=1e-5)


# ------------------------------------------------------------------ softmax
def test_softmax_rows_sum_to_one_even_for_huge_logits() -> None:
    z = np.concatenate([RNG.standard_normal((4, 5)), [[1e4, -1e4, 0.0, 1e4, 3.0]]]).astype(np.float32)
    p = gg.softmax(z)
    assert p.dtype == np.float32 and np.all(np.isfinite(p.data))
    np.testing.assert_allclose(p.data.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(p.data[-1], [0.5, 0.0, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(gg.softmax(z[:4], axis=0).data, np_softmax(z[:4], axis=0), rtol=1e-6)


def test_log_softmax_is_exact_for_huge_logits() -> None:
    out = gg.log_softmax(np.array([1e4, 0.0, -1e4], dtype=np.float32))
    np.testing.assert_array_equal(out.data, [0.0, -1e4, -2e4])
    z = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(gg.log_softmax(z).data, np.log(np_softmax(z)))


def test_softmax_gradient_is_p_times_g_minus_p_dot_g() -> None:
    z, g = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    t = gg.Tensor(z, requires_grad=True)
    gg.softmax(t).backward(g)
    p = np_softmax(z)
    np.testing.assert_allclose(t.grad.data, p * (g - (g * p).sum(axis=-1, keepdims=True)))


def test_softmax_and_log_softmax_second_order() -> None:
    check_second_order(lambda z: (gg.softmax(z) ** 2.0).sum() + (gg.log_softmax(z, axis=0) ** 3.0).sum(),
                       RNG.standard_normal((3, 4)))  # fmt: skip


# ------------------------------------------------------------------ cross-entropy
def test_cross_entropy_against_the_direct_formula() -> None:
    z, t = RNG.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 3])
    per_row = -np.log(np_softmax(z)[np.arange(6), t])
    np.testing.assert_allclose(gg.cross_entropy(z, t, reduction="none").data, per_row, rtol=1e-12)
    np.testing.assert_allclose(gg.cross_entropy(z, t).item(), per_row.mean(), rtol=1e-12)
    np.testing.assert_allclose(gg.cross_entropy(z, t, reduction="sum").item(), per_row.sum(), rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n() -> None:
    z, t = RNG.standard_normal((5, 3)), np.array([2, 0, 1, 1, 0])
    _, (gz,) = grads(lambda x: gg.cross_entropy(x, t), z)
    np.testing.assert_allclose(gz, (np_softmax(z) - onehot(t, 3)) / 5, rtol=1e-13, atol=1e-16)
    _, (gz,) = grads(lambda x: gg.cross_entropy(x, t, reduction="sum"), z)
    np.testing.assert_allclose(gz, np_softmax(z) - onehot(t, 3), rtol=1e-13, atol=1e-16)


def test_cross_entropy_is_exact_for_logits_of_1e4() -> None:
    z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 5.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    t = np.array([0, 2, 1])
    loss, (gz,) = grads(lambda x: gg.cross_entropy(x, t, reduction="none"), z)
    assert loss.dtype == np.float32 and gz.dtype == np.float32
    np.testing.assert_allclose(loss.data, [0.0, 1e4 - 5.0, np.log(3.0)], rtol=1e-6)
    expected = (np.array([[1.0, 0, 0], [0, 1, 0], [1 / 3, 1 / 3, 1 / 3]]) - onehot(t, 3)).astype(np.float32)
    np.testing.assert_allclose(gz, expected, atol=1e-7)
    mean, (gm,) = grads(lambda x: gg.cross_entropy(x, t), z)
    assert np.isfinite(mean.item()) and np.all(np.isfinite(gm))
    np.testing.assert_allclose(gm, expected / 3, atol=1e-7)


def test_label_smoothing_formula() -> None:
    z, t, s = RNG.standard_normal((4, 5)), np.array([1, 4, 0, 0]), 0.2
    logp = np.log(np_softmax(z))
    q = (1 - s) * onehot(t, 5) + s / 5
    expected = -(q * logp).sum(axis=-1)  # = (1 - s) nll + s * mean over classes of -log p
    np.testing.assert_allclose(expected, (1 - s) * -logp[np.arange(4), t] + s * -logp.mean(axis=-1))
    loss, (gz,) = grads(lambda x: gg.cross_entropy(x, t, reduction="none", label_smoothing=s), z)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    np.testing.assert_allclose(gz, np_softmax(z) - q, rtol=1e-12, atol=1e-15)


def test_probability_targets_match_class_indices_and_get_a_gradient() -> None:
    z, t = RNG.standard_normal((4, 3)), np.array([2, 0, 1, 2])
    loss_int, (g_int,) = grads(lambda x: gg.cross_entropy(x, t, label_smoothing=0.1), z)
    loss_prob, (g_prob, g_target) = grads(lambda x, q: gg.cross_entropy(x, q, label_smoothing=0.1), z, onehot(t, 3))
    np.testing.assert_allclose(loss_prob.item(), loss_int.item(), rtol=1e-12)
    np.testing.assert_allclose(g_prob, g_int, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(g_target, -0.9 * np.log(np_softmax(z)) / 4, rtol=1e-12)  # d loss / d q


def test_soft_targets_formula_and_gradient() -> None:
    z = RNG.standard_normal((3, 4))
    q = RNG.random((3, 4))
    q /= q.sum(axis=-1, keepdims=True)
    loss, (gz, gq) = grads(lambda x, y: gg.cross_entropy(x, y, reduction="sum"), z, q)
    np.testing.assert_allclose(loss.item(), -(q * np.log(np_softmax(z))).sum(), rtol=1e-12)
    np.testing.assert_allclose(gz, np_softmax(z) - q, atol=1e-15)
    np.testing.assert_allclose(gq, -np.log(np_softmax(z)), rtol=1e-12)


def test_class_axis_1_for_pytorch_layout() -> None:
    z, t = RNG.standard_normal((2, 3, 4)), RNG.integers(0, 3, (2, 4))
    moved = np.moveaxis(z, 1, -1)
    np.testing.assert_allclose(
        gg.cross_entropy(z, t, axis=1, reduction="none").data, gg.cross_entropy(moved, t, reduction="none").data
    )
    _, (gz,) = grads(lambda x: gg.cross_entropy(x, t, axis=1), z)
    np.testing.assert_allclose(gz, np.moveaxis((np_softmax(moved) - onehot(t, 3)) / 8, -1, 1), atol=1e-15)


def test_cross_entropy_is_one_node_and_a_second_backward_recomputes() -> None:
    z = gg.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    loss = gg.cross_entropy(z, np.array([0, 1, 2, 0]))
    assert loss.op == "cross_entropy" and loss._node.inputs[0] is z
    loss.backward(retain_graph=True)
    first = z.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(z.grad.data, 2 * first, rtol=1e-14)


def test_cross_entropy_second_order() -> None:
    z, t = RNG.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    check_second_order(lambda x: gg.cross_entropy(x, t, label_smoothing=0.1), z)
    check_second_order(lambda x: (gg.cross_entropy(x, t, reduction="none") ** 2.0).sum(), z)
    check_second_order(lambda x, q: gg.cross_entropy(x, q, reduction="sum", label_smoothing=0.2), z, RNG.random((5, 4)))


def test_cross_entropy_errors() -> None:
    z = np.zeros((4, 3))
    with pytest.raises(DataError, match="target class 3 is out of range for 3 classes"):
        gg.cross_entropy(z, np.array([0, 1, 2, 3]))
    with pytest.raises(ShapeError) as err:
        gg.cross_entropy(z, np.array([0, 1]))
    assert "(2,)" in str(err.value) and "(4, 3)" in str(err.value)
    with pytest.raises(ShapeError, match="class indices must be integers"):
        gg.cross_entropy(z, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ConfigError, match="reduction must be one of mean, sum, none"):
        gg.cross_entropy(z, np.array([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(ConfigError, match="label_smoothing"):
        gg.cross_entropy(z, np.array([0, 1, 2, 1]), label_smoothing=1.5)
    with pytest.raises(DTypeError):
        gg.cross_entropy(np.zeros((2, 2), dtype=np.int64), np.array([0, 1]))


def test_nll_loss_of_log_softmax_is_cross_entropy() -> None:
    z, t = RNG.standard_normal((5, 4)), np.array([3, 3, 0, 1, 2])
    a, (ga,) = grads(lambda x: gg.nll_loss(gg.log_softmax(x), t), z)
    b, (gb,) = grads(lambda x: gg.cross_entropy(x, t), z)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    np.testing.assert_allclose(ga, gb, atol=1e-15)
    lp = RNG.standard_normal((5, 4))
    _, (g,) = grads(lambda x: gg.nll_loss(x, t, reduction="sum"), lp)
    np.testing.assert_array_equal(g, -onehot(t, 4))
    with pytest.raises(DTypeError, match="integer class indices"):
        gg.nll_loss(lp, t.astype(float))


# ------------------------------------------------------------------ linear
def test_linear_value_and_hand_derived_gradients() -> None:
    x, w, b = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal(4)
    g = RNG.standard_normal((2, 5, 4))
    xt, wt, bt = (gg.Tensor(a, requires_grad=True) for a in (x, w, b))
    out = gg.linear(xt, wt, bt)
    assert out.op == "linear"
    np.testing.assert_allclose(out.data, x @ w.T + b)
    out.backward(g)
    np.testing.assert_allclose(xt.grad.data, g @ w)
    np.testing.assert_allclose(wt.grad.data, g.reshape(-1, 4).T @ x.reshape(-1, 3))
    np.testing.assert_allclose(bt.grad.data, g.sum(axis=(0, 1)))


def test_linear_float32_without_bias_and_1d_input() -> None:
    x, w = RNG.standard_normal(3).astype(np.float32), RNG.standard_normal((2, 3)).astype(np.float32)
    out, (gx, gw) = grads(gg.linear, x, w)
    assert out.dtype == gx.dtype == gw.dtype == np.float32
    np.testing.assert_allclose(out.data, w @ x, rtol=1e-6)
    np.testing.assert_allclose(gw, np.outer(np.ones(2), x))
    np.testing.assert_allclose(gx, w.sum(axis=0), rtol=1e-6)


def test_linear_input_gradient_comes_in_the_inputs_memory_layout() -> None:
    """Rows stored features-outermost (a flattened (C, H, W, N) image batch) get their gradient laid
    out alike, with the values of g @ w; ordinary rows get an ordinary (row-major) gradient."""
    w, g = RNG.standard_normal((3, 5)), RNG.standard_normal((4, 3))
    for x in (RNG.standard_normal((5, 4)).T, RNG.standard_normal((4, 5))):
        xt = gg.Tensor(x, requires_grad=True)
        F.linear(xt, gg.Tensor(w)).backward(g)
        np.testing.assert_allclose(xt.grad.data, g @ w, rtol=1e-12)
    x = RNG.standard_normal((5, 4)).T
    got = gg.ops.nn._linear_array_x(g, None, x, w)
    assert got.T.flags.c_contiguous and not got.flags.c_contiguous
    assert gg.ops.nn._linear_array_x(g, None, np.ascontiguousarray(x), w).flags.c_contiguous


def test_linear_second_order() -> None:
    x, w, b = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((5, 4)), RNG.standard_normal(5)
    check_second_order(lambda x, w, b: (gg.linear(x, w, b) ** 2.0).sum(), x, w, b)
    check_second_order(lambda x, w: (gg.linear(x, w) ** 3.0).sum(), RNG.standard_normal(4), w)


def test_linear_errors_name_the_layout() -> None:
    with pytest.raises(ShapeError, match=r"input of shape \(2, 3\) does not fit weight of shape \(3, 4\)"):
        gg.linear(np.ones((2, 3)), np.ones((3, 4)))
    with pytest.raises(ShapeError, match="bias of shape"):
        gg.linear(np.ones((2, 3)), np.ones((4, 3)), np.ones(3))


# ------------------------------------------------------------------ binary and regression losses
def test_bce_with_logits_is_exact_for_huge_logits() -> None:
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    loss, (gx, gy) = grads(lambda a, b: gg.binary_cross_entropy_with_logits(a, b, reduction="none"), x, y)
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e4, 1e4, np.log(2.0)], rtol=1e-6)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 1.0, -1.0, -0.5])  # sigmoid(x) - y
    np.testing.assert_array_equal(gy, -x)


def test_bce_with_logits_formula_and_pos_weight() -> None:
    x, y, w = RNG.standard_normal((4, 3)), RNG.random((4, 3)), np.array([0.5, 1.0, 3.0])
    s = 1 / (1 + np.exp(-x))
    plain = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    np.testing.assert_allclose(gg.binary_cross_entropy_with_logits(x, y, reduction="none").data, plain)
    weighted = -(w * y * np.log(s) + (1 - y) * np.log(1 - s))
    out, (gx,) = grads(lambda a: gg.binary_cross_entropy_with_logits(a, y, pos_weight=w), x)
    np.testing.assert_allclose(out.item(), weighted.mean())
    np.testing.assert_allclose(gx, (-(w * y) * (1 - s) + (1 - y) * s) / 12)


def test_binary_cross_entropy_clamps_log_at_minus_100() -> None:
    p = np.array([0.0, 1.0, 0.25, 1.0])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    loss, (gp,) = grads(lambda a: gg.binary_cross_entropy(a, y, reduction="none"), p)
    np.testing.assert_allclose(loss.data, [100.0, 100.0, np.log(4.0), 0.0])
    assert np.all(np.isfinite(gp))
    np.testing.assert_allclose(gp[2], (0.25 - 1.0) / (0.25 * 0.75))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        gg.binary_cross_entropy(np.array([1.5]), np.array([1.0]))


def test_mse_and_l1_values_gradients_and_shape_check() -> None:
    a, b = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])
    loss, (ga, gb) = grads(gg.mse_loss, a, b)
    np.testing.assert_allclose(loss.item(), (1 + 0 + 9) / 3)
    np.testing.assert_allclose(ga, 2 * (a - b) / 3)
    np.testing.assert_allclose(gb, -2 * (a - b) / 3)
    loss, (ga, _) = grads(lambda x, y: gg.l1_loss(x, y, reduction="sum"), a, b)
    assert loss.item() == 4.0
    np.testing.assert_array_equal(ga, [-1.0, 0.0, 1.0])  # sign(0) = 0 at the tie
    with pytest.raises(ShapeError, match=r"\(3, 1\).*\(3,\)"):
        gg.mse_loss(np.ones((3, 1)), np.ones(3))


# ------------------------------------------------------------------ dropout
def test_dropout_mask_comes_from_the_generator() -> None:
    x = np.ones((50, 40), dtype=np.float32)
    out = gg.dropout(x, 0.25, rng=np.random.default_rng(7))
    keep = np.random.default_rng(7).random(x.shape, dtype=np.float32) < 0.75
    np.testing.assert_array_equal(out.data, np.where(keep, np.float32(1 / 0.75), 0.0))
    assert out.dtype == np.float32


def test_dropout_statistics_inverted_keeps_the_mean() -> None:
    rng = np.random.default_rng(0)
    x = np.ones(200_000)
    out = gg.dropout(x, 0.3, rng=rng).data
    kept = np.mean(out != 0)
    assert abs(kept - 0.7) < 4 * np.sqrt(0.7 * 0.3 / x.size)
    assert abs(out.mean() - 1.0) < 4 * np.sqrt(0.3 / 0.7 / x.size)
    assert not np.array_equal(out, gg.dropout(x, 0.3, rng=rng).data)  # a Generator gives fresh masks
    np.testing.assert_array_equal(gg.dropout(x, 0.3, rng=5).data, gg.dropout(x, 0.3, rng=5).data)  # a seed repeats


def test_dropout_scaling_modes_train_and_eval() -> None:
    x = gg.Tensor(np.arange(1.0, 7.0), requires_grad=True)
    assert gg.dropout(x, 0.5, training=False) is x  # inverted: identity at test time
    np.testing.assert_allclose(gg.dropout(x, 0.2, training=False, inverted=False).data, x.data * 0.8)  # seed 004
    out = gg.dropout(x, 0.5, rng=3, inverted=False)
    keep = np.random.default_rng(3).random(6) < 0.5
    np.testing.assert_array_equal(out.data, np.where(keep, x.data, 0.0))  # x * mask, no rescaling
    out.backward(np.ones(6))
    np.testing.assert_array_equal(x.grad.data, keep.astype(float))
    x.grad = None
    gg.dropout(x, 0.5, rng=3).backward(np.ones(6))
    np.testing.assert_array_equal(x.grad.data, keep * 2.0)  # the gradient is mask / (1 - p)


def test_dropout_edge_probabilities() -> None:
    x = gg.Tensor(np.ones(5), requires_grad=True)
    out = gg.dropout(x, 1.0, rng=0)
    np.testing.assert_array_equal(out.data, np.zeros(5))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(5))
    assert gg.dropout(x, 0.0, rng=0) is x
    for p in (-0.1, 1.5):
        with pytest.raises(ConfigError, match=r"dropout: p .* must be in \[0, 1\]"):
            gg.dropout(x, p)


def test_functional_exports_the_nn_ops_and_activations() -> None:
    assert F.cross_entropy is gg.cross_entropy and F.linear is gg.linear and F.dropout is gg.dropout
    for name in ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "softmax", "mse_loss"):
        assert getattr(F, name) is getattr(gg, name), name


def test_cross_entropy_points_a_pytorch_layout_to_axis_1():
    # PyTorch puts the classes of (N, C, H, W) logits on axis 1; graphgrad's default is the last axis.
    logits = gg.Tensor(np.zeros((2, 3, 4, 5)))
    target = np.zeros((2, 4, 5), dtype=np.int64)
    with pytest.raises(ShapeError, match=r"does not fit logits of shape \(2, 3, 4, 5\).*pass axis=1"):
        F.cross_entropy(logits, target)
    assert F.cross_entropy(logits, target, axis=1).item() == pytest.approx(np.log(3.0))

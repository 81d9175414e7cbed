"""Tensor.register_post_accumulate_grad_hook: PyTorch's name and semantics (for data parallelism)."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError


def _leaf(*values: float) -> gg.Tensor:
    return gg.Tensor(np.array(values), requires_grad=True)


def test_hook_runs_as_soon_as_the_leaf_gradient_is_complete_while_backward_goes_on() -> None:
    w1, w2 = _leaf(1.0, 2.0), _leaf(3.0)
    log: list[tuple[str, np.ndarray, bool]] = []
    w1.register_post_accumulate_grad_hook(lambda t: log.append(("w1", t.grad.data.copy(), w2.grad is not None)))
    w2.register_post_accumulate_grad_hook(lambda t: log.append(("w2", t.grad.data.copy(), w1.grad is not None)))
    h = gg.tanh(w1 * 2.0).sum()
    (h * w2 + w1.sum() * w2).backward()  # both leaves get gradients from two consumers
    assert sorted(name for name, _, _ in log) == ["w1", "w2"]
    assert [other_done for _, _, other_done in log] == [False, True]  # the first ran before backward ended
    final = {"w1": w1.grad.data, "w2": w2.grad.data}
    for name, grad, _ in log:
        np.testing.assert_array_equal(grad, final[name])  # complete (both consumers summed) when called


def test_several_hooks_run_in_order_and_removal_works() -> None:
    w = _leaf(1.0)
    calls: list[int] = []
    first = w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    w.register_post_accumulate_grad_hook(lambda t: calls.append(2))
    (w * 3.0).backward()
    assert calls == [1, 2]
    first.remove()
    first.remove()  # twice is harmless
    (w * 3.0).backward()
    assert calls == [1, 2, 2]
    assert w.grad.item() == 6.0  # accumulated across both calls


def test_no_call_without_a_gradient_or_when_gradients_are_returned() -> None:
    used, unused = _leaf(1.0), _leaf(2.0)
    calls: list[str] = []
    used.register_post_accumulate_grad_hook(lambda t: calls.append("used"))
    unused.register_post_accumulate_grad_hook(lambda t: calls.append("unused"))
    _ = unused * 1.0
    (used * 2.0).backward()
    assert calls == ["used"]
    gg.grad(lambda u: (u * used).sum())(np.ones(1))  # returns gradients, accumulates nothing
    gg.autograd.engine.backward([used * 2.0], [None], inputs=[used])
    assert calls == ["used"]


def test_hook_may_read_and_replace_the_gradient() -> None:
    w = _leaf(1.0, 2.0)

    def halve(t: gg.Tensor) -> None:
        t.grad *= 0.5  # the gradient is the hook's to change (a writable array of its own)

    w.register_post_accumulate_grad_hook(halve)
    (w * 4.0).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0])


def test_hook_with_create_graph_sees_a_differentiable_gradient() -> None:
    w = _leaf(3.0)
    seen: list[bool] = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.requires_grad and gg.is_grad_enabled()))
    (w**3).sum().backward(create_graph=True)
    assert seen == [True]
    assert w.grad.item() == 27.0


def test_hooks_only_on_leaves_that_require_a_gradient() -> None:
    with pytest.raises(BackwardError, match="does not require a gradient"):
        gg.Tensor(np.ones(1)).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(BackwardError, match="leaf"):
        (_leaf(1.0) * 2.0).register_post_accumulate_grad_hook(lambda t: None)

"""Backward: fan-out, retained and freed graphs, accumulation, pruning, grad modes, error messages."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError, DTypeError, GraphFreedError
from tests.autograd.helpers import private_op, scalar


def test_fan_out_x_times_x() -> None:
    x = scalar(3.0)
    (x * x).backward()
    assert x.grad.item() == 6.0  # both edges of x into multiply: x + x


def test_node_feeding_three_consumers_sums_their_gradients() -> None:
    """a = exp(x) feeds three ops: L = a + 2a + a*a, so dL/da = 3 + 2a and dL/dx = (3 + 2a) a."""
    x = scalar(0.5)
    a = gg.exp(x).retain_grad()
    loss = a + 2.0 * a + a * a
    loss.backward()
    av = np.exp(0.5)
    assert a.grad.item() == pytest.approx(3 + 2 * av, rel=1e-14)
    assert x.grad.item() == pytest.approx((3 + 2 * av) * av, rel=1e-14)


def test_retain_graph_allows_a_second_backward() -> None:
    x = scalar(2.0)
    y = x**3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 24.0  # 12 twice, accumulated


def test_second_backward_through_freed_graph_names_the_op() -> None:
    x = scalar(2.0)
    y = gg.exp(x * x)
    y.backward()
    with pytest.raises(GraphFreedError, match="exp") as info:
        y.backward()
    assert "retain_graph" in str(info.value)
    z = y * 2.0  # a new op on top of the freed graph
    with pytest.raises(GraphFreedError, match="exp"):
        z.backward()


def test_leaf_grads_accumulate_across_backward_calls_until_zeroed() -> None:
    x = scalar(1.5)
    (x * 4.0).backward()
    (x * x).backward()
    assert x.grad.item() == 4.0 + 3.0
    x.zero_grad()
    assert x.grad is None
    (x * 4.0).backward()
    assert x.grad.item() == 4.0


def test_backward_of_non_scalar_without_grad_says_so() -> None:
    x = gg.Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(BackwardError, match=r"non-scalar.*\(3,\).*grad"):
        y.backward()
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


def test_backward_of_tensor_without_graph_is_an_error() -> None:
    with pytest.raises(BackwardError, match="does not require a gradient"):
        gg.Tensor(np.float64(1.0)).backward()


def test_requires_grad_on_integer_tensor_is_refused() -> None:
    with pytest.raises(DTypeError, match=r"floating-point.*int64"):
        gg.Tensor(np.array([1, 2, 3]), requires_grad=True)
    t = gg.Tensor(np.array([1, 2, 3]))
    with pytest.raises(DTypeError, match="requires_grad"):
        t.requires_grad = True
    assert gg.Tensor([1, 2], requires_grad=True).dtype == np.float32  # Python ints become float32


def test_no_grad_and_enable_grad_as_context_managers() -> None:
    x = scalar(1.0)
    with gg.no_grad():
        y = x * 2.0
        with gg.enable_grad():
            z = x * 3.0
        w = x * 4.0
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and z.op == "multiply"
    assert not w.requires_grad
    assert gg.is_grad_enabled()
    assert (x * 5.0).requires_grad


def test_no_grad_and_enable_grad_as_decorators() -> None:
    x = scalar(1.0)

    @gg.no_grad()
    def evaluate(t: gg.Tensor) -> gg.Tensor:
        return t * 2.0

    @gg.enable_grad()
    def record(t: gg.Tensor) -> gg.Tensor:
        return t * 2.0

    assert not evaluate(x).requires_grad
    with gg.no_grad():
        assert record(x).requires_grad
        assert not gg.is_grad_enabled()  # restored after the decorated call
    assert gg.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        with gg.no_grad():
            raise ZeroDivisionError
    assert gg.is_grad_enabled()


def _spy_multiply(calls: list[int]):
    """multiply, recording which input's rule backward runs."""

    def rule(k: int):
        def vjp(g, out, a, b):
            calls.append(k)
            return g * (b if k == 0 else a)

        return vjp

    return private_op(f"test_spy_multiply_{id(calls)}", np.multiply, (rule(0), rule(1)))


def test_pruning_branch_without_gradient_is_not_visited() -> None:
    calls: list[int] = []
    spy = _spy_multiply(calls)
    w = scalar(2.0)
    constant = gg.Tensor(np.float64(5.0))
    data_branch = constant * 3.0  # no input requires a gradient: not recorded at all
    assert data_branch.is_leaf and not data_branch.requires_grad
    out = spy(data_branch, w)
    out.backward()
    assert calls == [1]  # only the rule for w ran; the data input's rule was skipped
    assert w.grad.item() == 15.0
    assert data_branch.grad is None


def test_pruning_skips_detached_and_no_grad_branches() -> None:
    calls: list[int] = []
    spy = _spy_multiply(calls)
    x = scalar(3.0)
    with gg.no_grad():
        frozen = spy(x, x)  # made under no_grad: no node
    detached = spy(x, x).detach()
    calls.clear()
    loss = x * frozen + x * detached
    loss.backward()
    assert calls == []
    assert x.grad.item() == 18.0  # frozen and detached are constants 9


def test_retain_grad_keeps_non_leaf_gradient() -> None:
    x = scalar(2.0)
    h = x * 3.0
    kept = (x * 5.0).retain_grad()
    loss = h * kept
    loss.backward()
    assert h.grad is None  # non-leaf gradients are dropped by default
    assert kept.grad.item() == 6.0
    assert x.grad.item() == 2 * 15.0 * 2.0


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = scalar(3.0)
    y = x.detach()
    assert y.is_leaf and not y.requires_grad
    assert np.shares_memory(y.data, x.data)
    (x * y).backward()
    assert x.grad.item() == 3.0  # y is a constant 3, not x: not 2x = 6


def test_broadcast_gradients_are_summed_back_to_the_input_shape() -> None:
    b = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    m = gg.Tensor(np.ones((4, 3)), requires_grad=True)
    (m * b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(m.grad.data, np.tile([1.0, 2.0, 3.0], (4, 1)))


def test_grads_of_two_leaves_do_not_share_memory() -> None:
    a, b = scalar(1.0), scalar(2.0)
    (a + b).backward()
    a.grad.data += 10.0
    assert b.grad.item() == 1.0


def test_fan_out_scalar_three_contributions() -> None:
    """A 0-d tensor used three times: three gradients are summed (see engine-bugs.md #1)."""
    x = gg.Tensor(0.5, requires_grad=True)
    (x + x + x).backward()
    assert x.grad.item() == 3.0
    assert isinstance(x.grad.data, np.ndarray)


def test_set_grad_enabled_by_flag() -> None:
    x = scalar(1.0)
    with gg.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
        with gg.set_grad_enabled(True):
            assert (x * 2.0).requires_grad
    assert gg.is_grad_enabled()


def test_deepcopy_of_a_tensor_made_by_an_op_is_refused() -> None:
    # Its copy carried a copy of the graph: backward filled copies of the leaves, x.grad stayed None.
    import copy

    x = gg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(BackwardError, match=r"copy.deepcopy of a tensor of shape \(2,\) made by 'multiply'"):
        copy.deepcopy(x * 2.0)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(torch.ones(2, requires_grad=True) * 2.0)


def test_deepcopy_of_leaves_and_modules_gives_independent_leaves() -> None:
    import copy

    from graphgrad import nn

    x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.grad = gg.tensor(np.array([0.5, 0.5]))
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y._vc is not x._vc
    y.data[0] = 9.0
    y.grad.data[0] = 9.0
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.5])
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.BatchNorm1d(2))
    twin = copy.deepcopy(model)
    assert type(twin[0].weight) is nn.Parameter
    twin(gg.tensor(np.ones((3, 2), dtype=np.float32))).sum().backward()
    assert twin[0].weight.grad is not None and model[0].weight.grad is None
    assert twin[1].num_batches_tracked.item() == 1 and model[1].num_batches_tracked.item() == 0

"""In-place safety: changes to tensors a live graph saved are caught; others are allowed."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import GraphgradError, InplaceError
from tests.autograd.helpers import scalar


def test_modifying_a_saved_input_raises_naming_the_op() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.Tensor(np.array([3.0, 4.0]))
    loss = gg.sum(gg.exp(w * x))
    x += 1.0  # x saved by multiply; not recorded (x needs no gradient), so changed in place
    with pytest.raises(InplaceError, match=r"\(2,\) to 'multiply'"):
        loss.backward()


def test_optimizer_style_update_of_a_saved_leaf_is_caught() -> None:
    w = scalar(2.0)
    loss = w * w
    with gg.no_grad():
        w -= 0.1  # a parameter step before backward of a graph that saved w
    with pytest.raises(InplaceError, match="multiply"):
        loss.backward()


def test_raw_numpy_change_is_caught_after_bump_version() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = gg.sum(gg.log(w))
    w.data *= 2.0
    w.bump_version()
    with pytest.raises(InplaceError, match="log"):
        loss.backward()


def test_setitem_on_saved_tensor_is_caught() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.Tensor(np.array([3.0, 4.0]))
    loss = gg.sum(w * x)
    x[0] = 10.0
    with pytest.raises(InplaceError, match="multiply"):
        loss.backward()


def test_in_place_operator_on_leaf_that_requires_grad_is_refused() -> None:
    w = scalar(1.0)
    with pytest.raises(GraphgradError, match="leaf"):
        w += 1.0
    with pytest.raises(GraphgradError, match="leaf"):
        w.copy_(np.float64(3.0))
    assert w.item() == 1.0


def test_in_place_allowed_when_no_live_graph_saved_the_tensor() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]))
    x += 1.0  # nothing saved x yet
    w = gg.Tensor(np.array([0.5, 0.5]), requires_grad=True)
    loss = gg.sum(w * x)
    loss.backward()  # frees the graph
    x *= 2.0  # the only graph that saved x is gone
    with gg.no_grad():
        w -= 0.1 * w.grad  # the usual SGD step after backward
    np.testing.assert_allclose(w.data, [0.5 - 0.2, 0.5 - 0.3])
    loss2 = gg.sum(w * x)
    loss2.backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 3.0] + np.array([4.0, 6.0]))


def test_in_place_on_a_tensor_not_used_by_the_graph_is_fine() -> None:
    w = scalar(3.0)
    unrelated = gg.Tensor(np.zeros(2))
    loss = w * 2.0
    unrelated += 5.0
    loss.backward()
    assert w.grad.item() == 2.0


def test_in_place_operator_on_recorded_tensor_builds_a_new_node() -> None:
    x = scalar(2.0)
    h = x * 3.0
    h += x  # recorded: h becomes a new tensor, the graph stays correct
    h.backward()
    assert x.grad.item() == 4.0


# ---------------------------------------------------------------- in-place operators are truly in place
def test_in_place_operator_changes_the_array_and_keeps_the_name() -> None:
    x = gg.Tensor(np.array([1.0, 2.0]))
    alias = x
    data = x.data
    view = x[0:1]
    x += 1.0
    x *= 2.0
    assert alias is x and x.data is data  # nothing rebound, the array itself changed
    np.testing.assert_array_equal(view.data, [4.0])  # a NumPy view of it sees the change
    assert x._version == 2 and view._version == 2


@pytest.mark.parametrize(
    "steps",
    [
        ("add", "mul", "sub", "div"),
        ("mul", "pow"),
        ("setitem",),
        ("copy",),
    ],
)
def test_recorded_in_place_chain_matches_pytorch(steps: tuple[str, ...]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, wv = rng.uniform(0.5, 1.5, 3), rng.uniform(0.5, 1.5, 3)

    def run(lib: object, x: object, w: object) -> object:
        h = x * 3.0
        data_before = h.data if lib is gg else None
        for step in steps:
            if step == "add":
                h += w
            elif step == "mul":
                h *= w
            elif step == "sub":
                h -= x
            elif step == "div":
                h /= w
            elif step == "pow":
                h **= 2.0
            elif step == "setitem":
                h[1] = w[0] * x[2]
            elif step == "copy":
                h.copy_(w * x)
        if lib is gg:
            assert h.data is data_before  # in place
        return (h * h).sum()

    x, w = gg.Tensor(xv, requires_grad=True), gg.Tensor(wv, requires_grad=True)
    run(gg, x, w).backward()
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    run(torch, tx, tw).backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-12)


def test_in_place_with_a_gradient_operand_on_a_constant_records_it() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    acc = gg.zeros(2, dtype=np.float64)
    acc += w * w
    assert acc.requires_grad and acc.op == "add"
    acc.sum().backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 4.0])


def test_in_place_on_a_tensor_with_a_live_view_is_refused_while_recording() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    base = gg.zeros(2, dtype=np.float64)
    view = base[0:1]
    with pytest.raises(InplaceError, match="shares its memory"):
        view += w[0:1]  # base would hold w's values without a path back to w
    with pytest.raises(InplaceError, match="shares its memory"):
        base += w
    np.testing.assert_array_equal(base.data, [0.0, 0.0])  # refused before any change


def test_a_dead_view_does_not_block_in_place() -> None:
    w = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = w * 1.0
    _ = h.T.shape  # a view made and dropped at once
    h += w
    h.sum().backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 2.0])


def test_in_place_on_a_read_only_tensor_is_refused_clearly() -> None:
    x = gg.broadcast_to(gg.Tensor(np.array([1.0, 2.0])), (3, 2))
    with pytest.raises(InplaceError, match="read-only"):
        x += 1.0


def test_in_place_dtype_and_shape_follow_numpy() -> None:
    from graphgrad.errors import DTypeError, ShapeError

    i = gg.Tensor(np.array([1, 2]))
    with pytest.raises(DTypeError, match="'/='"):
        i /= 2
    f = gg.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    f += np.array([0.5, 0.5])  # float64 into float32: same kind, as NumPy
    assert f.dtype == np.float32
    with pytest.raises(ShapeError, match=r"'\+='"):
        f += np.ones((2, 2))


def test_a_graph_that_saved_the_old_value_refuses_backward_after_an_in_place_change() -> None:
    x = scalar(0.5)
    h = x * 2.0
    s = gg.sin(h)  # saved h
    h += 1.0
    with pytest.raises(InplaceError, match="'sin'"):
        s.backward()
    h.backward()  # h's own history is fine
    assert x.grad.item() == 2.0

"""Aliases share one version counter: a change through any of them is seen by every graph.

Issue 8, section 1: a change made through a view or ``detach()`` used to go unseen and gave a
silently wrong gradient. Here every view op is checked in both directions (a change through
the view, seen by a graph that saved the base; a change through the base, seen by a graph that
saved the view), and every registered op that returns a view is checked to alias its input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import InplaceError
from tests.ops.opinfo import all_opinfos

VIEWS: dict[str, Callable[[gg.Tensor], gg.Tensor]] = {
    "detach": lambda x: x.detach(),
    "reshape": lambda x: x.reshape(-1),
    "transpose": lambda x: x.transpose(),
    ".T": lambda x: x.T,
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "getitem[slice]": lambda x: x[1:],
    "getitem[int]": lambda x: x[0],
    "getitem[ellipsis]": lambda x: x[..., 0],
    "squeeze": lambda x: gg.squeeze(x.reshape(1, 2, 3)),
    "expand_dims": lambda x: gg.expand_dims(x, 0),
    "flatten": lambda x: gg.flatten(x),
    "split": lambda x: gg.split(x, 2, axis=0)[1],
    "Tensor(x)": lambda x: gg.Tensor(x),
    "as_tensor": lambda x: gg.as_tensor(x.detach()),
}


def _graph() -> tuple[gg.Tensor, gg.Tensor, gg.Tensor]:
    """a (a leaf), x = 2a, and sin(x).sum(), whose sin saved x."""
    a = gg.Tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7.0, requires_grad=True)
    x = a * 2.0
    return a, x, gg.sin(x).sum()


def test_the_issue_example_raises_instead_of_a_wrong_gradient() -> None:
    a = gg.tensor(np.array([0.3, 1.2]), requires_grad=True)
    x = a * 2.0
    z = gg.sin(x).sum()
    d = x.detach()
    d += 1.0
    with pytest.raises(InplaceError, match="'sin'"):
        z.backward()


@pytest.mark.parametrize("name", list(VIEWS))
def test_a_change_through_the_view_is_seen_by_a_graph_that_saved_the_base(name: str) -> None:
    a, x, z = _graph()
    before = x.data.copy()
    with gg.no_grad():
        v = VIEWS[name](x)
        assert np.shares_memory(v.data, x.data)
        v += 1.0
    assert not np.array_equal(x.data, before)  # in place: the base sees the change
    with pytest.raises(InplaceError, match="'sin'"):
        z.backward()


@pytest.mark.parametrize("name", list(VIEWS))
def test_a_change_through_the_base_is_seen_by_a_graph_that_saved_the_view(name: str) -> None:
    a = gg.Tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7.0, requires_grad=True)
    x = a * 2.0
    v = VIEWS[name](x)
    z = (a.sum() * v).sum()  # multiply saves v (its rule for a.sum() needs v's values)
    with gg.no_grad():
        x += 1.0
    with pytest.raises(InplaceError):
        z.backward()


def test_a_change_through_broadcast_to_base_is_seen() -> None:
    a = gg.Tensor(np.array([0.5, 1.0]), requires_grad=True)
    x = a * 1.0
    z = gg.sin(gg.broadcast_to(x, (3, 2))).sum()
    with gg.no_grad():
        x[0] = 5.0
    with pytest.raises(InplaceError, match="'sin'"):
        z.backward()


def test_a_reshape_that_copies_is_not_an_alias() -> None:
    x = gg.Tensor(np.arange(6.0).reshape(2, 3))
    copy = x.T.reshape(-1)  # not contiguous: NumPy copies
    assert not np.shares_memory(copy.data, x.data)
    assert copy._vc is not x._vc
    view = x.reshape(-1)
    assert view._vc is x._vc


def test_issue_example_without_a_change_still_gives_the_true_gradient() -> None:
    a = gg.tensor(np.array([0.3, 1.2]), requires_grad=True)
    z = gg.sin(a * 2.0).sum()
    z.backward()
    np.testing.assert_allclose(a.grad.data, 2.0 * np.cos(2.0 * np.array([0.3, 1.2])))


@pytest.mark.parametrize("info", all_opinfos(), ids=lambda i: i.name)
def test_every_op_whose_output_views_an_input_shares_its_counter(info) -> None:  # noqa: ANN001
    """Over the whole registry: an output whose memory is an input's shares that input's counter,
    and no op hands back an input's array itself."""
    rng = np.random.default_rng(0)
    xs = [gg.Tensor(rng.uniform(*info.domain_of(i), s), requires_grad=True) for i, s in enumerate(info.sample_shapes())]
    out = info.fn(*xs)
    stack = [out]
    while stack:
        t = stack.pop()
        node = t._node
        if node is None or node.inputs is None:
            continue
        for p in node.inputs:
            assert t.data is not p.data, f"{node.op.name} returned its input's array itself"
            if t.data.size and np.shares_memory(t.data, p.data):
                assert t._vc is p._vc, f"{node.op.name}: a view of its input with its own version counter"
        stack.extend(node.inputs)

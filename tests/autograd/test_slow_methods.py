"""naive_grad == path_sum_grad == backward, on hand-made and random graphs; their costs as documented."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.errors import BackwardError, GraphFreedError
from tests.autograd.helpers import private_op, scalar, sigmoid

# Binary and unary building blocks that stay finite on any finite inputs of moderate size.
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.0 + b * b),
    "mix": lambda a, b: 0.5 * a - b * 0.25,
}
UNARY = {
    "neg": lambda a: -a,
    "bump": lambda a: gg.exp(-(a * a)),
    "logsq": lambda a: gg.log(1.0 + a * a),
    "square": lambda a: a * a * 0.5,
    "sig": sigmoid,
}


@st.composite
def random_dags(draw: st.DrawFn):
    """A recipe: leaf values, then nodes that each apply an op to earlier nodes, output = a sum."""
    n_leaves = draw(st.integers(1, 3))
    leaves = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_leaves, max_size=n_leaves))
    steps = []
    for i in range(draw(st.integers(1, 9))):
        available = n_leaves + i
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(BINARY)))
            steps.append((name, draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
        else:
            name = draw(st.sampled_from(sorted(UNARY)))
            steps.append((name, draw(st.integers(0, available - 1)), None))
    outputs = draw(st.lists(st.integers(0, n_leaves + len(steps) - 1), min_size=1, max_size=3))
    return leaves, steps, outputs


def run_recipe(recipe, *xs):
    leaves, steps, outputs = recipe
    values = list(xs)
    for name, i, j in steps:
        values.append(BINARY[name](values[i], values[j]) if j is not None else UNARY[name](values[i]))
    total = values[outputs[0]]
    for k in outputs[1:]:
        total = total + values[k]
    return total * 1.0  # always an op, even when the output is a leaf


@settings(max_examples=60, deadline=None)
@given(recipe=random_dags())
def test_naive_equals_path_sum_equals_backward_on_random_scalar_dags(recipe) -> None:
    leaves = recipe[0]
    xs = [scalar(v) for v in leaves]
    out = run_recipe(recipe, *xs)
    by_paths = gg.path_sum_grad(out, xs)
    by_backprop = backward([out], [None], inputs=xs)
    by_naive = gg.naive_grad(lambda *a: run_recipe(recipe, *a), [np.float64(v) for v in leaves])
    for p, b, n in zip(by_paths, by_backprop, by_naive):
        b = 0.0 if b is None else b.item()
        assert p.item() == pytest.approx(b, rel=1e-9, abs=1e-12)
        assert n.item() == pytest.approx(b, rel=1e-9, abs=1e-12)


def _small_tensor_net(W, b, x, v):
    h = sigmoid(W @ x + b)  # (2,3) @ (3,) + (2,)
    return gg.sum(h * v) + gg.mean(W * W) * 0.1 + h[0] * x[1]


def test_small_tensor_graph_with_broadcasting() -> None:
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), rng.standard_normal(3), rng.standard_normal(2)]
    arrays[1] = arrays[1].reshape(2)
    f = lambda W, b, x, v: _small_tensor_net(W, b[:, None].reshape(2), x, v) + gg.sum(W * b.reshape(2, 1))
    ts = [gg.Tensor(a, requires_grad=True) for a in arrays]
    out = f(*ts)
    expected = backward([out], [None], inputs=ts, retain_graph=True)
    by_paths = gg.path_sum_grad(out, ts)
    by_naive = gg.naive_grad(f, arrays)
    for e, p, n, a in zip(expected, by_paths, by_naive, arrays):
        assert p.shape == n.shape == a.shape
        np.testing.assert_allclose(p.data, e.data, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(n.data, e.data, rtol=1e-10, atol=1e-13)


def test_seed_example_and_leaf_dict() -> None:
    x, y, z = scalar(1.0), scalar(2.0), scalar(3.0)
    f = x * (y**2 + z)
    table = gg.path_sum_grad(f)
    assert {t.item(): g.item() for t, g in table.items()} == {1.0: 7.0, 2.0: 4.0, 3.0: 1.0}
    assert x.grad is None  # nothing accumulated into .grad
    f.backward()  # the graph was not freed by path_sum_grad
    assert x.grad.item() == 7.0
    with pytest.raises(GraphFreedError, match="multiply"):
        gg.path_sum_grad(f)


def test_path_sum_with_an_intermediate_input() -> None:
    x = scalar(0.7)
    h = x * x
    out = h * 3.0 + x
    gh, gx = gg.path_sum_grad(out, [h, x])
    assert gh.item() == pytest.approx(3.0)
    assert gx.item() == pytest.approx(6 * 0.7 + 1)


def test_path_count_is_exponential_in_depth() -> None:
    """A chain of n 'diamonds' (v <- a(v) + b(v)) has 2^n paths; max_paths makes that visible."""
    x = scalar(0.3)
    v = x
    for _ in range(12):
        v = v * 0.5 + v * 0.25  # two edges per level: 2^12 = 4096 paths
    assert gg.path_sum_grad(v, [x])[0].item() == pytest.approx(0.75**12, rel=1e-12)
    with pytest.raises(BackwardError, match="more than 1000 paths"):
        gg.path_sum_grad(v, [x], max_paths=1000)


def test_naive_grad_caches_local_derivatives_once_per_node() -> None:
    """Rules run once per node output entry (cached), while the sweeps run once per input scalar."""
    calls = []

    def rule(g, out, a, b):
        calls.append(1)
        return g * b

    scale = private_op("test_counted_scale", np.multiply, (rule, None))
    x = np.array([1.0, 2.0, 3.0, 4.0])
    grad = gg.naive_grad(lambda t: gg.sum(scale(t, gg.Tensor(np.float64(2.0)))), [x])[0]
    np.testing.assert_array_equal(grad.data, [2.0, 2.0, 2.0, 2.0])
    assert len(calls) == 4  # 4 output entries of the node, although 4 sweeps (one per input entry) ran


def test_naive_grad_refuses_non_scalar_output() -> None:
    with pytest.raises(BackwardError, match=r"shape \(2,\)"):
        gg.naive_grad(lambda t: t * 2.0, [np.ones(2)])

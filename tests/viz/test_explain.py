"""explain(): the step table of f = x (y^2 + z) at (1, 2, 3) (seed 001), and the seeds' 2-2-1 network."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError
from graphgrad.viz import expr, seed_network


def f_at_123():
    out, inputs = expr.build("x*(y**2+z)", {"x": 1, "y": 2, "z": 3})
    return out, inputs


def test_steps_follow_backprop_order_with_exact_numbers():
    out, inputs = f_at_123()
    ex = gg.explain(out)
    names = [s.name for s in ex.backward]
    assert names == ["x*(y**2+z)", "x", "y**2+z", "y**2", "y", "z"]
    by = {s.name: s for s in ex.backward}
    assert by["x*(y**2+z)"].terms == [] and by["x*(y**2+z)"].total == "1"
    # dL/dx: consumer f, grad_table[f] = 1, local df/dx = y^2 + z = 7
    (t,) = by["x"].terms
    assert (t.consumer_name, t.incoming, t.local, t.product) == ("x*(y**2+z)", "1", "7", "7")
    (t,) = by["y**2+z"].terms
    assert (t.incoming, t.local, t.product) == ("1", "1", "1")
    (t,) = by["y"].terms
    assert (t.consumer_name, t.incoming, t.local, t.product) == ("y**2", "1", "4", "4")
    assert {k: float(v) for k, v in ex.grads.items() if k in "xyz"} == {"x": 7.0, "y": 4.0, "z": 1.0}
    assert [s.value for s in ex.forward] == ["1", "2", "4", "3", "7", "7"]


def test_explain_has_no_side_effects_and_agrees_with_backward():
    out, inputs = f_at_123()
    gg.explain(out)
    assert all(t.grad is None for t in inputs.values())
    out.backward()  # the graph was not freed by explain
    assert [float(inputs[k].grad) for k in "xyz"] == [7.0, 4.0, 1.0]


def test_text_table_lines():
    out, _ = f_at_123()
    text = str(gg.explain(out, title="f = x (y^2 + z)"))
    lines = text.splitlines()
    assert lines[0] == "f = x (y^2 + z)"
    row = next(line for line in lines if line.split()[:2] == ["2", "x"])
    assert row.split() == ["2", "x", "x*(y**2+z)", "(multiply)", "1", "7", "7", "7"]
    row = next(line for line in lines if line.split()[:2] == ["5", "y"])
    assert row.split() == ["5", "y", "y**2", "(power)", "1", "4", "4", "4"]
    assert "grad_table[node] = sum over consumers" in text


def test_fan_out_sums_products():
    x = gg.Tensor(np.array(3.0), requires_grad=True, name="x")
    out = x * x
    ex = gg.explain(out)
    step = next(s for s in ex.backward if s.name == "x")
    assert [t.product for t in step.terms] == ["3", "3"] and step.total == "6"
    assert "3 + 3 = 6" in str(ex)


def test_tensor_graphs_use_vjps():
    w = gg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True, name="W")
    v = gg.Tensor(np.array([1.0, -1.0]), name="v")
    ex = gg.explain(gg.sum(w @ v))
    step = next(s for s in ex.backward if s.name == "W")
    assert step.terms[0].local == "vjp"
    np.testing.assert_allclose(ex.grads["W"], [[1.0, -1.0], [1.0, -1.0]])


def test_non_scalar_is_refused():
    w = gg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(BackwardError, match="scalar"):
        gg.explain(w * 2)


def test_seed_network_matches_hand_formulas():
    loss, weights = seed_network.build()
    ex = gg.explain(loss)
    hand = seed_network.hand_gradients()
    assert set(hand) == set(weights)
    for name, value in hand.items():
        assert float(ex.grads[name]) == pytest.approx(value, rel=1e-12, abs=1e-15)

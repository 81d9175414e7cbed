"""explain(): the step table of f = x (y^2 + z) at (1, 2, 3), the 2-2-1 network, the 2-3-2 one in matrix form."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import BackwardError
from graphgrad.viz import expr, mlp_matrix, seed_network


def f_at_123():
    out, inputs = expr.build("x*(y**2+z)", {"x": 1, "y": 2, "z": 3})
    return out, inputs


def test_steps_follow_backprop_order_with_exact_numbers():
    out, inputs = f_at_123()
    ex = gg.explain(out)
    names = [s.name for s in ex.backward]
    assert names == ["x*(y**2+z)", "x", "y**2+z", "z", "y**2", "y"]  # each input right after its consumer
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
    # forward: the inputs first (in the order the computation first uses them), then each op
    assert [(s.name, s.value) for s in ex.forward] == [
        ("y", "2"), ("z", "3"), ("x", "1"), ("y**2", "4"), ("y**2+z", "7"), ("x*(y**2+z)", "7")]


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
    row = next(line for line in lines if line.split()[:2] == ["6", "y"])
    assert row.split() == ["6", "y", "y**2", "(power)", "1", "4", "4", "4"]
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


def test_network_draws_each_tensor_once_with_the_users_names_and_starts_from_the_inputs():
    loss, _ = seed_network.build()
    ex = gg.explain(loss)
    names = [n.name for n in ex.view.nodes if n.kind != "const"]
    assert len(names) == len(set(names))  # each tensor once: x1 and x2 are not repeated per use
    assert names.count("x1") == 1 and names.count("x2") == 1
    x1 = next(n.id for n in ex.view.nodes if n.name == "x1")
    readers = {ex.view.nodes[e.dst].name for e in ex.view.edges if e.src == x1}
    assert readers == {"wh_11 * x1", "wh_12 * x1"}
    assert not [n for n in names if "_" in n and n.split("_")[0] in ("add", "multiply", "sigmoid", "power")]
    order = [s.name for s in ex.forward]
    assert order[:3] == ["x1", "x2", "y*"]  # the data first
    first_op = next(i for i, s in enumerate(ex.forward) if s.op is not None)
    ops = order[first_op:]
    assert ops.index("z1") < ops.index("y") and ops.index("z2") < ops.index("y")
    assert ops.index("s1") < ops.index("wo_11 * z1")  # the hidden layer before the output layer
    assert order[-1] == "L"


def test_long_formulas_give_way_to_generated_names():
    x = gg.Tensor(np.array(0.5), requires_grad=True, name="x")
    out = x
    for _ in range(6):
        out = gg.sin(out) + x
    ex = gg.explain(out)
    names = {n.name for n in ex.view.nodes}
    assert {"sin(x)", "sin(x) + x", "sin(sin(x) + x) + x"} <= names
    assert all(len(n) <= 28 for n in names)
    assert "sin_1" in names and "sin_1 + x" in names  # the last resort, then formulas again


def _by_hand_2_3_2():
    """The 2-3-2 example's forward and backward pass, written out with NumPy only."""
    x, y = mlp_matrix.X, mlp_matrix.Y
    p = mlp_matrix.PARAMETERS
    w1, b1, w2, b2 = p["hidden.weight"], p["hidden.bias"], p["output.weight"], p["output.bias"]
    a1 = x @ w1.T + b1
    h = 1 / (1 + np.exp(-a1))
    z = h @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    soft = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(soft[np.arange(n), y]))
    onehot = np.eye(2)[y]
    dz = (soft - onehot) / n
    dw2, db2, dh = dz.T @ h, dz.sum(axis=0), dz @ w2
    da1 = dh * h * (1 - h)
    dw1, db1 = da1.T @ x, da1.sum(axis=0)
    return {"loss": loss, "a1": a1, "h": h, "z": z, "dz": dz, "dw2": dw2, "db2": db2, "dh": dh, "da1": da1,
            "dw1": dw1, "db1": db1}


def test_matrix_form_of_the_2_3_2_network_matches_the_hand_computation():
    loss, model = mlp_matrix.build()
    ex = gg.explain(loss, module=model)
    hand = _by_hand_2_3_2()
    assert float(loss.data) == pytest.approx(hand["loss"], rel=1e-12)
    names = [n.name for n in ex.view.nodes]
    assert sorted(names) == sorted(["x", "hidden.weight", "hidden.bias", "hidden(x)", "h", "output.weight",
                                    "output.bias", "output(h)", "y", "L"])  # module paths and the user's names
    shapes = {n.name: n.shape for n in ex.view.nodes}
    assert shapes["hidden(x)"] == (4, 3) and shapes["output.weight"] == (2, 3) and shapes["L"] == ()
    step = {s.name: s for s in ex.backward}
    # dL/dW1 = (dL/dA1)^T X, the weight stored (out, in)
    (t,) = step["hidden.weight"].terms
    f = t.formula
    assert f.text == "\u2202L/\u2202hidden.weight = (\u2202L/\u2202hidden(x))\u1d40 \u00b7 x"
    assert [o.label for o in f.operands] == ["(\u2202L/\u2202hidden(x))\u1d40", "x"]
    np.testing.assert_allclose(f.operands[0].data, hand["da1"].T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.operands[1].data, mlp_matrix.X)
    np.testing.assert_allclose(f.result, hand["dw1"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.operands[0].data @ f.operands[1].data, f.result, rtol=1e-12, atol=1e-15)
    # dL/dH = dL/dZ W2, then elementwise times the sigmoid's derivative
    (t,) = step["h"].terms
    assert t.formula.text == "\u2202L/\u2202h = \u2202L/\u2202output(h) \u00b7 output.weight"
    np.testing.assert_allclose(t.formula.result, hand["dh"], rtol=1e-12, atol=1e-15)
    (t,) = step["hidden(x)"].terms
    assert t.formula.text == "\u2202L/\u2202hidden(x) = \u2202L/\u2202h \u2299 h \u2299 (1 \u2212 h)"
    np.testing.assert_allclose(t.formula.operands[1].data, hand["h"] * (1 - hand["h"]), rtol=1e-12)
    np.testing.assert_allclose(t.formula.result, hand["da1"], rtol=1e-12, atol=1e-15)
    (t,) = step["hidden.bias"].terms
    assert t.formula.text == "\u2202L/\u2202hidden.bias = \u03a3_rows \u2202L/\u2202hidden(x)"
    np.testing.assert_allclose(t.formula.result, hand["db1"], rtol=1e-12, atol=1e-15)
    (t,) = step["output(h)"].terms
    np.testing.assert_allclose(t.formula.result, hand["dz"], rtol=1e-12, atol=1e-15)
    for name, key in (("output.weight", "dw2"), ("output.bias", "db2"), ("hidden.weight", "dw1")):
        np.testing.assert_allclose(ex.grads[name], hand[key], rtol=1e-12, atol=1e-15)


def test_matrix_form_agrees_with_backward():
    loss, model = mlp_matrix.build()
    ex = gg.explain(loss, module=model)
    loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(ex.grads[name], p.grad.numpy())

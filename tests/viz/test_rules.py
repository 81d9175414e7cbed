"""The views' one rule adapter, input_gradients: the engine's own rules, unbroadcast and cast per input."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import GraphFreedError
from graphgrad.viz._rules import input_gradients


def test_matches_backward_with_broadcasting_and_a_constant():
    rng = np.random.default_rng(0)
    a = gg.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = gg.Tensor(rng.standard_normal(3), requires_grad=True)
    c = gg.Tensor(rng.standard_normal((4, 1)))  # no gradient
    out = a * b + c
    g = gg.Tensor(rng.standard_normal((4, 3)))
    prod = out._node.inputs[0]
    ga, gb = input_gradients(prod, input_gradients(out, g)[0])
    assert input_gradients(out, g)[1] is None  # the constant gets none
    (a * b + c).backward(g)
    np.testing.assert_array_equal(ga.numpy(), a.grad.numpy())
    np.testing.assert_array_equal(gb.numpy(), b.grad.numpy())
    assert gb.shape == (3,)


def test_casts_to_the_inputs_dtype_and_handles_a_scalar_input():
    w = gg.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    s = gg.Tensor(np.array(3.0, dtype=np.float32), requires_grad=True)
    out = w * s
    gw, gs = input_gradients(out, gg.Tensor(np.full((2, 2), 2.0)))  # a float64 upstream gradient
    assert gw.numpy().dtype == np.float32 and gs.numpy().dtype == np.float32
    assert gs.shape == () and float(gs.numpy()) == 8.0  # summed over the broadcast: 4 entries * 2 * 1
    np.testing.assert_array_equal(gw.numpy(), np.full((2, 2), 6.0))


def test_matmul_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b, g = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (ta @ tb).backward(torch.tensor(g))
    out = gg.Tensor(a, requires_grad=True) @ gg.Tensor(b, requires_grad=True)
    ga, gb = input_gradients(out, gg.Tensor(g))
    np.testing.assert_allclose(ga.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_freed_graph_is_a_clear_error():
    x = gg.Tensor(np.array(2.0), requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        input_gradients(y, gg.Tensor(np.array(1.0)))

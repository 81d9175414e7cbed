"""Registry-driven first derivatives: every differentiable op against float64 finite differences,
``create_graph=True`` against a plain backward, and float32 in, float32 out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import graphgrad
from graphgrad import Tensor
from graphgrad.testing import check_create_graph, check_first_order
from tests.ops.opinfo import (
    OpInfo,
    all_opinfos,
    cases,
    differentiable_opinfos,
    draw_point,
    op_inputs,
    registry_settings,
)

__all__ = ["op_inputs"]  # re-exported: other test modules import it from here

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


def test_registry_covers_every_op() -> None:
    """Every public op of graphgrad is either in the registry or declared non-differentiable."""
    listed = {info.name for info in all_opinfos()}
    missing = [
        name for name in graphgrad.ops.__all__
        if name not in listed and name not in graphgrad.ops.NON_DIFFERENTIABLE
    ]  # fmt: skip
    assert not missing, f"ops without an OpInfo entry: {missing}"


@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
@registry_settings(max_examples=15)
@given(data=st.data())
def test_gradient_matches_finite_differences(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    check_first_order(info.fn, *arrays, eps=info.eps, atol=info.atol, rtol=info.rtol)  # and inputs unchanged


@pytest.mark.parametrize("info", cases(OPINFOS))
@registry_settings(max_examples=6)
@given(data=st.data())
def test_create_graph_agrees_with_plain_backward(info: OpInfo, data: st.DataObject) -> None:
    """Recording the backward pass (the graph-op path of every rule) gives the plain backward's numbers."""
    arrays, v = draw_point(data, info)
    check_create_graph(info.fn, *arrays, v=v)


@pytest.mark.parametrize("info", cases(OPINFOS))
def test_float32_in_float32_out(info: OpInfo) -> None:
    """Float32 inputs give a float32 output and float32 gradients: no silent upcast."""
    xs = [Tensor(a.astype(np.float32), requires_grad=True) for a in info.sample_inputs()]
    out = info.fn(*xs)
    assert out.dtype == np.float32, f"{info.name} returned {out.dtype}"
    out.backward(np.ones(out.shape, dtype=np.float32))
    for x in xs:
        assert x.grad is None or x.grad.dtype == np.float32

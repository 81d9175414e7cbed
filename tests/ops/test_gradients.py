"""Registry-driven gradient test: every differentiable op against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad
from graphgrad.autograd.check import gradcheck
from tests.ops.opinfo import OpInfo, all_opinfos

OPINFOS = all_opinfos()


def test_registry_covers_every_op() -> None:
    """Every public op of graphgrad is either in the registry or declared non-differentiable."""
    listed = {info.name for info in OPINFOS}
    missing = [
        name for name in graphgrad.ops.__all__
        if name not in listed and name not in graphgrad.ops.NON_DIFFERENTIABLE
    ]  # fmt: skip
    assert not missing, f"ops without an OpInfo entry: {missing}"


@st.composite
def op_inputs(draw: st.DrawFn, info: OpInfo) -> list[np.ndarray]:
    shapes = draw(info.shape_strategy())
    arrays = []
    for i, shape in enumerate(shapes):
        lo, hi = info.domain_of(i)
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
        arrays.append(draw(hnp.arrays(np.float64, shape, elements=elements)))
    return arrays


@pytest.mark.parametrize("info", OPINFOS, ids=[i.name for i in OPINFOS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_gradient_matches_finite_differences(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    originals = [a.copy() for a in arrays]
    gradcheck(info.fn, arrays, eps=info.eps, atol=info.atol, rtol=info.rtol)
    for a, o in zip(arrays, originals):
        np.testing.assert_array_equal(a, o)  # no op may mutate its inputs


@pytest.mark.parametrize("info", OPINFOS, ids=[i.name for i in OPINFOS])
def test_float32_in_float32_out(info: OpInfo) -> None:
    """Float32 inputs give a float32 output and float32 gradients: no silent upcast."""
    rng = np.random.default_rng(0)
    shapes = info.sample_shapes()
    xs = []
    for i, shape in enumerate(shapes):
        lo, hi = info.domain_of(i)
        xs.append(graphgrad.Tensor(rng.uniform(lo, hi, shape).astype(np.float32), requires_grad=True))
    out = info.fn(*xs)
    assert out.dtype == np.float32, f"{info.name} returned {out.dtype}"
    out.backward(np.ones(out.shape, dtype=np.float32))
    for x in xs:
        assert x.grad is None or x.grad.dtype == np.float32

"""The seeds' slow methods over the whole registry: ``naive_grad`` (one forward sweep per input
scalar) and ``path_sum_grad`` (a sum over every path) must give backward's gradient for every op.

They share only the ops' rules with backward, read as local Jacobians, so they check the engine's
traversal, accumulation and unbroadcasting independently, and they must work on every node the
registry can make (variadic ops such as stack and concatenate included).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from graphgrad import Tensor, no_grad
from graphgrad.testing import check_slow_methods
from tests.ops.opinfo import OpInfo, cases, cotangent, differentiable_opinfos, op_inputs, registry_settings

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
@registry_settings(max_examples=3)
@given(data=st.data())
def test_naive_and_path_sum_agree_with_backward(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    with no_grad():
        shape = info.fn(*[Tensor(a) for a in arrays]).shape
    check_slow_methods(info.fn, *arrays, w=data.draw(cotangent(shape), label="w"))

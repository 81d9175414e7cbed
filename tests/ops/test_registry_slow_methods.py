"""The seeds' slow methods over the whole registry: ``naive_grad`` (one forward sweep per input
scalar) and ``path_sum_grad`` (a sum over every path) must give backward's gradient for every op.

They share only the ops' rules with backward, read as local Jacobians, so they check the engine's
traversal, accumulation and unbroadcasting independently, and they must work on every node the
registry can make (variadic ops such as stack and concatenate included).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphgrad.testing import check_slow_methods
from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos, draw_point, registry_settings

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
@registry_settings(max_examples=3)
@given(data=st.data())
def test_naive_and_path_sum_agree_with_backward(info: OpInfo, data: st.DataObject) -> None:
    arrays, w = draw_point(data, info)
    check_slow_methods(info.fn, *arrays, w=w)

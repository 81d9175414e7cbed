"""Every registry entry's forward against its reference (NumPy or a closed formula) on Hypothesis draws.

The gradient tests compare the engine with itself (finite differences of graphgrad's own forward);
this is the check that the forward computes the right function in the first place.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import Tensor
from tests.ops.opinfo import OpInfo, all_opinfos, cases, op_inputs, registry_settings

OPINFOS = all_opinfos()


def check_forward(info: OpInfo, arrays: list[np.ndarray]) -> None:
    """``info.fn`` on tensors equals ``info.ref`` on arrays: shape, dtype and values."""
    expected = np.asarray(info.ref(*[a.copy() for a in arrays]))
    out = info.fn(*[Tensor(a) for a in arrays])
    assert isinstance(out, Tensor), f"{info.name} returned {type(out).__name__}"
    assert out.shape == expected.shape, f"{info.name}: shape {out.shape}, reference {expected.shape}"
    assert out.dtype == expected.dtype, f"{info.name}: dtype {out.dtype}, reference {expected.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=info.ref_rtol, atol=info.ref_atol, err_msg=info.name)


@pytest.mark.parametrize("info", cases(OPINFOS))
@registry_settings(max_examples=12)
@given(data=st.data())
def test_forward_matches_reference(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))  # kinks and ties included: the forward is defined there
    with np.errstate(divide="ignore", over="ignore"):  # 1 / 0 = inf on both sides is a match
        check_forward(info, arrays)


@pytest.mark.parametrize("info", cases(OPINFOS))
def test_reference_takes_the_ops_inputs(info: OpInfo) -> None:
    """A reference is a callable of the op's ``nargs`` arrays (checked without running it)."""
    params = inspect.signature(info.ref).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    assert variadic or len(positional) == info.nargs, f"{info.name}: ref takes {len(positional)}, op {info.nargs}"


def test_entry_names_are_unique() -> None:
    names = [info.name for info in OPINFOS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_an_entry_without_a_reference_is_refused() -> None:
    with pytest.raises(TypeError, match="ref"):
        OpInfo("exp", gg.exp)  # type: ignore[call-arg]


def test_a_wrong_forward_is_caught() -> None:
    """The check can fail: exp checked against a reference that is off by one ulp-scale factor."""
    wrong = OpInfo("exp", gg.exp, ref=lambda x: np.exp(x) * (1 + 1e-9))
    with pytest.raises(AssertionError, match="exp"):
        check_forward(wrong, [np.array([0.5, 1.5])])
    with pytest.raises(AssertionError, match="shape"):
        check_forward(OpInfo("sum", gg.sum, ref=lambda x: x), [np.array([0.5, 1.5])])

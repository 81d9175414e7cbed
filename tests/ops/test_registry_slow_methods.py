"""The seeds' slow methods over the whole registry: ``naive_grad`` (one forward sweep per input
scalar) and ``path_sum_grad`` (a sum over every path) must give backward's gradient for every op.

They share only the ops' rules with backward, read as local Jacobians, so they check the engine's
traversal, accumulation and unbroadcasting independently, and they must work on every node the
registry can make (variadic ops such as stack and concatenate included).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from graphgrad import Tensor, no_grad
from graphgrad.autograd.check import naive_grad, path_sum_grad
from graphgrad.autograd.engine import topological_order
from tests.ops.opinfo import OpInfo, cases, cotangent, differentiable_opinfos, op_inputs, registry_settings

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


def _paired(fn: Callable[..., Tensor], w: np.ndarray) -> Callable[..., Tensor]:
    """x -> <w, fn(x)>: the one-element output the slow methods differentiate."""
    return lambda *xs: (fn(*xs) * Tensor(w)).sum()


def _least_precise(out: Tensor) -> np.dtype:
    """The floating dtype of fewest bits among the tensors of ``out``'s graph."""
    dtypes = [t.dtype for t in topological_order([out]) if t.dtype.kind == "f"]
    return min(dtypes, key=lambda d: d.itemsize)


@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
@registry_settings(max_examples=3)
@given(data=st.data())
def test_naive_and_path_sum_agree_with_backward(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    with no_grad():
        shape = info.fn(*[Tensor(a) for a in arrays]).shape
    f = _paired(info.fn, data.draw(cotangent(shape), label="w"))

    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*xs)
    by_paths = path_sum_grad(out, xs)  # reads the graph, frees nothing
    rtol = max(1e-10, 100 * float(np.finfo(_least_precise(out)).eps))  # astype passes through float32
    out.backward()
    by_backward = [np.zeros(a.shape) if x.grad is None else x.grad.data for a, x in zip(arrays, xs)]
    by_sweeps = naive_grad(f, [a.copy() for a in arrays])

    for k, want in enumerate(by_backward):
        for method, got in (("naive_grad", by_sweeps[k]), ("path_sum_grad", by_paths[k])):
            assert got.shape == want.shape, f"{method}, input {k}: shape {got.shape}, backward {want.shape}"
            np.testing.assert_allclose(got.data, want, rtol=rtol, atol=1e-12, err_msg=f"{method}, input {k}")

"""Registry-driven second derivatives: every op's VJP rule, differentiated again, against finite differences.

For an op f and a fixed random upstream u, the map x -> d<u, f(x)>/dx_k is computed by backward
with ``create_graph=True``; gradcheck then compares its own gradient (the Hessian of <u, f> applied
to a random vector) with central differences of that map. This holds every rule to being written
with differentiable graphgrad ops, with a correct derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graphgrad import Tensor, enable_grad
from graphgrad.autograd.check import gradcheck
from graphgrad.autograd.engine import backward
from graphgrad.errors import GradcheckError
from tests.ops.opinfo import OpInfo, all_opinfos
from tests.ops.test_gradients import op_inputs

OPINFOS = [info for info in all_opinfos() if not info.skip_second_order]


def first_derivative(fn: Callable[..., Tensor], k: int) -> Callable[..., Tensor]:
    """x -> d<u, fn(x)>/dx_k, recorded so that it can be differentiated again.

    ``u`` is fixed by the output's shape, so every call (the finite differences too) pairs with
    the same upstream. ``0 * x_k`` is added so that a gradient that does not depend on x (linear
    and piecewise-linear ops) is still a tensor in the graph: its derivative must then be 0.
    """

    def grad_k(*xs: Tensor) -> Tensor:
        with enable_grad():
            y = fn(*xs)
            u = Tensor(np.random.default_rng(1).standard_normal(y.shape))
            grads = backward([y], [u], retain_graph=True, create_graph=True, inputs=list(xs))
            g = grads[k]
            return xs[k] * 0.0 if g is None else g + xs[k] * 0.0

    return grad_k


@pytest.mark.parametrize("info", OPINFOS, ids=[i.name for i in OPINFOS])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_second_derivative_matches_finite_differences(info: OpInfo, data: st.DataObject) -> None:
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    for k in range(info.nargs):
        gradcheck(first_derivative(info.fn, k), arrays, eps=info.eps, atol=info.atol, rtol=info.rtol)


def test_a_wrong_second_derivative_is_caught() -> None:
    """The check can fail: a rule that is right to first order only (treats out as a constant)."""
    from graphgrad.ops.core import Op

    bad = Op("exp_first_order_only", np.exp, (lambda g, out, a: g * out.detach(),))
    x = np.array([0.3, -1.2])
    gradcheck(lambda t: bad(t), [x])  # first derivative is right
    with pytest.raises(GradcheckError):
        gradcheck(first_derivative(lambda t: bad(t), 0), [x])


def test_every_opt_out_gives_a_reason() -> None:
    skipped = [info for info in all_opinfos() if info.skip_second_order]
    assert all(len(info.skip_second_order) > 10 for info in skipped)

"""Registry-driven second derivatives: every op's VJP, differentiated in both of its arguments.

The checks are the public ones of :mod:`graphgrad.testing` (users run the same on their own ops).
For an op f, the VJP is the map (x, v) -> J_f(x)^T v, computed by backward with
``create_graph=True``. gradcheck compares its derivatives with central differences in x (the
Hessian of <v, f> applied to a direction) and in v (J_f(x) itself: the rule must be linear in the
cotangent and recorded as such). v is drawn by Hypothesis, not fixed, so a rule that is only right
for one upstream gradient fails. This holds every rule to being written with differentiable
graphgrad ops, with a correct derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import Tensor
from graphgrad.autograd.check import gradcheck
from graphgrad.autograd.engine import backward
from graphgrad.errors import GradcheckError
from graphgrad.ops import core
from graphgrad.testing import check_second_order
from graphgrad.testing import vjp_map as vjp
from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos, draw_point, registry_settings

OPINFOS = [info for info in differentiable_opinfos() if not info.skip_second_order]


@pytest.mark.parametrize("info", cases(OPINFOS))
@registry_settings(max_examples=6)
@given(data=st.data())
def test_second_derivative_in_input_and_cotangent(info: OpInfo, data: st.DataObject) -> None:
    arrays, v = draw_point(data, info)
    check_second_order(info.fn, *arrays, v=v, eps=info.eps, atol=info.atol, rtol=info.rtol)


# ---------------------------------------------------------------------------- the check can fail
@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, core.Op]:
    """Ops made by a test go into a copy of the registry, never into the engine's own."""
    scratch = dict(core.REGISTRY)
    monkeypatch.setattr(core, "REGISTRY", scratch)
    return scratch


def _sin_with(rule: Callable[..., Tensor], name: str) -> Callable[[Tensor], Tensor]:
    op = core.Op(name, np.sin, (rule,))
    return lambda t: op(t)


def test_a_rule_right_to_first_order_only_is_caught(scratch_registry: dict[str, core.Op]) -> None:
    """A rule that treats the op's value as a constant: right gradient, wrong derivative in x."""
    bad = _sin_with(lambda g, out, a: g * gg.cos(a.detach()), "sin_first_order_only")
    x, v = np.array([0.3, -1.2]), np.array([0.7, 1.9])
    gradcheck(bad, [x])
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(vjp(bad), [x, v])
    assert "sin_first_order_only" in scratch_registry


def test_a_rule_that_drops_the_cotangent_from_the_graph_is_caught(scratch_registry: dict[str, core.Op]) -> None:
    """A rule that reads the upstream gradient as a constant: right numbers for every v and right in
    x, but its derivative in v is 0. A check with a fixed cotangent cannot see it; this one can."""
    bad = _sin_with(lambda g, out, a: g.detach() * gg.cos(a), "sin_cotangent_detached")
    x, v = np.array([0.3, -1.2]), np.array([0.7, 1.9])
    gradcheck(bad, [x])
    xs = Tensor(x, requires_grad=True)
    (h,) = backward([vjp(bad)(xs, Tensor(v))], [Tensor(np.ones(2))], inputs=[xs])
    np.testing.assert_allclose(h.data, -np.sin(x) * v)  # the x-derivative alone is right
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(vjp(bad), [x, v])


def test_scratch_ops_stay_out_of_the_engine_registry() -> None:
    assert not {"sin_first_order_only", "sin_cotangent_detached"} & set(core.REGISTRY)


def test_every_opt_out_gives_a_reason() -> None:
    skipped = [info for info in differentiable_opinfos() if info.skip_second_order]
    assert all(len(info.skip_second_order) > 10 for info in skipped)

"""NaN-safety of ``where`` over the whole registry.

The README promises that the branch ``where`` does not take gets exactly zero gradient, never
NaN. For every op, ``where(mask, safe, op(x))`` with the mask true everywhere and x at points where
the op overflows or is undefined (each entry's ``edges``; ordinary sample points for ops that have
none) must give every input a gradient of exactly 0, in a plain backward and a recorded one.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor
from graphgrad.testing import check_where_safe
from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
def test_untaken_branch_gets_exactly_zero_gradient(info: OpInfo) -> None:
    """In a plain and in a recorded backward, at every edge of the entry."""
    first, *edges = info.edge_inputs()
    check_where_safe(info.fn, *first, edges=edges)


def test_every_op_with_a_singular_point_declares_one() -> None:
    """Ops undefined or overflowing somewhere must put such points in ``edges``."""
    must = {"divide", "power", "exp", "log", "log1p", "sqrt", "reciprocal", "square", "prod", "logsumexp", "softmax"}
    declared = {info.name.split("[")[0] for info in OPINFOS if info.edges}
    assert must <= declared, sorted(must - declared)


def test_the_check_sees_a_nan() -> None:
    """Without where, the same points give NaN/inf gradients: the edges do reach the bad region."""
    info = next(i for i in OPINFOS if i.name == "log")
    xs = [Tensor(a, requires_grad=True) for a in info.edge_inputs()[0]]
    with np.errstate(all="ignore"):
        gg.log(xs[0]).sum().backward()
    assert not np.isfinite(xs[0].grad.data).all()

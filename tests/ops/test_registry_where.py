"""NaN-safety of ``where`` over the whole registry.

The README promises that the branch ``where`` does not take gets exactly zero gradient, never
NaN. For every op, ``where(mask, safe, op(x))`` with the mask true everywhere and x at points where
the op overflows or is undefined (each entry's ``edges``; ordinary sample points for ops that have
none) must give every input a gradient of exactly 0, in a plain backward and a recorded one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor
from tests.ops.opinfo import OpInfo, cases, differentiable_opinfos

OPINFOS = differentiable_opinfos()

KNOWN: dict[str, str] = {}  # entry name -> why it is a known failure (strict xfail); empty: none


def untaken_gradients(info: OpInfo, arrays: list[np.ndarray], create_graph: bool) -> list[np.ndarray | None]:
    """Gradients of ``sum(where(True, 0, op(x)))`` in each input."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # the untaken branch may overflow: that is the point
        y = info.fn(*xs)
        z = gg.where(np.ones(y.shape, dtype=bool), Tensor(np.zeros(y.shape)), y)
        z.sum().backward(create_graph=create_graph)
    return [None if x.grad is None else np.asarray(x.grad.data) for x in xs]


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("info", cases(OPINFOS, KNOWN))
def test_untaken_branch_gets_exactly_zero_gradient(info: OpInfo, create_graph: bool) -> None:
    for arrays in info.edge_inputs():
        for k, g in enumerate(untaken_gradients(info, arrays, create_graph)):
            if g is None:
                continue
            bad = g != 0  # NaN counts as bad
            assert not bad.any(), (
                f"{info.name} at {[a.tolist() for a in arrays]}: input {k} gets {g[bad].tolist()} "
                "through the branch where() did not take"
            )


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

"""The registry that drives the generic op tests: one :class:`OpInfo` per public op (or variant).

Every ``tests/ops/opinfo_<family>.py`` module is discovered by file name and lists its ops in
``OPINFOS``; adding an op to graphgrad means adding one entry there. The tests keyed on the
engine's own table of primitives (``graphgrad.ops.core.REGISTRY``) fail until every registered
op is exercised by some entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphgrad import Tensor, no_grad


@dataclass(frozen=True)
class OpInfo:
    """How to test one op.

    ``fn`` takes ``nargs`` tensors and returns a tensor. ``ref`` (mandatory, keyword) is the
    reference forward: it takes the same inputs as float64 NumPy arrays and returns what ``fn``
    should return, written with NumPy or a closed formula, compared within ``ref_rtol`` /
    ``ref_atol``. ``domain`` is the (low, high) range of input values (one pair for all inputs or
    one per input). ``shapes`` is a strategy that draws the list of input shapes (default:
    mutually broadcastable shapes). ``avoid(arrays)`` returns True for inputs too close to a point
    where the op is not differentiable (kinks, ties). ``skip_second_order`` opts out of the
    second-derivative test, with the reason, for an op whose second derivative is genuinely
    undefined.

    ``covers`` names the registry ops (``graphgrad.ops.core.REGISTRY``) this entry exercises,
    forward or backward; the default is the entry's name up to ``[``. ``edges`` lists inputs (one
    tuple of values per case, one value per input) at which the op overflows or is undefined; the
    NaN-safety test puts the op there in the branch ``where`` does not take. ``differentiable``
    is False for ops whose output carries no gradient (comparisons, argmax): they get the forward
    and method-form checks only.
    """

    name: str
    fn: Callable[..., Any]
    nargs: int = 1
    domain: Any = (-3.0, 3.0)
    shapes: Any = None
    avoid: Callable[[Sequence[np.ndarray]], bool] | None = None
    atol: float = 1e-6
    eps: float = 1e-6
    sample: Any = None  # fixed input shapes for the non-Hypothesis tests; default (2, 3) each
    rtol: float = 1e-4
    notes: str = field(default="", compare=False)
    skip_second_order: str = ""  # why second derivatives are not checked (empty: they are)
    ref: Callable[..., Any] = field(kw_only=True, compare=False)
    ref_rtol: float = field(default=1e-10, kw_only=True)
    ref_atol: float = field(default=1e-12, kw_only=True)
    covers: tuple[str, ...] = field(default=(), kw_only=True)
    edges: tuple[tuple[Any, ...], ...] = field(default=(), kw_only=True, compare=False)
    differentiable: bool = field(default=True, kw_only=True)

    @property
    def registry_ops(self) -> tuple[str, ...]:
        """The registry ops this entry claims to exercise."""
        return self.covers or (self.name.split("[")[0],)

    def sample_shapes(self) -> list[tuple[int, ...]]:
        return list(self.sample) if self.sample is not None else [(2, 3)] * self.nargs

    def sample_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Fixed float64 inputs of ``sample_shapes`` drawn uniformly from the domain."""
        rng = np.random.default_rng(seed)
        return [rng.uniform(*self.domain_of(i), shape) for i, shape in enumerate(self.sample_shapes())]

    def edge_inputs(self) -> list[list[np.ndarray]]:
        """The ``edges`` cases as float64 arrays (the sample inputs when none are declared)."""
        if not self.edges:
            return [self.sample_inputs()]
        return [[np.array(v, dtype=np.float64) for v in case] for case in self.edges]

    def domain_of(self, i: int) -> tuple[float, float]:
        if isinstance(self.domain[0], (tuple, list)):
            return tuple(self.domain[i])  # type: ignore[return-value]
        return tuple(self.domain)  # type: ignore[return-value]

    def shape_strategy(self) -> st.SearchStrategy:
        if self.shapes is not None:
            return self.shapes
        if self.nargs == 1:
            return hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4).map(lambda s: [s])
        return hnp.mutually_broadcastable_shapes(
            num_shapes=self.nargs, min_dims=0, max_dims=3, min_side=1, max_side=4
        ).map(lambda r: list(r.input_shapes))


def same_shapes(n: int, min_dims: int = 0, max_dims: int = 3) -> st.SearchStrategy:
    """``n`` copies of one drawn shape."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4).map(lambda s: [s] * n)


def near(values: np.ndarray, points: Any, tol: float = 1e-3) -> bool:
    """True if any entry is within ``tol`` of any of ``points`` (kinks of piecewise ops)."""
    return bool(np.any(np.abs(np.asarray(values)[..., None] - np.asarray(points, dtype=float)) < tol))


def has_ties(values: np.ndarray, tol: float = 1e-3) -> bool:
    """True if two entries are within ``tol`` of each other (where max/min switch)."""
    flat = np.sort(np.asarray(values).reshape(-1))
    return bool(np.any(np.diff(flat) < tol))


# ---------------------------------------------------------------------------- fixed constants
def fixed(make: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``make(*key)`` made once per key, read-only: an entry's constant (an offset, an identity, class
    indices) is then the same array at every call, so :func:`operand` can give it one tensor."""
    made: dict[tuple[Any, ...], np.ndarray] = {}

    def build(*key: Any) -> np.ndarray:
        a = made.get(key)
        if a is None:
            a = made[key] = make(*key)
            a.flags.writeable = False
        return a

    return build


_OPERANDS: dict[int, tuple[np.ndarray, Tensor]] = {}


def operand(a: np.ndarray, like: Any) -> Any:
    """A :func:`fixed` array next to ``like``: for a tensor, one Tensor object for that array at every
    call (a captured step reads it as a constant, where a new tensor at each call is refused and would
    leave the op unchecked); for an array (the reference), the array."""
    if not isinstance(like, Tensor):
        return a
    held = _OPERANDS.get(id(a))
    if held is None or held[0] is not a:
        held = _OPERANDS[id(a)] = (a, Tensor(a))
    return held[1]


# ---------------------------------------------------------------------------- discovery
def families() -> list[str]:
    """Every ``opinfo_<family>.py`` next to this file, by name: new families need no edit here."""
    return sorted(p.stem.removeprefix("opinfo_") for p in Path(__file__).parent.glob("opinfo_*.py"))


def all_opinfos() -> list[OpInfo]:
    """Every entry of every family; names are unique across families."""
    infos: list[OpInfo] = []
    for family in families():
        module = importlib.import_module(f"tests.ops.opinfo_{family}")
        infos.extend(module.OPINFOS)
    return infos


def differentiable_opinfos() -> list[OpInfo]:
    return [info for info in all_opinfos() if info.differentiable]


# ---------------------------------------------------------------------------- drawing inputs
@st.composite
def op_inputs(draw: st.DrawFn, info: OpInfo) -> list[np.ndarray]:
    """Float64 inputs for ``info``: shapes from its strategy, values from its domain."""
    shapes = draw(info.shape_strategy())
    arrays = []
    for i, shape in enumerate(shapes):
        lo, hi = info.domain_of(i)
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
        arrays.append(draw(hnp.arrays(np.float64, shape, elements=elements)))
    return arrays


def cotangent(shape: tuple[int, ...]) -> st.SearchStrategy:
    """An upstream gradient v of an output's ``shape``, drawn by Hypothesis."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0, allow_nan=False, width=64))


def draw_point(data: st.DataObject, info: OpInfo) -> tuple[list[np.ndarray], np.ndarray]:
    """Inputs for ``info`` away from its kinks (``avoid``) and an upstream gradient of its output's
    shape: the point every gradient check of the registry starts from."""
    arrays = data.draw(op_inputs(info))
    if info.avoid is not None:
        assume(not info.avoid(arrays))
    with no_grad():
        shape = info.fn(*[Tensor(a) for a in arrays]).shape
    return arrays, data.draw(cotangent(shape), label="cotangent")


def registry_settings(max_examples: int) -> settings:
    """Hypothesis settings of the registry tests: ``max_examples`` draws per entry, no deadline.

    No shrinking: a failing draw is reported as drawn (inputs are small already), and the strict
    xfails of known defects cost one failing example each instead of a shrink search.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# ---------------------------------------------------------------------------- parametrizing
def cases(infos: Iterable[OpInfo], known: Mapping[str, str] | None = None) -> list[Any]:
    """``pytest.param`` per entry, ids by name; entries in ``known`` are strict xfails with that reason.

    ``known`` maps an entry name to a defect the engine has today (issue number and section). Strict:
    once the defect is fixed the case XPASSes, the run fails, and the mark must go.
    """
    infos = list(infos)
    known = known or {}
    out = []
    for info in infos:
        marks = [pytest.mark.xfail(strict=True, reason=known[info.name])] if info.name in known else []
        out.append(pytest.param(info, id=info.name, marks=marks))
    unknown = set(known) - {info.name for info in infos}
    assert not unknown, f"known failures name entries that do not exist: {sorted(unknown)}"
    return out

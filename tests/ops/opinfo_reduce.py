"""OpInfo entries of the reduction family.

Each reduction is checked over all axes, over the last axis, and over a tuple of axes with
keepdims (the axes follow the drawn input's rank). max/min add a fixed, shuffled ramp to the
input so that the constant-filled arrays Hypothesis likes have a unique maximum (ties are tested
by hand in test_reduce.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from tests.ops.opinfo import OpInfo, has_ties

VARIANTS = ("all", "last", "tuple")


def axes_for(ndim: int, variant: str) -> tuple[Any, bool]:
    """(axis, keepdims) of a variant for an input of rank ``ndim``."""
    if variant == "last" and ndim:
        return -1, False
    if variant == "tuple" and ndim:
        return tuple(range(0, ndim, 2)), True
    return None, False


def _reduction(op: Callable[..., Any], variant: str, **kw: Any) -> Callable[[Any], Any]:
    def fn(x: Any) -> Any:
        axis, keepdims = axes_for(x.ndim, variant)
        return op(x, axis=axis, keepdims=keepdims, **kw)

    return fn


def _ramp(shape: tuple[int, ...]) -> np.ndarray:
    """Distinct offsets 0.05 apart, in a shuffled order fixed by the shape."""
    size = int(np.prod(shape))
    order = np.random.default_rng(size).permutation(size)
    return (0.05 * order).reshape(shape)


def _ramped(op: Callable[..., Any], variant: str) -> Callable[[Any], Any]:
    inner = _reduction(op, variant)
    return lambda x: inner(x + _ramp(x.shape).astype(x.dtype))


def _ties(xs: list[np.ndarray]) -> bool:
    return has_ties(xs[0] + _ramp(xs[0].shape))


def _flat(variant: str) -> Callable[[list[np.ndarray]], bool]:
    """True when some slice is nearly constant (std's derivatives blow up at zero spread)."""

    def avoid(xs: list[np.ndarray]) -> bool:
        axis, _ = axes_for(xs[0].ndim, variant)
        return bool(np.min(np.std(xs[0], axis=axis)) < 0.2)

    return avoid


def _name(op: str, variant: str) -> str:
    return op if variant == "all" else f"{op}[{variant}]"


_AT_LEAST_TWO = hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4).map(lambda s: [s])

OPINFOS = [
    OpInfo("sum", lambda x: gg.sum(x, axis=-1, keepdims=True) if x.ndim else gg.sum(x)),
    OpInfo("mean", lambda x: gg.mean(x, axis=0) if x.ndim else gg.mean(x)),
    *[OpInfo(_name("sum", v), _reduction(gg.sum, v)) for v in VARIANTS[1:]],
    *[OpInfo(_name("mean", v), _reduction(gg.mean, v)) for v in VARIANTS[1:]],
    *[OpInfo(_name("prod", v), _reduction(gg.prod, v), domain=(-2, 2)) for v in VARIANTS],
    *[OpInfo(_name("max", v), _ramped(gg.max, v), avoid=_ties) for v in VARIANTS],
    *[OpInfo(_name("min", v), _ramped(gg.min, v), avoid=_ties) for v in VARIANTS],
    *[OpInfo(_name("var", v), _reduction(gg.var, v)) for v in VARIANTS],
    OpInfo("var[ddof=1]", _reduction(gg.var, "last", ddof=1), shapes=_AT_LEAST_TWO),
    *[OpInfo(_name("std", v), _reduction(gg.std, v), avoid=_flat(v)) for v in VARIANTS],
    OpInfo("std[ddof=1]", _reduction(gg.std, "last", ddof=1), shapes=_AT_LEAST_TWO, avoid=_flat("last")),
    *[OpInfo(_name("logsumexp", v), _reduction(gg.logsumexp, v), domain=(-20, 20)) for v in VARIANTS],
]

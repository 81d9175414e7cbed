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
from tests.ops.opinfo import OpInfo, fixed, has_ties, operand

HUGE = 1e308

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


def _ref(op: Callable[..., Any], variant: str, **kw: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy reduction ``op`` over the axes of ``variant``."""

    def ref(x: np.ndarray) -> np.ndarray:
        axis, keepdims = axes_for(x.ndim, variant)
        return op(x, axis=axis, keepdims=keepdims, **kw)

    return ref


def _var_ref(x: np.ndarray, axis: Any, keepdims: bool, ddof: int = 0) -> np.ndarray:
    """Mean squared deviation over ``axis``, divided by n - ddof: the textbook formula."""
    n = x.size if axis is None else int(np.prod([x.shape[i] for i in np.atleast_1d(axis)]))
    d = x - np.mean(x, axis=axis, keepdims=True)
    return np.sum(d * d, axis=axis, keepdims=keepdims) / (n - ddof)


def _std_ref(x: np.ndarray, axis: Any, keepdims: bool, ddof: int = 0) -> np.ndarray:
    return np.sqrt(_var_ref(x, axis, keepdims, ddof))


def _logsumexp_ref(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))  # inputs within +-20: no overflow


@fixed
def _ramp(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Distinct offsets 0.05 apart, in a shuffled order fixed by the shape."""
    size = int(np.prod(shape))
    order = np.random.default_rng(size).permutation(size)
    return (0.05 * order).reshape(shape).astype(dtype)


def _ramped(op: Callable[..., Any], variant: str) -> Callable[[Any], Any]:
    inner = _reduction(op, variant)
    return lambda x: inner(x + operand(_ramp(x.shape, x.dtype), x))


def _ramped_ref(op: Callable[..., Any], variant: str) -> Callable[[np.ndarray], np.ndarray]:
    inner = _ref(op, variant)
    return lambda x: inner(x + _ramp(x.shape))


def _ties(xs: list[np.ndarray]) -> bool:
    return has_ties(xs[0] + _ramp(xs[0].shape))


def _flat(variant: str) -> Callable[[list[np.ndarray]], bool]:
    """True when some slice is nearly constant (std's derivatives blow up at zero spread)."""

    def avoid(xs: list[np.ndarray]) -> bool:
        axis, _ = axes_for(xs[0].ndim, variant)
        return bool(np.min(np.std(xs[0], axis=axis)) < 0.2)

    return avoid


def _last_axis(op: Callable[..., Any]) -> Callable[[Any], Any]:
    """``op`` along the last axis (over everything for a 0-d input)."""
    return lambda x: op(x, axis=-1 if x.ndim else None)


def _name(op: str, variant: str) -> str:
    return op if variant == "all" else f"{op}[{variant}]"


_AT_LEAST_TWO = hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4).map(lambda s: [s])

OVERFLOW = [([HUGE, HUGE, -HUGE, 1.0],)]  # sums overflow; var of these is inf
PRODUCT_OVERFLOW = [([1e200, 1e200, 1e200, -1.0],)]  # the product of any two others is inf

OPINFOS = [
    OpInfo(
        "sum",
        lambda x: gg.sum(x, axis=-1, keepdims=True) if x.ndim else gg.sum(x),
        ref=lambda x: np.sum(x, axis=-1, keepdims=True) if x.ndim else np.sum(x),
        edges=OVERFLOW,
    ),
    OpInfo(
        "mean",
        lambda x: gg.mean(x, axis=0) if x.ndim else gg.mean(x),
        ref=lambda x: np.mean(x, axis=0) if x.ndim else np.mean(x),
        edges=OVERFLOW,
    ),
    *[OpInfo(_name("sum", v), _reduction(gg.sum, v), ref=_ref(np.sum, v), edges=OVERFLOW) for v in VARIANTS[1:]],
    *[OpInfo(_name("mean", v), _reduction(gg.mean, v), ref=_ref(np.mean, v), edges=OVERFLOW) for v in VARIANTS[1:]],
    *[
        OpInfo(_name("prod", v), _reduction(gg.prod, v), domain=(-2, 2), ref=_ref(np.prod, v), edges=PRODUCT_OVERFLOW)
        for v in VARIANTS
    ],
    *[
        OpInfo(_name("max", v), _ramped(gg.max, v), avoid=_ties, ref=_ramped_ref(np.max, v), edges=OVERFLOW)
        for v in VARIANTS
    ],
    *[
        OpInfo(_name("min", v), _ramped(gg.min, v), avoid=_ties, ref=_ramped_ref(np.min, v), edges=OVERFLOW)
        for v in VARIANTS
    ],
    *[OpInfo(_name("var", v), _reduction(gg.var, v), ref=_ref(_var_ref, v), edges=OVERFLOW) for v in VARIANTS],
    OpInfo(
        "var[ddof=1]",
        _reduction(gg.var, "last", ddof=1),
        shapes=_AT_LEAST_TWO,
        ref=_ref(_var_ref, "last", ddof=1),
        edges=OVERFLOW,
    ),
    *[
        OpInfo(_name("std", v), _reduction(gg.std, v), avoid=_flat(v), ref=_ref(_std_ref, v), edges=OVERFLOW)
        for v in VARIANTS
    ],
    OpInfo(
        "std[ddof=1]",
        _reduction(gg.std, "last", ddof=1),
        shapes=_AT_LEAST_TWO,
        avoid=_flat("last"),
        ref=_ref(_std_ref, "last", ddof=1),
        edges=OVERFLOW,
    ),
    *[
        OpInfo(
            _name("logsumexp", v),
            _reduction(gg.logsumexp, v),
            domain=(-20, 20),
            ref=_ref(_logsumexp_ref, v),
            edges=[([HUGE, HUGE, -HUGE],)],
        )
        for v in VARIANTS
    ],
    OpInfo("argmax", _last_axis(gg.argmax), ref=_last_axis(np.argmax), differentiable=False),
    OpInfo("argmin", _last_axis(gg.argmin), ref=_last_axis(np.argmin), differentiable=False),
]

"""NumPy's functions on tensors: ``np.sum(t)``, ``np.exp(t)``, ``array * t`` give graphgrad tensors.

NumPy hands a call that involves a Tensor to ``Tensor.__array_function__`` (functions such as
``np.sum``) or ``Tensor.__array_ufunc__`` (ufuncs such as ``np.exp`` and the operators of an
ndarray). Both land here. A NumPy function that graphgrad has under the same name runs as that
op, so the result is a tensor with its gradient; NumPy's argument names are matched to
graphgrad's. Any other function gets the plain arrays and returns NumPy's own result, unless
that would silently drop a gradient (a float result from a tensor that requires one while grad
mode is on): then a clear error.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import RECORD, get_mode
from graphgrad.errors import DTypeError
from graphgrad.tensor import Tensor

_ALIASES = {"true_divide": "divide", "absolute": "abs", "amax": "max", "amin": "min", "concat": "concatenate"}
_UNSET = {"out": None, "dtype": None}  # NumPy arguments graphgrad accepts only at their default
_SIGNATURES: dict[Any, tuple[list[str], list[str]] | None] = {}


def _graphgrad_function(name: str) -> Any:
    from graphgrad import ops

    name = _ALIASES.get(name, name)
    return getattr(ops, name) if name in ops.__all__ else None


def _plain(value: Any) -> Any:
    """``value`` with tensors (also inside lists and tuples) replaced by their arrays."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _needs_gradient(values: Any) -> bool:
    if isinstance(values, Tensor):
        return values._requires_grad
    if isinstance(values, (list, tuple)):
        return any(_needs_gradient(v) for v in values)
    if isinstance(values, dict):
        return any(_needs_gradient(v) for v in values.values())
    return False


def _on_arrays(name: str, call: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Run NumPy's function on the plain arrays; refuse if that would drop a gradient."""
    result = call(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
    if get_mode() & RECORD and _needs_gradient((args, kwargs)):
        arrays = result if isinstance(result, tuple) else (result,)
        if any(isinstance(a, np.ndarray) and a.dtype.kind in "fc" for a in arrays):
            raise DTypeError(
                f"numpy.{name} has no graphgrad op, so its result would carry no gradient from a tensor "
                f"that requires one; call it on x.detach() (or under graphgrad.no_grad()) if no gradient is "
                f"needed, or build it from graphgrad ops"
            )
    return result


def _parameters(numpy_func: Any, ours: Any) -> tuple[list[str], list[str]] | None:
    key = (numpy_func, ours)
    if key not in _SIGNATURES:
        try:
            _SIGNATURES[key] = (
                list(inspect.signature(numpy_func).parameters),
                list(inspect.signature(ours).parameters),
            )
        except (TypeError, ValueError):  # no introspectable signature: pass arguments through
            _SIGNATURES[key] = None
    return _SIGNATURES[key]


def function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``func(*args, **kwargs)`` for a NumPy function called with a Tensor among its arguments."""
    name = func.__name__
    ours = _graphgrad_function(name)
    if ours is None:
        return _on_arrays(name, func, args, kwargs)
    params = _parameters(func, ours)
    if params is None:
        return ours(*args, **kwargs)
    theirs, mine = params
    bound = inspect.signature(func).bind(*args, **kwargs).arguments
    extra = bound.pop("kwargs", None) or {}  # a **kwargs of NumPy's (np.pad's constant_values)
    call: dict[str, Any] = {}
    dtype = bound.pop("dtype", None)
    for arg, value in [*bound.items(), *extra.items()]:
        if arg in _UNSET and value is _UNSET[arg]:
            continue
        if arg in mine:
            target = arg
        elif arg in theirs and theirs.index(arg) < len(mine) and mine[theirs.index(arg)] not in call:
            target = mine[theirs.index(arg)]  # same position, another name (np.where's x -> a)
        else:
            raise TypeError(
                f"numpy.{name}(..., {arg}=...) on a graphgrad tensor: graphgrad.{ours.__name__} takes "
                f"({', '.join(mine)}), which has no {arg!r}"
            )
        call[target] = value
    result = ours(**call)
    return result if dtype is None else result.astype(dtype)


def ufunc(uf: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A NumPy ufunc (``np.exp``, ``ndarray + Tensor``...) called with a Tensor among its operands."""
    ours = _graphgrad_function(uf.__name__) if method == "__call__" and not kwargs else None
    if ours is None:
        out = kwargs.get("out")
        result = _on_arrays(uf.__name__, getattr(uf, method), inputs, kwargs)
        for t in out or ():
            if isinstance(t, Tensor):
                t.bump_version()  # NumPy wrote into a tensor's array
        return result
    return ours(*inputs)

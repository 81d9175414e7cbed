"""Ops that users define: their own NumPy forward and their own vector-Jacobian products.

A custom op is an :class:`graphgrad.ops.core.Op`, the class every built-in op is, so backward,
``create_graph`` (second order when the rules are written with graphgrad ops), ``jvp``,
``naive_grad`` / ``path_sum_grad``, the graph drawing and the explain table treat it like a
built-in::

    @graphgrad.custom_op
    def log1pexp(x):                     # NumPy arrays in, a NumPy array out
        return np.logaddexp(0.0, x)

    @log1pexp.defvjp
    def log1pexp_vjp(g, out, x):         # graphgrad tensors in: upstream gradient, output, input
        return g * graphgrad.sigmoid(x)

A forward with several inputs gets one rule per input, ``op.defvjp(rule_x, rule_y)`` (``None``
for an input that gets no gradient), each ``rule(g, out, *inputs, **params)``, the signature of
the built-in rules. Keyword arguments of a call (``op(x, alpha=0.5)``) reach the forward and the
rules. A rule returns its input's gradient, in the input's shape or in the broadcast shape of the
output (the engine sums it back); a rule that returns anything else is named in the error.
``graphgrad.testing.check_op`` runs on a custom op the checks the test suite runs on every
built-in one.

User ops stay out of :data:`graphgrad.ops.core.REGISTRY` (the table of built-in primitives that
the test suite keeps fully covered), so defining one never changes the library; a name that a
built-in op has is refused, so a graph drawing never shows two ops under one name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from graphgrad.errors import BackwardError, ConfigError, DTypeError, ShapeError
from graphgrad.ops.core import REGISTRY, Op, lift
from graphgrad.tensor import Tensor

__all__ = ["CustomOp", "custom_op"]

Forward = Callable[..., Any]
Rule = Callable[..., Any]


class CustomOp:
    """A user-defined primitive: call it on tensors (or arrays and numbers) like a built-in op.

    ``forward(*arrays, **params)`` computes the output with NumPy; :meth:`defvjp` declares the
    gradient rules. ``op`` is the underlying :class:`Op` once the rules are declared.
    """

    def __init__(self, forward: Forward, name: str | None = None) -> None:
        self.name: str = name or str(getattr(forward, "__name__", "custom_op"))
        if self.name in REGISTRY:
            raise ConfigError(
                f"custom op {self.name!r}: a built-in op has this name; pass another, "
                f"e.g. graphgrad.custom_op(name={self.name + '_custom'!r})"
            )
        self.forward = forward
        self.input_names = _input_names(forward, self.name)
        self.op: Op | None = None
        self.__doc__ = forward.__doc__
        self.__name__ = self.name

    @property
    def nargs(self) -> int:
        """How many tensor inputs the op takes (the forward's positional parameters without default)."""
        return len(self.input_names)

    def defvjp(self, *rules: Rule | None) -> CustomOp:
        """Declare one gradient rule per input, ``rule(g, out, *inputs, **params) -> Tensor | None``.

        ``g`` is the gradient of the output, ``out`` the output and ``inputs`` the inputs, all
        tensors; the rule returns the gradient of its input, written with graphgrad ops so that
        it can be differentiated again. Returns the op (usable as a decorator for one input).
        """
        if len(rules) != self.nargs:
            raise ConfigError(
                f"custom op {self.name!r}: its forward takes {self.nargs} input(s) "
                f"({', '.join(self.input_names)}) but defvjp got {len(rules)} rule(s); give one rule per "
                "input, in order (None for an input that gets no gradient)"
            )
        for k, rule in enumerate(rules):
            if rule is not None and not callable(rule):
                raise ConfigError(
                    f"custom op {self.name!r}: the rule for input {k} ({self.input_names[k]}) is a "
                    f"{type(rule).__name__}, not a function"
                )
        checked = tuple(None if r is None else _checked_rule(self.name, k, r) for k, r in enumerate(rules))
        self.op = Op(self.name, _checked_forward(self.name, self.forward), checked, register=False)
        return self

    def __call__(self, *args: Any, **params: Any) -> Tensor:
        """Run the op: tensors, arrays and numbers in, a tensor out (with a node when a gradient is needed)."""
        if self.op is None:
            raise ConfigError(
                f"custom op {self.name!r} has no gradient rules yet: call {self.name}.defvjp(...) before using it"
            )
        if len(args) != self.nargs:
            raise ShapeError(
                f"custom op {self.name!r} takes {self.nargs} input(s) ({', '.join(self.input_names)}), "
                f"got {len(args)}"
            )
        like = next((a for a in args if isinstance(a, Tensor)), None)
        inputs = tuple(lift(a, like) for a in args)
        return self.op(*inputs, **params)

    def __repr__(self) -> str:
        return f"<custom op {self.name}>"


def custom_op(forward: Forward | None = None, *, name: str | None = None) -> Any:
    """Make ``forward`` (NumPy arrays in, an array out) a graphgrad op; then declare its gradient
    with ``.defvjp(...)``. Use as ``@custom_op`` or ``@custom_op(name="...")``."""
    if forward is None:
        return lambda fn: CustomOp(fn, name)
    return CustomOp(forward, name)


def _input_names(forward: Forward, name: str) -> tuple[str, ...]:
    try:
        sig = inspect.signature(forward)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"custom op {name!r}: cannot read the forward's parameters ({exc})") from exc
    names = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            raise ConfigError(
                f"custom op {name!r}: the forward takes *{p.name}; name each input (def {name}(x, y): ...)"
            )
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            names.append(p.name)
    if not names:
        raise ConfigError(f"custom op {name!r}: the forward takes no input (its positional parameters are its inputs)")
    return tuple(names)


def _checked_forward(name: str, forward: Forward) -> Forward:
    """``forward``, refusing a result that is not array data and never handing out an input's array."""

    def run(*arrays: np.ndarray, **params: Any) -> Any:
        views = []
        for a in arrays:  # read-only views: an in-place forward would change the caller's own arrays
            v = a.view()
            v.flags.writeable = False
            views.append(v)
        try:
            out = forward(*views, **params)
        except ValueError as exc:
            if "read-only" not in str(exc):
                raise
            raise ConfigError(
                f"custom op {name!r}: the forward writes into an input ({exc}); inputs are the caller's "
                "arrays: return a new array (x * 2, not x *= 2)"
            ) from None
        if isinstance(out, Tensor):
            raise DTypeError(
                f"custom op {name!r}: the forward returned a Tensor; it runs on NumPy arrays and must "
                "return one (write it with NumPy, or make the whole function of graphgrad ops instead)"
            )
        if np.asarray(out).dtype.kind not in "biufc":
            raise DTypeError(
                f"custom op {name!r}: the forward returned a {type(out).__name__}, not an array of numbers"
            )
        if any(out is a or out is v for a, v in zip(arrays, views)) or (
            isinstance(out, np.ndarray) and not out.flags.writeable
        ):
            out = out.copy()  # the output must be a new array, never an input's own
        return out

    run.__name__ = f"{name}_forward"
    return run


def _checked_rule(name: str, k: int, rule: Rule) -> Rule:
    """``rule``, with what it returns checked: a Tensor (or None) of input ``k``'s shape or of a
    shape that input broadcasts to."""

    def checked(g: Tensor, out: Tensor, *inputs: Tensor, **params: Any) -> Tensor | None:
        got = rule(g, out, *inputs, **params)
        if got is None:
            return None
        where = f"custom op {name!r}: the VJP rule for input {k}"
        if isinstance(got, (tuple, list)):
            raise BackwardError(
                f"{where} returned a {type(got).__name__} of {len(got)}; each rule returns the gradient "
                "of its own input only (declare one rule per input with defvjp)"
            )
        if not isinstance(got, Tensor):
            raise BackwardError(
                f"{where} returned a {type(got).__name__}; return a Tensor computed with graphgrad ops "
                "from g, out and the inputs, so that it can be differentiated again"
            )
        want = inputs[k].shape
        if got.shape != want and not _reduces_to(got.shape, want):
            also = f" (or the output's shape {out.shape})" if out.shape != want else ""
            raise ShapeError(f"{where} returned shape {got.shape}; expected the input's shape {want}{also}")
        return got

    checked.__name__ = f"{name}_vjp_{k}"
    return checked


def _reduces_to(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a gradient of shape ``got`` sums back to ``want``: ``want`` broadcasts to ``got``."""
    try:
        return np.broadcast_shapes(got, want) == got
    except ValueError:
        return False

"""The one mechanism every op goes through.

An :class:`Op` pairs a NumPy forward with one vector-Jacobian-product rule per input. Calling it
runs the forward and, when grad recording is on and an input requires a gradient, attaches a
:class:`Node` to the output: the op, its inputs and parameters, and the inputs' version numbers
(for in-place checks). Rules are written with graphgrad ops, so the engine can run them without
recording (ordinary backward) or while recording (``create_graph=True``, higher derivatives).
Rules return the gradient in the *broadcast* shape; the engine sums it back to each input's shape
(:func:`graphgrad.autograd.engine.input_gradients` is the one function that applies them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import ANOMALY, RECORD, RULES, get_mode
from graphgrad.errors import ConfigError, GraphgradError, ShapeError
from graphgrad.tensor import CAPTURE, Tensor

_wrap = Tensor._wrap

Rule = Callable[..., Tensor | None]
ArrayRule = Callable[..., np.ndarray | None]

TRACER: list[Any] = [None]
"""The active :class:`graphgrad.compile.trace.Tracer` while ``CAPTURE`` is on."""

REGISTRY: dict[str, "Op"] = {}
"""Every op by name: the engine's table of primitives (tests and views read it)."""


class Op:
    """A primitive: ``forward(*arrays, **params) -> ndarray`` and one rule per input.

    ``vjps[k](g, out, *inputs, **params) -> Tensor | None`` is the gradient for input ``k``,
    written with graphgrad ops, in the broadcast shape; ``None`` means zero. ``vjps=None`` marks
    an op whose output carries no gradient (comparisons, argmax). Optional data, each selected
    by the engine (never by the rule):

    - ``array_vjps``: a raw-array fast path, one entry per input (``None`` where the graph rule
      serves): ``rule(g, out, *inputs, **params) -> ndarray | None`` on ndarrays. Used when
      nothing is being recorded (an ordinary backward); must agree with ``vjps``.
    - ``variadic=True``: the op takes any number of inputs; ``vjps`` (and ``array_vjps``) hold a
      single rule called as ``rule(k, g, out, *inputs, **params)`` for input ``k``.
    - ``zero_safe_forward``: the forward to use while the engine applies rules, for ops that
      multiply or divide: there a zero factor annihilates (``0 * inf = 0``, ``0 / 0 = 0``), so a
      zero gradient stays exactly zero whatever the local derivative (``where``'s untaken branch,
      ``x ** 0`` at 0).
    - ``register=False`` keeps the op out of :data:`REGISTRY` (ops made by tests).

    A forward that returns a NumPy view of an input makes the output an alias of that input (one
    version counter); it must not return an input's array itself.
    """

    __slots__ = ("name", "forward", "vjps", "array_vjps", "variadic", "zero_safe_forward")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        vjps: Sequence[Rule | None] | None,
        *,
        array_vjps: Sequence[ArrayRule | None] | None = None,
        variadic: bool = False,
        zero_safe_forward: Callable[..., Any] | None = None,
        register: bool = True,
    ) -> None:
        if register and name in REGISTRY:
            raise ValueError(f"op {name!r} is defined twice")
        if variadic and (vjps is None or len(vjps) != 1 or (array_vjps is not None and len(array_vjps) != 1)):
            raise ValueError(f"variadic op {name!r} declares exactly one rule, called with the input's position")
        self.name = name
        self.forward = forward
        self.vjps: tuple[Rule | None, ...] | None = None if vjps is None else tuple(vjps)
        self.array_vjps: tuple[ArrayRule | None, ...] | None = None if array_vjps is None else tuple(array_vjps)
        self.variadic = variadic
        self.zero_safe_forward = zero_safe_forward
        if register:
            REGISTRY[name] = self

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the forward on tensors; record a node if a gradient will be needed."""
        mode = get_mode()
        forward = self.forward
        if mode & RULES and self.zero_safe_forward is not None:  # a bit test: capture's bit is larger
            forward = self.zero_safe_forward
        try:
            n = len(inputs)
            if params:
                data = forward(*[t.data for t in inputs], **params)
            elif n == 2:
                data = forward(inputs[0].data, inputs[1].data)
            elif n == 1:
                data = forward(inputs[0].data)
            elif n == 3:
                data = forward(inputs[0].data, inputs[1].data, inputs[2].data)
            else:
                data = forward(*[t.data for t in inputs])
        except GraphgradError:
            raise  # the forward's own message (a target out of range): already says what and where
        except (ValueError, IndexError) as exc:
            shapes = ", ".join(str(t.data.shape) for t in inputs)
            raise ShapeError(f"{self.name}: {exc} (input shapes {shapes})") from exc
        if data.__class__ is not np.ndarray:
            data = np.asarray(data)
        out = _wrap(data)
        if data.base is not None:
            _share_counter(out, inputs)
        if mode & RECORD and self.vjps is not None:
            for t in inputs:
                if t._requires_grad:
                    out._requires_grad = True
                    out._node = Node(self, inputs, params, out._vc[0])
                    break
        if mode & (ANOMALY | CAPTURE):
            if mode & ANOMALY:
                from graphgrad.autograd import anomaly

                anomaly.check_forward(self, inputs, out)
            if mode & CAPTURE:
                TRACER[0].record(forward, inputs, params, data, self.name, op_call=True)
        return out

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def _share_counter(out: Tensor, inputs: tuple[Tensor, ...]) -> None:
    """Make ``out`` an alias of the input whose memory its array views (one version counter)."""
    data = out.data
    for t in inputs:
        if np.may_share_memory(data, t.data):
            out._vc = t._vc
            return


class Node:
    """How a tensor was made: the op, its inputs and parameters, and what backward must check."""

    __slots__ = ("op", "inputs", "params", "versions", "out_version", "origin")

    def __init__(self, op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any], out_version: int = 0) -> None:
        self.op = op
        self.inputs: tuple[Tensor, ...] | None = inputs  # None once backward has freed the graph
        self.params = params
        self.versions = _versions(inputs)  # checked by backward
        self.out_version = out_version  # the output's version when made (checked too)
        self.origin: str | None = None  # the user's line, recorded under detect_anomaly

    def __repr__(self) -> str:
        return f"<node {self.op.name}>"


def _versions(inputs: tuple[Tensor, ...]) -> tuple[int, ...]:
    """The inputs' version numbers (one to three inputs written out: this runs at every op call)."""
    n = len(inputs)
    if n == 2:
        return (inputs[0]._vc[0], inputs[1]._vc[0])
    if n == 1:
        return (inputs[0]._vc[0],)
    if n == 3:
        return (inputs[0]._vc[0], inputs[1]._vc[0], inputs[2]._vc[0])
    return tuple([t._vc[0] for t in inputs])


def drawn(draw: Callable[..., np.ndarray], *args: Any) -> Tensor:
    """A tensor of random values ``draw(*args)`` (e.g. a dropout mask from a Generator): a captured
    step calls ``draw(*args)`` again at every replay, so it draws what eager mode would, in order."""
    data = draw(*args)
    if get_mode() & CAPTURE:
        TRACER[0].record(draw, args, {}, data, getattr(draw, "__name__", "random draw"))
    return _wrap(data)


def host(fn: Callable[..., Any], *tensors: Any) -> Any:
    """Call ``fn(*arrays)`` on the tensors' arrays, now and at every replay of a captured step: a check
    or a log that reads values (it may raise), or a buffer update outside the graph (BatchNorm's
    running statistics), without steering which operations run. Public as ``graphgrad.compile.host``."""
    if get_mode() & CAPTURE:
        return TRACER[0].effect(fn, *tensors)
    return fn(*[t.data if isinstance(t, Tensor) else t for t in tensors])


def any_entry(flags: Tensor, what: str) -> bool:
    """Whether any entry of the boolean tensor ``flags`` holds, for a rule that must choose its formula
    in Python (det's gradient where a determinant is 0): a captured step could not repeat the choice
    for later batches, so capture is refused, naming ``what``, instead of freezing it."""
    if get_mode() & CAPTURE:
        from graphgrad.compile.trace import refuse_value_choice  # compile builds on ops

        refuse_value_choice(what)
    return bool(flags.data.any())


def apply(op: Op, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """``op(*inputs, **params)``."""
    return op(*inputs, **params)


_CONSTANTS: dict[tuple[Any, ...], Tensor] = {}
"""Read-only constant tensors by (type, value, dtype, shape): Python-number operands, and arrays of
one value that ops use at every step (BLAS's vector of ones for a sum, a ReLU's zeros, batch norm's
missing weight or bias), the same object at every call, as a captured step needs; and by (name, ...)
the arrays ops build from a shape (:func:`fixed`)."""


def _constant(value: bool | int | float, dtype: np.dtype, shape: tuple[int, ...] = ()) -> Tensor:
    key = (value.__class__, value, dtype, shape)
    t = _CONSTANTS.get(key)
    if t is None:
        t = _wrap(np.full(shape, value, dtype=dtype))
        t.data.flags.writeable = False
        if value == value and len(_CONSTANTS) < 4096:  # NaN never matches itself; keep the cache small
            _CONSTANTS[key] = t
    return t


def fixed(key: tuple[Any, ...], make: Callable[[], np.ndarray]) -> Tensor:
    """A read-only tensor that ``make()`` builds from what ``key`` names (a shape, a dtype, an offset):
    a triangle mask, an identity, a range, made once and the same object at every call, so a captured
    step reads it as a constant (a mask made anew at each call is refused). ``key`` starts with a name."""
    t = _CONSTANTS.get(key)
    if t is None:
        t = _wrap(make())
        t.data.flags.writeable = False
        if len(_CONSTANTS) < 4096:
            _CONSTANTS[key] = t
    return t


def eye(n: int, dtype: Any) -> Tensor:
    """The ``n`` x ``n`` identity (``dtype=bool``: the diagonal as a mask), read-only, one per (n, dtype)."""
    dtype = np.dtype(dtype)
    return fixed(("eye", n, dtype), lambda: np.eye(n, dtype=dtype))


def tri(rows: int, cols: int, k: int = 0) -> Tensor:
    """The boolean mask on and below diagonal ``k`` of a rows x cols matrix, read-only, one per shape."""
    return fixed(("tri", rows, cols, k), lambda: np.tri(rows, cols, k=k, dtype=bool))


def inplace_flag(value: Any, where: str, takes_rng: bool = False) -> bool:
    """PyTorch's ``inplace`` argument, checked: a seed or a generator passed where PyTorch's
    signature puts ``inplace`` must not pass for a truth value."""
    if not isinstance(value, (bool, np.bool_)):
        hint = " (a seed or generator goes in rng=)" if takes_rng else ""
        raise ConfigError(f"{where}: inplace must be True or False, got {value!r}{hint}")
    return bool(value)


def applied(f: Callable[[Tensor], Tensor], x: Any, inplace: Any, name: str) -> Tensor:
    """``f(x)``; with PyTorch's ``inplace=True``, ``f(x)`` written into ``x``, which is returned
    (recorded like ``+=`` where a gradient flows through it: a copy of the old values is kept, so
    no memory is saved)."""
    x = lift(x)
    return x._replace_with(f, f"{name}(inplace=True)") if inplace_flag(inplace, name) else f(x)


def lift(value: Any, like: Tensor | None = None) -> Tensor:
    """Make an op's operand a Tensor without copying.

    Python numbers take the dtype NumPy would give them next to ``like`` (a float next to a
    float32 tensor stays float32), so constants never upcast the hot path. A list or tuple that
    holds tensors is stacked with a recorded op (``gg.mean([x, x + 2])`` differentiates).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _wrap(value)
    if isinstance(value, (bool, int, float)) and like is not None:
        dtype = like.data.dtype
        if dtype.kind not in "fc" or value.__class__ is not float and value.__class__ is not int:
            dtype = np.result_type(dtype, value)
        if value.__class__ is float and value == 0.0 and math.copysign(1.0, value) < 0:
            return _wrap(np.array(value, dtype=dtype))  # keep -0.0 out of the cache (0.0 == -0.0)
        return _constant(value, dtype)
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        return _stack_sequence(value, like)
    return Tensor(value)


def _holds_tensor(seq: Sequence[Any]) -> bool:
    return any(isinstance(v, Tensor) or (isinstance(v, (list, tuple)) and _holds_tensor(v)) for v in seq)


def _stack_sequence(seq: Sequence[Any], like: Tensor | None) -> Tensor:
    """A (nested) list that holds tensors, stacked inside the graph so their gradients flow."""
    from graphgrad.ops.shape import stack

    if like is None:
        like = next((v for v in seq if isinstance(v, Tensor)), None)
    return stack([lift(v, like) for v in seq])


def lift_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Lift both operands of a binary op, each Python number taking the other's dtype."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return a, b
        return a, lift(b, a)
    b = lift(b)
    return lift(a, b), b

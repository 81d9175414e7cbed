"""``capture(fn)``: record a training step once, replay it as a flat plan of array operations.

The first call with a new signature (the shapes and dtypes of the tensor and array arguments, and
the values of the others) runs the step eagerly while recording; the second runs it eagerly and
records again, and the two recordings must agree: an operation that read a fresh array (a random
mask drawn in Python, a tensor made inside the step) or a different op sequence means the step is
not the same list of array operations at every call, and capture refuses it. From the third call
on, the plan replays: no Tensor or Node objects, no graph walk, no rule lookup. The plan used
last is tried first: its own first lines check that the arguments still fit it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import ANOMALY, get_mode, set_mode
from graphgrad.compile import reach
from graphgrad.compile.plan import MISS, ArgSpec, Plan
from graphgrad.compile.trace import CaptureError, GradPresent, Tracer, differs
from graphgrad.ops import core
from graphgrad.tensor import Tensor

MAX_PLANS = 8
"""Signatures kept per step (a new batch size, say); the oldest is forgotten beyond this."""


def _signature(args: tuple[Any, ...]) -> tuple[Any, ...]:
    key: list[Any] = []
    for a in args:
        if isinstance(a, Tensor):
            key.append(("t", a.data.shape, a.data.dtype.str, a._requires_grad))
        elif isinstance(a, np.ndarray):
            key.append(("a", a.shape, a.dtype.str))
        else:
            try:
                hash(a)
            except TypeError:
                raise CaptureError(f"capture: argument of type {type(a).__name__} is neither an array nor a "
                                   "hashable value") from None
            key.append(("v", type(a), a))
    return tuple(key)


def _result_spec(value: Any, tracer: Tracer) -> Any:
    if isinstance(value, Tensor):
        slot = tracer.slot_of.get(id(value.data))
        return ("slot", slot) if slot is not None else ("tensor", value)
    if isinstance(value, tuple):
        return ("tuple", tuple(_result_spec(v, tracer) for v in value))
    if isinstance(value, list):
        return ("list", [_result_spec(v, tracer) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: _result_spec(v, tracer) for k, v in value.items()})
    if isinstance(value, np.ndarray):
        tracer.refuse("capture: the step returned a NumPy array; return tensors (arrays are frozen in a plan)")
    return ("value", value)


def _arrays(args: tuple[Any, ...]) -> list[np.ndarray]:
    return [a.data if isinstance(a, Tensor) else a for a in args if isinstance(a, (Tensor, np.ndarray))]


def _arg_specs(args: tuple[Any, ...], slots: list[int]) -> list[ArgSpec]:
    """What the plan checks of each argument (see :data:`graphgrad.compile.plan.ArgSpec`)."""
    specs: list[ArgSpec] = []
    it = iter(slots)
    for a in args:
        if isinstance(a, Tensor):
            specs.append(("t", next(it), a.data.shape, a.data.dtype))
        elif isinstance(a, np.ndarray):
            specs.append(("a", next(it), a.shape, a.dtype))
        else:
            specs.append(("v", a))
    return specs


def _same_guards(a: list[tuple[Any, str, Any]], b: list[tuple[Any, str, Any]]) -> bool:
    return len(a) == len(b) and all((x[0] is y[0] or (type(x[0]) in (GradPresent, reach.Path) and x[0] == y[0]))
                                    and x[1] == y[1] and x[2] == y[2] for x, y in zip(a, b))


class CapturedStep:
    """A step function with its plans (see :func:`capture`); call it like the function."""

    def __init__(self, fn: Callable[..., Any], fallback: bool = False, watch: Any = ()) -> None:
        self.fn = fn
        self.fallback = fallback
        self.watch = list(watch)
        self.plans: dict[tuple[Any, ...], Plan] = {}
        self._first: dict[tuple[Any, ...], list[Any]] = {}  # a signature's first recording
        self.refused: str | None = None  # why the step runs eagerly (with fallback=True)
        self._last: Plan | None = None  # the plan that ran last: tried first
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = self._positional(args, kwargs)
        plan = self._last
        if plan is not None:
            out = plan.replay(*args)
            if out is not MISS:
                return out
        if self.refused is not None:
            return self.fn(*args)
        key = _signature(args)
        plan = self.plans.get(key)
        if plan is not None:
            out = plan.replay(*args)
            if out is not MISS:
                self._last = plan
                return out
            del self.plans[key]  # a guard no longer holds (a module switched to eval): record again
        self._last = None
        return self._record(key, args)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keyword arguments as the positions they name (a plan matches its arguments by position)."""
        try:
            bound = inspect.signature(self.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise CaptureError(f"capture: calling {getattr(self.fn, '__name__', 'the step')}: {exc}") from None
        bound.apply_defaults()  # a keyword after a skipped default: the default takes its position
        if bound.kwargs:
            raise CaptureError(f"capture: {', '.join(bound.kwargs)} can only be passed by keyword; a captured step "
                               "takes its arguments by position (make them positional parameters)")
        return bound.args

    def _refuse(self, message: str) -> None:
        if not self.fallback:
            raise CaptureError(message)
        self.refused = message
        self.plans.clear()
        self._first.clear()
        self._last = None

    def _record(self, key: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        mode = get_mode()
        if mode & ANOMALY:
            self._refuse("capture: anomaly detection is on; run the step without capture to use it")
            return self.fn(*args)
        if core.TRACER[0] is not None:
            raise CaptureError("capture: a captured step was called inside another one being captured")
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                raise CaptureError("capture: an argument requires a gradient; pass data, and let the step "
                                   "reach parameters through the model")
        tracer = Tracer(strict=not self.fallback, watch=self.watch)
        for path, obj in reach.reached(self.fn):  # rebinding the variable to another optimizer: record again
            tracer.guards.append((path, "target", obj))
            tracer.note_grads(obj)
        arg_slots = [tracer.add_input(a) for a in _arrays(args)]
        start = [t._vc[0] for t in self.watch]
        core.TRACER[0] = tracer
        set_mode(mode | core.CAPTURE)
        try:
            result = self.fn(*args)
            spec = _result_spec(result, tracer)
            if tracer.refusal is None:
                tracer.check_unrecorded("by the end of the step")
        finally:
            set_mode(mode)
            core.TRACER[0] = None
        for t, v0, inside in zip(self.watch, start, tracer.effect_bumps):
            if t._vc[0] - v0 != inside:
                name = f" {t.name!r}" if t.name else ""
                tracer.refuse(f"capture: the step changed a watched tensor{name} of shape {t.shape} in place "
                              "outside the optimizer (a running statistic, say), which a plan would not repeat")
                break
        if tracer.refusal is not None:
            self._refuse(tracer.refusal)
            return result
        first = self._first.pop(key, None)
        if first is None or not _same_guards(first[3], tracer.guards):  # a mode switched: start over
            self._first[key] = [tracer.instructions, tracer.keep, [[a.copy() for a in _arrays(args)]],
                                tracer.guards, False]
            return result
        same_data = any(all(np.array_equal(a, b) for a, b in zip(seen, _arrays(args))) for seen in first[2])
        where = differs(first[0], tracer.instructions, fresh_ok=not same_data)
        if where is not None and same_data:  # cannot tell data from constants yet: wait for other data
            self._first[key] = first
            return result
        if where is None and not first[4] and differs(first[0], tracer.instructions, False, identical=True):
            # equal values made anew at each call (a number in the code, or a count from the batch that
            # came out the same twice): trusted as constants only if a third call agrees (on the same
            # data as before, as for full-batch training, only numbers are trusted: arrays wait above)
            self._first[key] = [tracer.instructions, tracer.keep, first[2] + [[a.copy() for a in _arrays(args)]],
                                tracer.guards, True]
            return result
        if where is not None:
            self._refuse(
                f"capture: two calls of {getattr(self.fn, '__name__', 'the step')} ran different array "
                f"operations ({where}): the step draws fresh arrays in Python (a random mask, a tensor made "
                "inside the step) or branches on values; run it without capture")
            return result
        if len(self.plans) >= MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        plan = Plan(tracer.instructions, _arg_specs(args, arg_slots), spec, tracer.guards, tracer.slot_types)
        self.plans[key] = self._last = plan
        return result


def capture(fn: Callable[..., Any] | None = None, *, fallback: bool = False, watch: Any = ()) -> Any:
    """Capture a training step: ``step = graphgrad.compile.capture(step)`` (or as a decorator).

    The step may run forward, loss, ``backward()``, ``optimizer.zero_grad()`` and ``optimizer.step()``
    (and a scheduler's ``step()``) on tensor or array arguments, and return tensors; later calls with
    the same argument shapes and dtypes replay its array operations bit for bit. Dropout is replayed
    with a fresh mask from the same generator at each call, so masks and the generator's state are
    those of eager mode. Refused with :class:`CaptureError` (the message says what and where):
    values read into Python during capture (``if loss > 3``, ``.item()``), a step whose two first
    calls ran different operations, and changes no plan would repeat (NumPy on ``.data`` or
    ``.grad``, an in-place operator under ``no_grad``, ``clip_grad_norm_``). With ``fallback=True``
    a refused step runs eagerly from then on (``step.refused`` says why) instead of raising.
    ``watch`` lists tensors the step may change only through the optimizer (a model's parameters
    and buffers): a change made any other way (BatchNorm's running statistics) is refused. Python
    state the step reads is fixed at capture, except modules' training flags and settings (a
    Dropout's ``p``), parameters'
    ``requires_grad``, whether a ``.grad`` the step adds into is set, and which model, optimizer or
    scheduler the variables it reads hold: after ``eval()``, ``train()``, ``requires_grad_()`` or
    ``opt = Adam(...)`` the step records again. A value computed in Python from a batch's ``.data``
    is refused once it differs between recordings; one equal on all three is frozen (compute it with
    tensor operations instead).
    """
    if fn is None:
        return functools.partial(capture, fallback=fallback, watch=watch)
    return CapturedStep(fn, fallback=fallback, watch=watch)


_ENABLED = [True]


def enabled() -> bool:
    """Whether training loops capture their step by default (``graphgrad train --no-compile`` turns it off)."""
    return _ENABLED[-1]


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Training loops inside the block run their steps eagerly (no capture)."""
    _ENABLED.append(False)
    try:
        yield
    finally:
        _ENABLED.pop()

"""Recording one call of a step as a flat list of array instructions.

While a step is captured, the ``CAPTURE`` mode bit is on: every op call (forward, and the ops the
gradient rules run), every raw-array operation of the engine (fast-path rules, gradient sums,
copies, storing ``.grad``) and every effect (optimizer ``zero_grad`` / ``step``, :func:`host`
callbacks) reports itself to the active :class:`Tracer`, which turns it into an
:class:`Instruction` over numbered *slots* (the arrays the step makes), *external* tensors
(parameters, constants: their ``.data`` is read at replay) and *constants* (objects used as is).

Reading a tensor's value into Python during capture (``bool``, ``float``, ``int``, ``.item()``,
``.tolist()``) is data-dependent control flow the plan cannot replay: it raises
:class:`CaptureError` (see :func:`refuse_value_read`).
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from graphgrad.autograd.grad_mode import RULES, get_mode, set_mode
from graphgrad.errors import GraphgradError
from graphgrad.ops import core
from graphgrad.ops.core import host

__all__ = ["CaptureError", "Tracer", "host"]  # host lives with the ops that call it (an op may not import this package)

SLOT, EXT, CONST, SEQ = 0, 1, 2, 3


class CaptureError(GraphgradError, RuntimeError):
    """A step that cannot be captured as a flat plan (the message says what and where)."""


class Instruction:
    """``out = fn(*args, **kwargs)``; ``args``/``kwargs`` hold ``(kind, value)`` pairs."""

    __slots__ = ("fn", "args", "kwargs", "out", "what", "normalize", "number", "shapes", "inside")

    def __init__(self, fn: Callable[..., Any], args: list[tuple[int, Any]], kwargs: dict[str, tuple[int, Any]],
                 out: int | None, what: str, normalize: bool) -> None:
        self.fn, self.args, self.kwargs, self.out, self.what = fn, args, kwargs, out, what
        self.normalize = normalize  # make a non-ndarray result an ndarray, as the op call does
        self.number = False  # an op outside gradient rules read a Python number (see differs)
        self.shapes: str | None = None  # an op's forward: its input shapes, for its error messages
        self.inside = ""  # whose gradient rule ran it ("maximum's gradient"), for refusals

    def named(self) -> str:
        """What the instruction is, in the user's terms: an op, and whose gradient rule ran it."""
        return f"{self.what} in {self.inside}" if self.inside else self.what

    def __repr__(self) -> str:
        return f"<{self.what} -> {self.out}>"


def _identical(a: Any, b: Any) -> bool:
    """The same object, or equal ints, strings, dtypes (shapes and sizes, which the plan's argument
    checks pin down), item by item in tuples, lists, dataclasses and per-call holders: not a float
    or array made again at each call, which may be computed from the data and equal by chance."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (int, str, np.dtype)):  # bool is an int
        return bool(a == b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b))
    if dataclasses.is_dataclass(a):
        return all(_identical(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    names = getattr(type(a), "__slots__", None)
    if names is not None and not hasattr(a, "__dict__") and not isinstance(a, (core.Tensor, np.generic)):
        names = (names,) if isinstance(names, str) else names  # a holder an op makes per call, emptied again
        return all(_identical(getattr(a, n, None), getattr(b, n, None)) for n in names)
    return False


def _same(a: Any, b: Any, fresh_ok: bool) -> bool:
    """Whether two recorded operands are the same thing.

    Tensors: the same object. Arrays: the same object, or (``fresh_ok``: the two calls had
    different data) equal values, as for an ``arange`` an op builds from a shape; an array drawn
    at random or computed from the data differs. Other objects: equal, or of one type with the
    same contents (a holder an op makes per call and empties again).
    """
    if a is b:
        return True
    if isinstance(a, core.Tensor) or isinstance(b, core.Tensor):
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (fresh_ok and isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y, fresh_ok) for x, y in zip(a, b))
    try:
        if bool(a == b):
            return True
    except Exception:  # noqa: BLE001 (objects whose == is not a bool)
        pass
    names = getattr(type(a), "__slots__", None)
    if names is not None and not hasattr(a, "__dict__"):
        names = (names,) if isinstance(names, str) else names
        return all(_same(getattr(a, n, None), getattr(b, n, None), fresh_ok) for n in names)
    return False


def differs(first: list[Instruction], second: list[Instruction], fresh_ok: bool, identical: bool = False) -> str | None:
    """Where two recordings of the same step disagree (None if they are the same plan); ``identical``:
    also where an operand is equal but not the same object (see :func:`_identical`) or the step's own
    code passed a Python number (equal numbers share one tensor, whether written in the code or
    computed from the data; gradient rules' numbers are the library's)."""
    for i, (a, b) in enumerate(zip(first, second)):
        if not (a.fn == b.fn and a.out == b.out and len(a.args) == len(b.args) and a.kwargs.keys() == b.kwargs.keys()):
            return f"instruction {i} ({a.named()}) became {b.named()}"
        pairs = list(zip(a.args, b.args)) + [(a.kwargs[k], b.kwargs[k]) for k in a.kwargs]
        for (ka, va), (kb, vb) in pairs:
            if ka != kb or not (_identical(va, vb) if identical else _same(va, vb, fresh_ok)):
                return f"instruction {i} ({a.named()}) read a different {'tensor' if ka == EXT else 'value'}"
        if identical and a.number:
            return f"instruction {i} ({a.named()}) read a Python number"
    if len(first) != len(second):
        return f"the step ran {len(first)} then {len(second)} array operations"
    return None


class Tracer:
    """Turns the calls of one captured step into instructions (see the module docstring)."""

    def __init__(self, strict: bool = True, watch: list[core.Tensor] | tuple[core.Tensor, ...] = ()) -> None:
        self.watch = list(watch)  # tensors only effects may change (parameters, running statistics)
        self.effect_bumps = [0] * len(self.watch)  # version changes made inside effects
        self.strict = strict  # raise at the first refusal; else note it and let the step finish eagerly
        self.refusal: str | None = None
        self.inside = ""  # whose gradient rule the engine is running (see Instruction.inside)
        self.instructions: list[Instruction] = []
        self.slot_of: dict[int, int] = {}  # id(array) -> slot
        self.ext_of: dict[int, core.Tensor] = {}  # id(array) -> the external tensor that holds it
        self.keep: list[Any] = []  # every array and tensor seen, so no id is reused while tracing
        self.n_slots = 0
        self.slot_types: dict[int, tuple[Any, ...]] = {}  # each slot's shape, dtype and strides
        self.guards: list[tuple[Any, str, Any]] = []  # (object, attribute, value) the plan assumes
        # what external tensors and stored gradients held when last seen by a recorded operation
        # or effect: a change made in between (NumPy on .data, clip_grad_norm_) is not in the plan
        self._ext_seen: dict[int, tuple[core.Tensor, np.ndarray, int, np.ndarray]] = {}
        self._grad_seen: dict[int, tuple[core.Tensor, core.Tensor, np.ndarray]] = {}
        self._made_grad: dict[int, core.Tensor] = {}  # id(tensor) -> the .grad this recording stored
        self._cleared: dict[int, core.Tensor] = {}  # tensors whose .grad a recorded zero_grad() set to None
        self._start_grad: dict[int, bool] = {}  # id(parameter) -> whether it had a .grad when the step began

    def refuse(self, message: str) -> None:
        """The step cannot be captured: raise now (strict) or note why and let it run on eagerly."""
        if self.strict:
            raise CaptureError(message)
        if self.refusal is None:
            self.refusal = message

    # ------------------------------------------------------------------ operands
    def add_input(self, array: np.ndarray) -> int:
        slot = self.n_slots
        self.n_slots += 1
        self.slot_of[id(array)] = slot
        self.keep.append(array)
        self.slot_types[slot] = (array.shape, array.dtype, array.strides)
        return slot

    def _operand(self, value: Any) -> tuple[int, Any]:
        if isinstance(value, np.ndarray):
            slot = self.slot_of.get(id(value))
            if slot is not None:
                return SLOT, slot
            t = self.ext_of.get(id(value))
            if t is not None and t.data is value:
                return EXT, t
            self.keep.append(value)
            return CONST, value
        if isinstance(value, core.Tensor):
            slot = self.slot_of.get(id(value.data))
            if slot is not None:
                return SLOT, slot
            self.ext_of[id(value.data)] = value
            self.keep.append(value)
            if id(value) not in self._ext_seen:
                self._see_ext(value)
                if value._requires_grad or isinstance(value, _parameter_class()):
                    self.guard(value, "_requires_grad")  # frozen or unfrozen later: another plan
            return EXT, value
        if isinstance(value, (tuple, list)) and any(isinstance(v, (np.ndarray, core.Tensor)) for v in value):
            return SEQ, (type(value), [self._operand(v) for v in value])
        return CONST, value

    def _result(self, result: Any) -> int | None:
        if not isinstance(result, np.ndarray):
            return None
        slot = self.slot_of.get(id(result))
        if slot is None:
            slot = self.add_input(result)
        return slot

    # ------------------------------------------------------------------ what reports here
    def record(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], result: Any,
               what: str, normalize: bool = True, op_call: bool = False) -> None:
        """An array operation that ran: ``result = fn(*args, **kwargs)`` (``op_call``: an op's forward on
        tensors, whose NumPy errors a plan reports as the op call does)."""
        spec = [self._operand(a) for a in args]
        kw = {k: self._operand(v) for k, v in kwargs.items()}
        ins = Instruction(fn, spec, kw, self._result(result), what, normalize)
        ins.inside = self.inside
        if op_call:
            ins.shapes = ", ".join(str(a.data.shape) for a in args)
        if not get_mode() & RULES:  # a number lifted to a cached read-only 0-d tensor (ops.core.lift)
            ins.number = any(k == EXT and v.data.ndim == 0 and not v.data.flags.writeable for k, v in spec)
        self.instructions.append(ins)

    def effect(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Record ``fn(*args)`` as one instruction and run it now with capture off (its own array
        work is not recorded: the plan calls ``fn`` again at each replay). Tensors are passed as
        their arrays."""
        what = getattr(fn, "__qualname__", repr(fn))
        self.check_unrecorded(f"before {what}")
        spec = [self._operand(a) for a in args]
        self.instructions.append(Instruction(fn, spec, {}, None, what, False))
        mode = get_mode()
        set_mode(mode & ~core.CAPTURE)
        before = [t._vc[0] for t in self.watch]
        try:
            return fn(*[a.data if isinstance(a, core.Tensor) else a for a in args])
        finally:
            set_mode(mode)
            for i, t in enumerate(self.watch):
                self.effect_bumps[i] += t._vc[0] - before[i]
            for key, t in list(self._cleared.items()):
                if t.grad is not None:
                    del self._cleared[key]
            if len(args) == 2 and args[1] is True and getattr(fn, "__name__", "") == "zero_grad":
                # an optimizer's or a model's zero_grad() replays: its Nones are the plan's
                self._cleared.update((id(p), p) for p in _params_of(args[0]))
            self._see_all()  # what the effect changed, it changes again at every replay

    def note_grads(self, obj: Any) -> None:
        """Before the step runs: which parameters of a model or optimizer it reaches have a ``.grad``
        (see :meth:`assign_grad`)."""
        for p in _params_of(obj):
            self._start_grad.setdefault(id(p), p.grad is not None)

    def guard(self, obj: Any, attribute: str) -> None:
        """The step read ``obj.attribute`` (a module's training flag) to choose its operations: the
        plan replays only while it keeps this value, and the step is recorded again otherwise."""
        value = getattr(obj, attribute)
        if not any(o is obj and a == attribute for o, a, _ in self.guards):
            self.keep.append(obj)
            self.guards.append((obj, attribute, value))

    def _guard_grad(self, t: core.Tensor, present: bool) -> None:
        """Whether ``t.grad`` is set when the step starts is part of the plan (stored, or added into)."""
        if not any(isinstance(o, GradPresent) and o.t is t for o, _, _ in self.guards):
            self.keep.append(t)
            self.guards.append((GradPresent(t), "present", present))

    # ------------------------------------------------------------------ unrecorded changes
    def _see_ext(self, t: core.Tensor) -> None:
        self._ext_seen[id(t)] = (t, t.data, t._vc[0], t.data.copy())

    def _see_all(self) -> None:
        for t, *_ in list(self._ext_seen.values()):
            self._see_ext(t)
        for key, (t, _, _) in list(self._grad_seen.items()):
            if t.grad is None:
                del self._grad_seen[key]
            else:
                self._grad_seen[key] = (t, t.grad, t.grad.data.copy())

    def check_unrecorded(self, where: str) -> None:
        """Refuse if a tensor the plan reads, or a gradient it stored, changed since a recorded
        operation or effect last saw it: no instruction would make that change at replay."""
        for t, array, version, values in self._ext_seen.values():
            if t.data is not array or t._vc[0] != version or not _same_values(array, values):
                self.refuse(f"capture: {_describe(t)} changed {where} by code a plan does not record (an "
                            "in-place operator, NumPy on .data, a manual update); change parameters through "
                            "an optimizer's step(), or run this step without capture")
                return
        for t, grad, values in self._grad_seen.values():
            if t.grad is not grad or not _same_values(grad.data, values):
                self.refuse(f"capture: the gradient of {_describe(t)} changed {where} by code a plan does not "
                            "record (clip_grad_norm_, clip_grad_value_, NumPy on .grad); run this step without "
                            "capture")
                return

    def assign_grad(self, t: core.Tensor, array: np.ndarray) -> None:
        """The engine stored ``array`` as ``t.grad`` (it was None): the plan stores its own array there.
        Unless a recorded ``zero_grad()`` or the step's own Python (``model.zero_grad()``, seen as a
        ``.grad`` there at the start and gone now) made it None, the plan holds only while ``t.grad``
        is None when it starts: else eager backward would add into it."""
        if id(t) not in self._cleared and not self._start_grad.get(id(t), False):
            self._guard_grad(t, False)
        self.keep.append(t)
        self.instructions.append(Instruction(store_grad, [(CONST, t), self._operand(array)], {}, None,
                                             "store .grad", False))
        assert t.grad is not None
        self._grad_seen[id(t)] = (t, t.grad, array.copy())
        self._made_grad[id(t)] = t.grad

    def add_grad(self, t: core.Tensor, g: core.Tensor) -> None:
        """The engine adds ``g`` into an existing ``t.grad``: recorded as :func:`add_grad`, which reads
        ``t.grad`` at replay (stored earlier in the step, zeroed by the optimizer, or left from before)."""
        seen = self._grad_seen.get(id(t))
        if seen is not None and (t.grad is not seen[1] or not _same_values(seen[1].data, seen[2])):
            self.refuse(f"capture: the gradient of {_describe(t)} changed before backward added into it, by "
                        "code a plan does not record (clip_grad_norm_, clip_grad_value_, NumPy on .grad); run "
                        "this step without capture")
        if self._made_grad.get(id(t)) is not t.grad:  # a .grad from before the step, or zeros from zero_grad
            self._guard_grad(t, True)  # None at the next call: eager stores instead
        self.keep.append(t)
        self.instructions.append(Instruction(add_grad, [(CONST, t), self._operand(g.data)], {}, None,
                                             "add into .grad", False))
        mode = get_mode()
        set_mode(mode & ~core.CAPTURE)
        try:
            add_grad(t, g.data)
        finally:
            set_mode(mode)
        assert t.grad is not None
        self._grad_seen[id(t)] = (t, t.grad, t.grad.data.copy())
        self._made_grad[id(t)] = t.grad


class GradPresent:
    """Whether ``t.grad`` is set, as a guard: a step that adds into a gradient it did not store
    itself is another plan when that gradient is None (eager backward then stores instead)."""

    __slots__ = ("t",)

    def __init__(self, t: core.Tensor) -> None:
        self.t = t

    @property
    def present(self) -> bool:
        return self.t.grad is not None

    def __eq__(self, other: object) -> bool:  # one per recording: the same guard if on the same tensor
        return isinstance(other, GradPresent) and other.t is self.t

    def __hash__(self) -> int:
        return id(self.t)


def add_grad(t: core.Tensor, array: np.ndarray) -> None:
    """``t.grad = t.grad + array``: backward summing into a gradient already there (two micro-batches,
    ``zero_grad(set_to_none=False)``), by the same Tensor addition as in eager mode."""
    t.grad = t.grad + core.Tensor._wrap(array)  # type: ignore[operator]


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _describe(t: core.Tensor) -> str:
    return f"tensor {t.name!r} of shape {t.shape}" if t.name else f"a tensor of shape {t.shape}"


def store_grad(t: core.Tensor, array: np.ndarray) -> None:
    t.grad = core.Tensor._wrap(array)


def active() -> Tracer:
    tracer = core.TRACER[0]
    if tracer is None:  # the CAPTURE bit is set only while a tracer is installed
        raise CaptureError("internal: capture mode without a tracer")
    return tracer  # type: ignore[no-any-return]


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_line() -> str:
    """`` at FILE:LINE (`source`)`` for the innermost caller outside graphgrad ('' if none)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    filename, line = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, line).strip()
    return f" at {os.path.basename(filename)}:{line}" + (f" (`{source}`)" if source else "")


def _params_of(obj: Any) -> list[core.Tensor]:
    """The parameters of a model (``parameters()``) or an optimizer (``_params()``); none otherwise."""
    if hasattr(obj, "parameters"):
        return list(obj.parameters())
    return list(getattr(obj, "_params", list)())


def _parameter_class() -> type:
    from graphgrad.nn.parameter import Parameter  # nn builds on this package

    return Parameter


def refuse_unrecorded_change(what: str) -> None:
    """Called by Tensor's in-place changes that no gradient flows through, while capturing: the plan
    records operations that make tensors, so it would skip the change."""
    active().refuse(
        f"capture: {what}{user_line()} changed a tensor in place while a step was being captured, with no "
        "gradient flowing through the change; a captured step would not repeat it. Write it out of place "
        "(x = x + 1), or run this step without capture"
    )


def refuse_value_read(what: str) -> None:
    """Called by Tensor's value reads while capturing: the plan cannot replay a Python decision."""
    active().refuse(
        f"capture: {what}{user_line()} read a tensor's value into Python while a step was being captured; a "
        "captured step replays array operations only, so a decision taken on that value would be frozen. Return the "
        "tensor from the step and read it outside, use graphgrad.compile.host(fn, tensor) for a check that "
        "may raise, or run this step without capture"
    )


def refuse_value_choice(what: str) -> None:
    """Called by a rule that chooses its formula from the values (:func:`graphgrad.ops.core.any_entry`)."""
    active().refuse(
        f"capture: {what}{user_line()} chooses its formula from the values, which a captured step would "
        "freeze for later batches; run this step without capture"
    )

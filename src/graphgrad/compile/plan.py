"""Replaying a recorded step: one generated Python function of straight-line array calls.

The instructions become source code, ``s5 = f3(s2, e0.data, c1)``: slots are local variables,
external tensors are read through ``.data`` (a parameter's array as it is at this call), constants
and functions are bound once. No Tensor or Node objects, no graph walk, no operand decoding per
call. Each slot is deleted after its last use, so memory is freed as early as in eager mode,
ufunc calls write into dead arrays of their shape where that is provably safe (:mod:`.buffers`),
and an array made from constants that nobody writes or holds is made once (:mod:`.constants`).

The function takes the step's own arguments and first checks what the plan assumes: each
argument's kind, shape and dtype (or value), and each guard (a module's training flag). If one
does not hold it returns :data:`MISS` before doing anything, and the caller looks for another
plan or records again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.autograd.engine import _quiet, _restore
from graphgrad.compile import buffers, constants, fuse
from graphgrad.compile.trace import CONST, EXT, SEQ, SLOT, Instruction
from graphgrad.errors import GraphgradError, ShapeError
from graphgrad.tensor import Tensor

MISS = object()
"""What a plan returns, having done nothing, when the call is not the one it was recorded for."""

SlotTypes = dict[int, tuple[Any, ...]]
"""Each slot's shape, dtype and strides when recorded."""
ArgSpec = tuple[Any, ...]
"""``("t", slot, shape, dtype)`` a tensor, ``("a", slot, shape, dtype)`` an array, ``("v", value)``."""


class Plan:
    """The compiled replay of one recorded call (see the module docstring)."""

    def __init__(self, instructions: list[Instruction], args: list[ArgSpec], result: Any,
                 guards: list[tuple[Any, str, Any]], slot_types: SlotTypes) -> None:
        self.instructions = instructions
        self.args = args
        self.guards = list(guards)
        self.result = result  # the returned structure, with ("slot", i) / ("tensor", t) / ("value", v) leaves
        self.source, self.replay = _generate(instructions, args, self.guards, result, slot_types)
        """``replay(*args)``: the generated function itself (what :meth:`run` calls)."""

    def __len__(self) -> int:
        return len(self.instructions)

    def run(self, args: tuple[Any, ...]) -> Any:
        """Replay on the step's arguments; :data:`MISS` (nothing done) if they do not fit this plan."""
        return self.replay(*args)


def _generate(instructions: list[Instruction], args: list[ArgSpec], guards: list[tuple[Any, str, Any]],
              result: Any, slot_types: SlotTypes) -> tuple[str, Any]:
    names: dict[int, str] = {}  # id(object) -> its name in the generated function's globals
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "asarray": np.asarray, "wrap": Tensor._wrap,
                                 "Tensor": Tensor, "MISS": MISS, "mul": np.multiply, "sub": np.subtract,
                                 "quiet": _quiet, "restore": _restore}

    def bind(obj: Any, prefix: str) -> str:
        name = names.get(id(obj))
        if name is None:
            name = f"{prefix}{len(names)}"
            names[id(obj)] = name
            namespace[name] = obj
        return name

    def operand(kind: int, value: Any) -> str:
        if kind == SLOT:
            return f"s{value}"
        if kind == EXT:
            return f"{bind(value, 'e')}.data"
        if kind == CONST:
            return bind(value, "c")
        assert kind == SEQ
        seq_type, items = value
        inner = ", ".join(operand(k, v) for k, v in items)
        return f"({inner},)" if seq_type is tuple else f"{bind(seq_type, 't')}(({inner},))"

    returned = set(_result_slots(result))
    arg_slots = {spec[1] for spec in args if spec[0] != "v"}
    into = buffers.reuse(instructions, slot_types, arg_slots, returned)
    made_once = constants.fold(instructions, returned)
    code: list[list[str]] = []  # each instruction's lines
    last_use: dict[int, int] = {}
    for i, ins in enumerate(instructions):
        read = buffers.reads(ins)
        if i in into:
            read.append(into[i])
        fused = fuse.optimizer_lines(instructions, i, bind)
        store = fuse.store_grad_line(ins, bind)
        if fused is not None:
            lines_i, extra = fused
            read += extra
        elif store is not None:
            lines_i = [store]
        elif i in made_once:
            lines_i = [f"s{ins.out} = {bind(made_once[i], 'k')}  # {ins.what}, made once (read-only)"]
        else:
            call = ", ".join([operand(k, v) for k, v in ins.args] + [f"{n}={operand(k, v)}" for n, (k, v) in
                                                                       ins.kwargs.items()])
            if i in into:
                call += f", out=s{into[i]}"
            fn = bind(ins.fn, "f")
            if ins.out is None:
                lines_i = [f"{fn}({call})  # {ins.what}"]
            else:
                lines_i = [f"s{ins.out} = {fn}({call})  # {ins.what}"]
                if ins.normalize and slot_types[ins.out][0] == ():  # NumPy hands back a 0-d result as a scalar
                    lines_i.append(f"if s{ins.out}.__class__ is not ndarray: s{ins.out} = asarray(s{ins.out})")
        code.append(lines_i)
        for s in read:
            last_use[s] = i

    lines = [f"def run({''.join(f'a{i}, ' for i in range(len(args)))}):"]
    for i, spec in enumerate(args):
        if spec[0] == "v":
            value = bind(spec[1], "v")
            lines.append(f"    if a{i} is not {value} and (a{i}.__class__ is not {value}.__class__ or a{i} != {value}):"
                         " return MISS")
            continue
        kind, slot, shape, dtype = spec
        if kind == "t":
            lines.append(f"    if not isinstance(a{i}, Tensor) or a{i}._requires_grad: return MISS")
            lines.append(f"    s{slot} = a{i}.data")
        else:
            lines.append(f"    if a{i}.__class__ is not ndarray: return MISS")
            lines.append(f"    s{slot} = a{i}")
        lines.append(f"    if s{slot}.shape != {shape!r} or s{slot}.dtype != {bind(dtype, 'd')}: return MISS")
    for obj, attribute, value in guards:
        lines.append(f"    if {bind(obj, 'g')}.{attribute} != {bind(value, 'v')}: return MISS")
    lines += ["    q = quiet()  # as the engine's rules: a zero gradient annihilates inf/NaN without a warning",
              "    try:"]
    owner: dict[int, Instruction] = {}  # a line number of the source -> the instruction it runs
    for i, ins in enumerate(instructions):
        for line in code[i]:
            lines.append(f"        {line}")
            owner[len(lines)] = ins
        dead = sorted(s for s, j in last_use.items() if j == i and s not in returned and s != ins.out)
        if dead:
            lines.append(f"        del {', '.join(f's{s}' for s in dead)}")
    lines += [f"        return {_result_source(result, bind)}",
              "    except (ValueError, IndexError) as exc:",
              "        raise_as_op(exc)",
              "        raise",
              "    finally:", "        restore(q)"]
    namespace["raise_as_op"] = lambda exc: _raise_as_op(exc, owner)
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<captured step>", "exec"), namespace)  # noqa: S102 (our own generated code)
    return source, namespace["run"]


def _raise_as_op(exc: BaseException, owner: dict[int, Instruction]) -> None:
    """Raise NumPy's ``ValueError`` or ``IndexError`` from an op's forward as the op call does in eager
    mode (:class:`ShapeError` naming the op and its input shapes); return for anything else."""
    if isinstance(exc, GraphgradError):
        return  # the forward's own message, as in eager mode
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<captured step>":
        tb = tb.tb_next
    ins = None if tb is None else owner.get(tb.tb_lineno)
    if ins is not None and ins.shapes is not None:
        raise ShapeError(f"{ins.what}: {exc} (input shapes {ins.shapes})") from exc


def _result_slots(spec: Any) -> list[int]:
    kind = spec[0]
    if kind == "slot":
        return [spec[1]]
    if kind in ("tuple", "list"):
        return [s for item in spec[1] for s in _result_slots(item)]
    if kind == "dict":
        return [s for item in spec[1].values() for s in _result_slots(item)]
    return []


def _result_source(spec: Any, bind: Any) -> str:
    kind = spec[0]
    if kind == "slot":
        return f"wrap(s{spec[1]})"
    if kind in ("tensor", "value"):
        return bind(spec[1], "r")
    if kind == "tuple":
        return "(" + "".join(_result_source(s, bind) + ", " for s in spec[1]) + ")"
    if kind == "list":
        return "[" + ", ".join(_result_source(s, bind) for s in spec[1]) + "]"
    assert kind == "dict"
    return "{" + ", ".join(f"{bind(k, 'k')}: {_result_source(s, bind)}" for k, s in spec[1].items()) + "}"

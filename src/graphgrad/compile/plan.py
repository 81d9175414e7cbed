"""Replaying a recorded step: one generated Python function of straight-line array calls.

The instructions become source code, ``s5 = f3(s2, e0.data, c1)``: slots are local variables,
external tensors are read through ``.data`` (a parameter's array as it is at this call), constants
and functions are bound once. No Tensor or Node objects, no graph walk, no operand decoding per
call. Each slot is deleted after its last use, so memory is freed as early as in eager mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.compile.trace import CONST, EXT, SEQ, SLOT, Instruction
from graphgrad.tensor import Tensor


class Plan:
    """The compiled replay of one recorded call (see the module docstring)."""

    def __init__(self, instructions: list[Instruction], n_slots: int, arg_slots: list[int], result: Any) -> None:
        self.instructions = instructions
        self.n_slots = n_slots
        self.arg_slots = arg_slots
        self.result = result  # the returned structure, with ("slot", i) / ("tensor", t) / ("value", v) leaves
        self.source, self._run = _generate(instructions, arg_slots, result)

    def __len__(self) -> int:
        return len(self.instructions)

    def run(self, arrays: list[np.ndarray]) -> Any:
        with np.errstate(all="ignore"):  # as the engine's rules: a zero gradient annihilates inf/NaN
            return self._run(*arrays)


def _generate(instructions: list[Instruction], arg_slots: list[int], result: Any) -> tuple[str, Any]:
    names: dict[int, str] = {}  # id(object) -> its name in the generated function's globals
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "asarray": np.asarray, "wrap": Tensor._wrap}

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

    last_use: dict[int, int] = {}

    def uses(kind: int, value: Any) -> list[int]:
        if kind == SLOT:
            return [value]
        if kind == SEQ:
            return [s for k, v in value[1] for s in uses(k, v)]
        return []

    for i, ins in enumerate(instructions):
        for k, v in list(ins.args) + list(ins.kwargs.values()):
            for s in uses(k, v):
                last_use[s] = i
    returned = set(_result_slots(result))

    lines = [f"def run({', '.join(f's{s}' for s in arg_slots)}):"]
    for i, ins in enumerate(instructions):
        call = ", ".join([operand(k, v) for k, v in ins.args] + [f"{n}={operand(k, v)}" for n, (k, v) in
                                                                   ins.kwargs.items()])
        fn = bind(ins.fn, "f")
        if ins.out is None:
            lines.append(f"    {fn}({call})  # {ins.what}")
        else:
            lines.append(f"    s{ins.out} = {fn}({call})  # {ins.what}")
            if ins.normalize:
                lines.append(f"    if s{ins.out}.__class__ is not ndarray: s{ins.out} = asarray(s{ins.out})")
        dead = sorted(s for s, j in last_use.items() if j == i and s not in returned and s != ins.out)
        if dead:
            lines.append(f"    del {', '.join(f's{s}' for s in dead)}")
    lines.append(f"    return {_result_source(result, bind)}")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<captured step>", "exec"), namespace)  # noqa: S102 (our own generated code)
    return source, namespace["run"]


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

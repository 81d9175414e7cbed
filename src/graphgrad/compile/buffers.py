"""Buffer reuse in a plan: an array the plan made and no longer needs becomes the ``out=`` of a
later NumPy ufunc call of the same shape and dtype, instead of a fresh allocation.

Reuse is allowed only where the plan proves nothing else can see the old array:

- the donor was made inside this replay by a plain ufunc call (fresh memory, nobody else's);
- every instruction that reads it is a plain ufunc call (ufuncs keep no reference to their
  inputs and return no views of them): no op forward, rule, ``.grad`` store or effect ever saw it;
- it is not returned and not an argument;
- the receiving call is a plain single-output ufunc with no ``out=`` or ``where=`` of its own,
  whose result had the donor's shape, dtype and memory layout when recorded (so it holds the same
  bits as a fresh array, laid out the same way for what reads it next);
  an elementwise one may read the donor itself (NumPy computes elementwise in place exactly).

Nothing reused outlives the replay that made it: each replay allocates its donors afresh, so what a
user holds from one replay (the returned loss, a ``.grad``) is never written by the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.compile.trace import SEQ, SLOT, Instruction


def _plain_ufunc(ins: Instruction) -> bool:
    fn = ins.fn
    return isinstance(fn, np.ufunc) and fn.nout == 1 and "out" not in ins.kwargs and "where" not in ins.kwargs


def reads(ins: Instruction) -> list[int]:
    """The slots an instruction reads (its operands, in tuples and lists too)."""
    def slots(kind: int, value: Any) -> list[int]:
        if kind == SLOT:
            return [value]
        if kind == SEQ:
            return [s for k, v in value[1] for s in slots(k, v)]
        return []

    return [s for k, v in list(ins.args) + list(ins.kwargs.values()) for s in slots(k, v)]


def reuse(instructions: list[Instruction], slot_types: dict[int, tuple[Any, ...]],
          inputs: set[int], returned: set[int]) -> dict[int, int]:
    """Which instruction writes into which dead slot's array: ``{instruction index: donor slot}``."""
    defined = set(inputs)
    made_by_ufunc: set[int] = set()
    private_ok: dict[int, bool] = {}  # slot -> every reader so far is a plain ufunc
    last_use: dict[int, int] = {}
    for i, ins in enumerate(instructions):
        ufunc = isinstance(ins.fn, np.ufunc)
        for s in reads(ins):
            last_use[s] = i
            private_ok[s] = private_ok.get(s, True) and ufunc
        if ins.out is not None and ins.out not in defined:
            defined.add(ins.out)
            if _plain_ufunc(ins):
                made_by_ufunc.add(ins.out)
    donors = {s for s in made_by_ufunc if private_ok.get(s, True) and s not in returned and slot_types[s][0] != ()}

    chosen: dict[int, int] = {}
    free: dict[tuple[Any, ...], list[int]] = {}
    seen: set[int] = set(inputs)
    for i, ins in enumerate(instructions):
        receives = ins.out is not None and ins.out not in seen and _plain_ufunc(ins) and slot_types[ins.out][0] != ()
        if receives:
            assert ins.out is not None
            key = _key(slot_types[ins.out])
            pool = free.get(key, [])
            elementwise = getattr(ins.fn, "signature", None) is None  # matmul may not write over its input
            own = [s for s in reads(ins) if elementwise and s in donors and last_use[s] == i
                   and _key(slot_types[s]) == key]
            donor = pool.pop() if pool else (own[0] if own else None)
            if donor is not None:
                chosen[i] = donor
                donors.discard(donor)  # its memory now belongs to this instruction's result
        if ins.out is not None:
            seen.add(ins.out)
        for s in set(reads(ins)):
            if s in donors and last_use[s] == i and s not in chosen.values():
                free.setdefault(_key(slot_types[s]), []).append(s)
    return chosen


def _key(shape_dtype_strides: tuple[Any, ...]) -> tuple[Any, ...]:
    shape, dtype, strides = shape_dtype_strides
    return (shape, dtype.str, strides)

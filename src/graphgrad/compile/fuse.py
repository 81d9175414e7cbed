"""Optimizer effects written out per parameter in a plan's source, instead of called as a loop.

A recorded ``optimizer.step()`` replays by calling ``Optimizer.step``, which walks the parameter
groups, reads each ``.grad`` back and looks its state up: on small networks that walk costs more
than the arithmetic. When the plan itself stored every parameter's gradient (from a slot) and
nothing else ran in between, the step becomes one line per parameter that calls the optimizer's
own ``_update`` on that slot (the update rule stays in one place: the optimizer) and bumps the
parameter's version, as ``Optimizer.step`` does. ``zero_grad()`` becomes ``p.grad = None`` lines.

Plain SGD (no momentum, weight decay or maximize, a Python float learning rate: checked at each
replay) is the one update written out as array calls, ``p -= lr * g`` through a scratch array the
plan keeps, because its ``lr * g`` temporary is most of a small network's update time; the
arithmetic, and so every bit, is ``SGD._update``'s (tests/compile/test_plan_rewrites.py).

Each fused block first checks that the optimizer still has the parameter groups it had when
recorded (``load_state_dict`` and ``add_param_group`` change them); if not, it calls the method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphgrad.compile.trace import CONST, SLOT, Instruction, store_grad
from graphgrad.optim.optimizer import Optimizer
from graphgrad.optim.sgd import SGD

Bind = Callable[[Any, str], str]


def is_effect(ins: Instruction) -> bool:
    """An opaque call the plan makes as recorded (an optimizer's step, a host check)."""
    return ins.out is None and ins.fn is not store_grad


def store_grad_line(ins: Instruction, bind: Bind) -> str | None:
    """``p.grad = wrap(s)`` for a recorded gradient store (None for any other instruction)."""
    if ins.fn is not store_grad or ins.args[1][0] != SLOT:
        return None
    return f"{bind(ins.args[0][1], 'e')}.grad = wrap(s{ins.args[1][1]})  # store .grad"


def optimizer_lines(instructions: list[Instruction], i: int, bind: Bind) -> tuple[list[str], list[int]] | None:
    """The source lines for instruction ``i`` if it is a fusable ``zero_grad``/``step`` (else None),
    and the slots those lines read."""
    ins = instructions[i]
    if not ins.args or ins.args[0][0] != CONST or not isinstance(ins.args[0][1], Optimizer):
        return None
    opt: Optimizer = ins.args[0][1]
    if _fused_zero_grad(ins, opt):
        params = [p for group in opt.param_groups for p in group["params"]]
        body = [f"{bind(p, 'e')}.grad = None" for p in params]
        return _guarded(opt, ins, body, bind, checked=False), []
    if ins.fn is Optimizer.step and len(ins.args) == 1 and not ins.kwargs:
        grads = _stored_slots(instructions, i, opt)
        if grads is None:
            return None
        body = [f"S = {bind(opt, 'o')}.state"]
        scratch: dict[tuple[Any, ...], str] = {}
        for group in opt.param_groups:
            general = _update_lines(opt, group, grads, bind)
            plain = _plain_sgd_lines(opt, group, grads, bind, scratch)
            if plain is None:
                body += general
            else:
                body += plain + ["else:"] + [f"    {line}" for line in general]
        return _guarded(opt, ins, body, bind, checked=_checked_since_zero_grad(instructions, i, opt)), sorted(
            set(grads.values()))
    return None


def _fused_zero_grad(ins: Instruction, opt: Optimizer) -> bool:
    """``opt.zero_grad()`` (set_to_none), which :func:`optimizer_lines` writes out."""
    return (ins.fn is Optimizer.zero_grad and len(ins.args) == 2 and not ins.kwargs and ins.args[0][0] == CONST
            and ins.args[0][1] is opt and ins.args[1][0] == CONST and ins.args[1][1] is True)


def _checked_since_zero_grad(instructions: list[Instruction], i: int, opt: Optimizer) -> bool:
    """Whether ``opt.zero_grad()`` ran fused before instruction ``i`` with no effect in between: only
    an effect could change the optimizer's groups, so its check still holds."""
    for ins in reversed(instructions[:i]):
        if _fused_zero_grad(ins, opt):
            return True
        if is_effect(ins):
            return False
    return False


def _update_lines(opt: Optimizer, group: dict[str, Any], grads: dict[int, int], bind: Bind) -> list[str]:
    """The optimizer's own ``_update`` on each parameter of ``group``, as ``Optimizer.step`` calls it."""
    g = bind(group, "grp")
    lines = [f"u = {bind(opt, 'o')}._update"]
    for p in group["params"]:
        e = bind(p, "e")
        lines += [f"st = S.get({e})", f"if st is None: st = S.setdefault({e}, {{}})",
                  f"u({e}.data, s{grads[id(p)]}, st, {g}); {e}._vc[0] += 1"]
    return lines


def _plain_sgd_lines(opt: Optimizer, group: dict[str, Any], grads: dict[int, int], bind: Bind,
                     scratch: dict[tuple[Any, ...], str]) -> list[str] | None:
    """For SGD without momentum, weight decay or maximize (checked at each replay: schedulers
    change a group's values): ``p -= lr * g`` as two ufunc calls through a scratch array kept by
    the plan, one per shape and dtype, instead of ``SGD._update``'s fresh ``lr * g`` (a third of a
    small network's update time). The arithmetic is ``SGD._update``'s: ``lr`` as the parameter's
    dtype (as NumPy 2 treats a Python float, rounded once), one multiply, one subtract, so the
    bits are eager's. Only a Python float ``lr``: a NumPy float64 would make ``lr * g`` a float64
    array, an int may round twice through a double; the general path takes those.
    A parameter whose array no longer has the recorded dtype gets ``SGD._update`` itself. None
    where the rule is not SGD's or a parameter is not a floating-point array."""
    if type(opt)._update is not SGD._update:
        return None
    params = group["params"]
    if not params or any(p.data.dtype.kind != "f" for p in params):
        return None
    g = bind(group, "grp")
    lines = [f"lr = {g}['lr']",
             f"if {g}['momentum'] == 0 and {g}['weight_decay'] == 0 and not {g}['maximize'] "
             f"and lr.__class__ is float:  # plain SGD: p -= lr * g"]
    keys = bind(frozenset(params), "K")
    names = ", ".join(bind(p, "e") for p in params)
    lines.append(f"    if not S.keys() >= {keys}: [S.setdefault(p, {{}}) for p in ({names},)]  # as _state_of")
    rates: dict[Any, str] = {}
    for p in params:
        dtype = p.data.dtype
        if dtype not in rates:  # lr in this dtype, remembered while the group keeps the same lr object
            rates[dtype] = f"l{len(rates)}"
            memo = bind([None, None], "R")
            lines += [f"    if lr is not {memo}[0]: {memo}[:] = lr, {bind(dtype.type, 'T')}(lr)",
                      f"    {rates[dtype]} = {memo}[1]"]
        key = (p.data.shape, dtype.str)
        if key not in scratch:
            scratch[key] = bind(np.empty(p.data.shape, dtype), "B")
        e, buf = bind(p, "e"), scratch[key]
        grad = f"s{grads[id(p)]}"
        lines += [f"    d = {e}.data",  # the array may have been replaced since recording: another dtype, SGD's own
                  f"    if d.dtype is {bind(dtype, 'D')}: mul({grad}, {rates[dtype]}, {buf}); sub(d, {buf}, d)",
                  f"    else: {bind(opt, 'o')}._update(d, {grad}, S[{e}], {g})",
                  f"    {e}._vc[0] += 1"]
    return lines



def _stored_slots(instructions: list[Instruction], i: int, opt: Optimizer) -> dict[int, int] | None:
    """id(parameter) -> the slot the plan stored as its ``.grad`` before instruction ``i``, if every
    parameter of ``opt`` got one and no effect ran between those stores and the step."""
    wanted = {id(p) for group in opt.param_groups for p in group["params"]}
    found: dict[int, int] = {}
    for ins in reversed(instructions[:i]):
        if len(found) == len(wanted):
            break
        if is_effect(ins):
            return None
        if ins.fn is store_grad and id(ins.args[0][1]) in wanted and id(ins.args[0][1]) not in found:
            if ins.args[1][0] != SLOT:
                return None
            found[id(ins.args[0][1])] = ins.args[1][1]
    return found if len(found) == len(wanted) else None


def _guarded(opt: Optimizer, ins: Instruction, body: list[str], bind: Bind, checked: bool) -> list[str]:
    """``body`` while the optimizer's groups are the recorded ones; else the recorded call. The
    check's outcome is kept in ``ok_o<n>``; ``checked``: reuse it (see _checked_since_zero_grad)."""
    o = bind(opt, "o")
    ok = f"ok_{o}"
    call = ", ".join(bind(v, "c") for _, v in ins.args)
    tail = [f"    {line}" for line in body] + ["else:", f"    {bind(ins.fn, 'f')}({call})"]
    if checked:
        return [f"if {ok}:  # {ins.what}, per parameter (groups checked at zero_grad)"] + tail
    groups = opt.param_groups
    checks = [f"{o}.param_groups is {bind(groups, 'G')}", f"len({bind(groups, 'G')}) == {len(groups)}"]
    for k, group in enumerate(groups):
        checks.append(f"{bind(groups, 'G')}[{k}] is {bind(group, 'grp')}")
        checks.append(f"len({bind(group, 'grp')}['params']) == {len(group['params'])}")
    return [f"{ok} = {' and '.join(checks)}", f"if {ok}:  # {ins.what}, per parameter"] + tail

"""Arrays a plan makes once instead of at every replay: a creation call on constants alone
(backward's first gradient, ``np.ones(())``), whose result the plan proves nobody writes or holds.

A recorded ``np.ones(shape, dtype=...)`` or ``np.zeros(...)`` makes the same bits at every replay.
The plan makes it once, read-only, when

- every operand is a constant (no slot, no tensor: nothing that changes between replays);
- no instruction other than the creation has it as its result (a rule that hands its gradient
  back unchanged would make the constant a ``.grad`` or the target of a later in-place sum);
- it is not returned, not stored as a ``.grad``, not passed to an effect (an optimizer step, a
  host check) and not the ``out=`` of any call.

Its readers are then op forwards and gradient rules, which never write their inputs (a caller's
``backward(grad=...)`` array reaches them the same way); the array is read-only all the same, so a
rule that broke that contract would raise instead of changing later replays.
"""

from __future__ import annotations

import numpy as np

from graphgrad.compile.buffers import reads
from graphgrad.compile.trace import CONST, Instruction, store_grad

_CREATORS = (np.ones, np.zeros)


def fold(instructions: list[Instruction], returned: set[int]) -> dict[int, np.ndarray]:
    """``{instruction index: the read-only array it makes}`` for the creations a plan can make once."""
    made: dict[int, int] = {}  # slot -> the instruction that creates it from constants
    for i, ins in enumerate(instructions):
        if (any(ins.fn is f for f in _CREATORS) and ins.out is not None
                and all(kind == CONST for kind, _ in list(ins.args) + list(ins.kwargs.values()))):
            made[ins.out] = i
    blocked: set[int] = set(returned)
    for i, ins in enumerate(instructions):
        if ins.out is not None and made.get(ins.out, i) != i:
            blocked.add(ins.out)  # another instruction hands this array on as its result
        if ins.out is None or "out" in ins.kwargs or ins.fn is store_grad:
            blocked.update(reads(ins))  # an effect, a .grad store, a call that writes an operand
    folded = {}
    for slot, i in made.items():
        if slot not in blocked:
            ins = instructions[i]
            value = np.asarray(ins.fn(*[v for _, v in ins.args], **{k: v for k, (_, v) in ins.kwargs.items()}))
            value.flags.writeable = False
            folded[i] = value
    return folded

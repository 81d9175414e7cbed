"""Names a reader recognizes for every tensor of a graph.

In order of preference: the user's own name (``Tensor(..., name="x1")`` or ``t.name = "z1"``),
a module's parameter path (``hidden.weight``), a module's output written as a call
(``hidden(x)``), a formula over the inputs' names (``wh_11 * x1``, ``sigmoid(hidden(x))``), the
number itself for a scalar literal, and only when a formula would be too long to read a
generated name (``add_3``). Names are unique within a graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from graphgrad.tensor import Tensor
from graphgrad.viz.numbers import fmt

MAX_FORMULA = 28  # longer formulas give way to a generated name

# operator ops: (symbol, precedence); a higher precedence binds tighter
_INFIX = {"add": (" + ", 1), "subtract": (" - ", 1), "multiply": (" * ", 2), "divide": (" / ", 2),
          "matmul": (" @ ", 2), "power": (" ** ", 4)}
_ATOM = 9
PLAIN_NAME = re.compile(r"^[\w.*'\u2032]+(\(.*\))?$")  # a name that needs no parentheses in a formula
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_literal(t: Tensor, name: str | None) -> bool:
    """A scalar constant written as a number (``0.5``, ``2``): drawn at each use, not as one node."""
    if t._node is not None or t._requires_grad or t.data.size != 1:
        return False
    return not name or bool(_NUMBER.match(name.strip()))


def formula_text(op: str, args: list[tuple[str, int]]) -> tuple[str, int]:
    """The text of ``op`` applied to named arguments (each with its precedence)."""
    if op in _INFIX and len(args) == 2:
        sym, prec = _INFIX[op]
        (a, pa), (b, pb) = args
        right_assoc = op == "power"
        left_ok = pa > prec or (pa == prec and not right_assoc)
        right_ok = pb > prec or (pb == prec and (right_assoc or op in ("add", "multiply")))
        a = a if left_ok else f"({a})"
        b = b if right_ok else f"({b})"
        return f"{a}{sym}{b}", prec
    if op == "negative" and len(args) == 1:
        a, pa = args[0]
        return f"-{a}" if pa >= 3 else f"-({a})", 3
    if op == "transpose" and len(args) == 1:
        a, pa = args[0]
        return (f"{a}.T" if pa == _ATOM else f"({a}).T"), _ATOM
    return f"{op}({', '.join(a for a, _ in args)})", _ATOM


def module_outputs(order: Sequence[Tensor], group: dict[int, str]) -> dict[int, tuple[str, int]]:
    """``id(tensor) -> (module path, id of its input)`` for the last op of each module's group.

    ``group`` maps tensors to the module that owns them (its parameters, the ops that read them,
    and the ops between). The output is the member some tensor outside the group consumes (or the
    graph's root); the input is the first consumed tensor from outside that is not a parameter.
    """
    consumers: dict[int, list[Tensor]] = {}
    for t in order:
        if t._node is not None:
            for p in t._node.inputs or ():
                consumers.setdefault(id(p), []).append(t)
    root = order[-1] if order else None
    found: dict[int, tuple[str, int]] = {}
    inputs: dict[str, int] = {}
    for t in order:
        owner = group.get(id(t))
        if owner is None or t._node is None:
            continue
        for p in t._node.inputs or ():
            if owner not in inputs and group.get(id(p)) != owner and not is_literal(p, p.name):
                inputs[owner] = id(p)
        outside = [u for u in consumers.get(id(t), []) if group.get(id(u)) != owner]
        if (outside or t is root) and owner in inputs:
            found[id(t)] = (owner, inputs[owner])
    return found


def readable_names(
    order: Iterable[Tensor], given: dict[int, str], outputs: dict[int, tuple[str, int]] | None = None
) -> dict[int, str]:
    """``id(tensor) -> name`` for every tensor of ``order`` (inputs before the tensors they make)."""
    names: dict[int, str] = {}
    prec: dict[int, int] = {}
    used: dict[str, int] = {}
    counts: dict[str, int] = {}
    outputs = outputs or {}
    order = list(order)
    taken = {name for t in order if (name := given.get(id(t)) or t.name)}  # the user's own names

    def unique(name: str) -> str:
        n = used.get(name, 0) + 1
        used[name] = n
        return name if n == 1 else f"{name} #{n}"

    def generated(base: str) -> str:
        """``base_1``, ``base_2``, ...: never a name the user gave a tensor."""
        while True:
            counts[base] = counts.get(base, 0) + 1
            if f"{base}_{counts[base]}" not in taken:
                return f"{base}_{counts[base]}"

    for t in order:
        name, p = given.get(id(t)) or t.name, _ATOM
        if name:
            p = _ATOM if PLAIN_NAME.match(name) else 0
        elif id(t) in outputs:
            path, src = outputs[id(t)]
            arg = names.get(src, "")
            name = f"{path}({arg})" if len(path) + len(arg) + 2 <= MAX_FORMULA else f"{path}(\u2026)"
        elif t._node is not None:
            args = [(names[id(q)], prec[id(q)]) for q in t._node.inputs or ()]
            text, p = formula_text(t._node.op.name, args)
            if len(text) > MAX_FORMULA:
                text, p = generated(t._node.op.name), _ATOM
            name = text
        elif t.data.size == 1 and not t._requires_grad:
            name = fmt(t.data.reshape(-1)[0], 6, unicode_minus=False)
            p = _ATOM if not name.startswith("-") else 3
        else:
            name = generated("x" if t._requires_grad else "data")
        if not is_literal(t, name):
            name = unique(name)
        names[id(t)] = name
        prec[id(t)] = p
    return names

"""Each step of a tensor graph written in matrix notation, with the matrices it multiplies.

Forward: ``hidden(x) = x · hidden.weightᵀ + hidden.bias``. Backward, for the input in slot k of a
consumer U (``∂L/∂U`` is the consumer's finished gradient, the upstream gradient):

    matmul   ∂L/∂A = ∂L/∂U · Bᵀ          ∂L/∂B = Aᵀ · ∂L/∂U
    linear   ∂L/∂x = ∂L/∂U · W           ∂L/∂W = (∂L/∂U)ᵀ · x    ∂L/∂b = Σ_rows ∂L/∂U
    sigmoid  ∂L/∂A = ∂L/∂U ⊙ U ⊙ (1 − U)  (the activation's derivative, elementwise)

The operands shown are the forward values the formula names (``Bᵀ``, ``U ⊙ (1 − U)``); the result
is always the engine's own rule applied to ``∂L/∂U`` (computed by the caller), so what the page
shows is what ``backward()`` computes. Ops without an entry here get a generic formula.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from graphgrad.tensor import Tensor
from graphgrad.viz.naming import PLAIN_NAME

T = "\u1d40"  # superscript T
DOT = " \u00b7 "
HAD = " \u2299 "  # elementwise product
DIV = " \u2298 "  # elementwise division
MINUS = "\u2212"


@dataclass
class Operand:
    """A matrix of the formula; ``before`` is the operator written between it and the previous one."""

    label: str
    data: np.ndarray = field(repr=False)
    before: str = ","


@dataclass
class Formula:
    """``lhs = rhs``; ``operands`` are the matrices on the right, ``result`` the left side's value."""

    lhs: str
    rhs: str
    operands: list[Operand]
    result: np.ndarray = field(repr=False)
    note: str = ""
    tail: str = ""  # written after the last operand, e.g. ") / 4"

    @property
    def text(self) -> str:
        return f"{self.lhs} = {self.rhs}"


def wrap(name: str) -> str:
    """A name as an operand: parenthesized unless it is a plain name or a call."""
    return name if PLAIN_NAME.match(name) else f"({name})"


def grad_of(name: str) -> str:
    return f"\u2202L/\u2202{wrap(name)}"


def transposed(label: str) -> str:
    return f"{wrap(label)}{T}"


def _mat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


_ELEMENTWISE = ("add", "subtract", "multiply", "divide")


def _sum_note(shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> tuple[str, str]:
    """How a broadcast input's gradient is summed back: a prefix for the formula and a note."""
    if shape_in == shape_out:
        return "", ""
    if len(shape_out) == 2 and shape_in in ((shape_out[1],), (1, shape_out[1])):
        return "\u03a3_rows ", "summed over the rows (the examples of the batch): the same entry was added to every row"
    if len(shape_in) == 0 or int(np.prod(shape_in)) == 1:
        return "\u03a3 ", "summed over every entry: the same number was used for all of them"
    return "\u03a3_broadcast ", "summed over the axes along which it was broadcast"


def forward_formula(t: Tensor, name_of: Callable[[Tensor], str]) -> Formula:
    """``U = …`` for the op that made ``t``, with its inputs as operands."""
    node = t._node
    assert node is not None and node.inputs is not None
    op, ins = node.op.name, node.inputs
    names = [name_of(p) for p in ins]
    lhs = name_of(t)
    operands = [Operand(n, _mat(p.data)) for n, p in zip(names, ins)]
    if op == "linear":
        x, w = names[0], names[1]
        rhs = f"{wrap(x)}{DOT}{transposed(w)}" + (f" + {wrap(names[2])}" if len(ins) > 2 else "")
        operands = [Operand(x, _mat(ins[0].data)), Operand(transposed(w), _mat(ins[1].data).T)]
        operands += [Operand(names[2], _mat(ins[2].data))] if len(ins) > 2 else []
    elif op == "matmul":
        rhs = f"{wrap(names[0])}{DOT}{wrap(names[1])}"
    elif op in ("add", "subtract", "multiply", "divide"):
        sym = {"add": " + ", "subtract": f" {MINUS} ", "multiply": HAD, "divide": DIV}[op]
        if op == "multiply" and (ins[0].data.size == 1 or ins[1].data.size == 1):
            sym = DOT
        rhs = sym.join(wrap(n) for n in names)
    elif op == "sigmoid":
        rhs = f"\u03c3({names[0]}) = 1 / (1 + e^({MINUS}{wrap(names[0])})), elementwise"
    elif op == "relu":
        rhs = f"max({names[0]}, 0), elementwise"
    elif op == "normalize_affine":  # training batch norm: the batch's statistics per channel
        x, w, b = names
        rhs = (f"({x} {MINUS} mean) / √(var + ε){DOT}{w} + {b}, mean and variance per channel over "
               "the batch")
    elif op == "cross_entropy":
        reduce = "mean over the rows" if node.params.get("reduction") == "mean" else node.params.get("reduction", "")
        rhs = f"{reduce} of {MINUS}log softmax({names[0]})[row, {names[1]}]"
    else:
        rhs = f"{op}({', '.join(names)})"
    return Formula(lhs, rhs, operands, _mat(t.data))


def backward_formula(
    u: Tensor, k: int, name_of: Callable[[Tensor], str], upstream: np.ndarray, result: np.ndarray
) -> Formula:
    """``∂L/∂(input k) = …`` for consumer ``u``; ``result`` is the rule's value (shown, not recomputed)."""
    node = u._node
    assert node is not None and node.inputs is not None
    op, ins = node.op.name, node.inputs
    a = ins[k]
    names = [name_of(p) for p in ins]
    g_label = grad_of(name_of(u))
    g = Operand(g_label, _mat(upstream))
    lhs = grad_of(names[k])
    other = ins[1 - k] if len(ins) == 2 else None
    summed, note = _sum_note(a.shape, u.shape) if op in _ELEMENTWISE else ("", "")
    out = _mat(u.data)

    def f(rhs: str, operands: list[Operand], note: str = note, tail: str = "") -> Formula:
        return Formula(lhs, rhs, operands, _mat(result), note, tail)

    if op == "linear":
        if k == 0:
            return f(f"{g_label}{DOT}{wrap(names[1])}", [g, Operand(names[1], _mat(ins[1].data), "\u00b7")])
        if k == 1:
            return f(f"({g_label}){T}{DOT}{wrap(names[0])}", [Operand(f"({g_label}){T}", _mat(upstream).T),
                                                            Operand(names[0], _mat(ins[0].data), "\u00b7")],
                     "the weight is stored (out, in), as in PyTorch, so this is the transpose of "
                     f"{transposed(names[0])}{DOT}{g_label}")
        return f(f"\u03a3_rows {g_label}", [g],
                 "summed over the rows (the examples of the batch): the bias was added to every row")
    if op == "matmul" and a.ndim == 2 and other is not None and other.ndim == 2:
        if k == 0:
            b_t = Operand(transposed(names[1]), _mat(ins[1].data).T, "\u00b7")
            return f(f"{g_label}{DOT}{transposed(names[1])}", [g, b_t])
        a_t = Operand(transposed(names[0]), _mat(ins[0].data).T)
        return f(f"{transposed(names[0])}{DOT}{g_label}", [a_t, Operand(g_label, _mat(upstream), "\u00b7")])
    if op == "add":
        return f(f"{summed}{g_label}", [g])
    if op == "subtract":
        return f(f"{summed}{g_label}" if k == 0 else f"{MINUS}{summed}{g_label}", [g])
    if op == "multiply" and other is not None:
        scalar = a.data.size == 1 and other.data.size == 1
        sym = DOT if scalar or other.data.size == 1 else HAD
        rhs = f"{g_label}{sym}{wrap(names[1 - k])}"
        return f(f"{summed}({rhs})" if summed else rhs, [g, Operand(names[1 - k], _mat(other.data), sym.strip())])
    if op == "divide" and other is not None:
        if k == 0:
            rhs = f"{g_label}{DIV}{wrap(names[1])}"
            return f(f"{summed}({rhs})" if summed else rhs, [g, Operand(names[1], _mat(ins[1].data), DIV.strip())])
        rhs = f"{MINUS}{g_label}{HAD}{wrap(names[0])}{DIV}{wrap(names[1])}\u00b2"
        return f(f"{summed}({rhs})" if summed else rhs, [g, Operand(names[0], _mat(ins[0].data), HAD.strip()),
                                                         Operand(names[1], _mat(ins[1].data), DIV.strip())])
    if op == "sigmoid":
        label = f"\u03c3\u2032 = {wrap(name_of(u))}{HAD}(1 {MINUS} {wrap(name_of(u))})"
        return f(f"{g_label}{HAD}{wrap(name_of(u))}{HAD}(1 {MINUS} {wrap(name_of(u))})",
                 [g, Operand(label, out * (1 - out), HAD.strip())],
                 "the sigmoid's derivative is σ(a)(1 − σ(a)), elementwise")
    if op == "tanh":
        label = f"1 {MINUS} {wrap(name_of(u))}\u00b2"
        return f(f"{g_label}{HAD}({label})", [g, Operand(label, 1 - out**2, HAD.strip())])
    if op == "relu":
        label = f"[{names[0]} > 0]"
        return f(f"{g_label}{HAD}{label}", [g, Operand(label, (_mat(a.data) > 0).astype(np.float64), HAD.strip())],
                 "the ReLU passes the gradient where its input was positive and blocks it elsewhere")
    if op == "exp":
        return f(f"{g_label}{HAD}{wrap(name_of(u))}", [g, Operand(name_of(u), out, HAD.strip())])
    if op == "log":
        return f(f"{g_label}{DIV}{wrap(names[0])}", [g, Operand(names[0], _mat(a.data), DIV.strip())])
    if op == "negative":
        return f(f"{MINUS}{g_label}", [g])
    if op == "transpose":
        return f(f"({g_label}){T}", [g])
    if op in ("sum", "mean") and node.params.get("axis") is None:
        n = a.data.size
        rhs = f"{g_label} in every entry" if op == "sum" else f"{g_label} / {n} in every entry"
        return f(rhs, [g], "every entry of the input counts once in the " + ("sum" if op == "sum" else "mean"))
    if op == "power" and k == 0 and other is not None and other.data.size == 1:
        p = float(np.asarray(other.data).reshape(-1)[0])
        label = f"{p:g}{DOT}{wrap(names[0])}^{p - 1:g}" if p != 2 else f"2{DOT}{wrap(names[0])}"
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** negative: the derivative is infinite
            local = np.zeros_like(_mat(a.data)) if p == 0 else p * _mat(a.data) ** (p - 1)  # x ** 0 is constant
        return f(f"{g_label}{HAD}{label}" if a.data.size > 1 else f"{g_label}{DOT}{label}",
                 [g, Operand(label, local, HAD.strip() if a.data.size > 1 else "\u00b7")])
    if op == "cross_entropy" and k == 0:
        z = _mat(a.data).astype(np.float64)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        soft = e / e.sum(axis=-1, keepdims=True)
        target = _mat(ins[1].data)
        rows = z.shape[0] if z.ndim == 2 else 1
        if target.dtype.kind in "iu" and z.ndim == 2:
            onehot = np.zeros_like(soft)
            onehot[np.arange(rows), target.reshape(-1)] = 1.0
        else:
            onehot = target.astype(np.float64)
        scale = f" / {rows}" if node.params.get("reduction") == "mean" else ""
        return f(f"{g_label}{DOT}(softmax({names[0]}) {MINUS} onehot({names[1]})){scale}",
                 [g, Operand(f"softmax({names[0]})", soft, "\u00b7 ("), Operand(f"onehot({names[1]})", onehot, MINUS)],
                 "the softmax's probabilities minus 1 at each row's true class" +
                 (", divided by the number of rows (the loss is their mean)" if scale else ""), ")" + scale)
    return f(f"the {op} rule applied to {g_label}", [g])

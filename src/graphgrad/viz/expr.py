"""A safe parser for the expressions of ``graphgrad explain``: arithmetic over named scalars.

The grammar is small (numbers, names, ``+ - * / **``, unary minus/plus, parentheses, and calls
of graphgrad's elementwise functions by plain name) and is read by a hand-written tokenizer and
an operator-precedence parser with explicit stacks, following Python's precedence (``-x**2`` is
``-(x**2)``, ``**`` groups to the right). Nothing recurses per term or per level, so a sum of
10,000 terms parses, evaluates and checks under the default recursion limit; nothing is ever
passed to ``eval``. Anything outside the grammar, a number float64 cannot hold, an expression too
long or too deeply nested, and a point where a value or a gradient is not finite are refused with
one line naming the problem and its column (1-based).
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import graphgrad
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor
from graphgrad.viz._rules import input_gradients
from graphgrad.viz.naming import MAX_FORMULA

MAX_LENGTH = 100_000  # characters
MAX_OPERATIONS = 20_000  # operators and function calls (a 10,000-term sum has 9,999)
MAX_NESTING = 200  # open parentheses, or signs in a row (Python's parser allows 200 parentheses)

UNARY = ("exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "negative")
BINARY = {"maximum": "maximum", "minimum": "minimum", "max": "maximum", "min": "minimum"}
FUNCTIONS = (*UNARY, *BINARY)
CONSTANTS = {"pi": float(np.pi), "e": float(np.e)}

_BINOPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "+": graphgrad.add, "-": graphgrad.subtract, "*": graphgrad.multiply, "/": graphgrad.divide,
    "**": graphgrad.power,
}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "sign": 3, "**": 4}  # "sign": unary minus / plus
_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_TOKEN = re.compile(rf"(?P<space>[ \t]+)|(?P<number>{_NUMBER})|(?P<name>[^\W\d]\w*)|(?P<op>\*\*|[-+*/(),])")
_SIGNED_NUMBER = re.compile(rf"[+-]?{_NUMBER}")
_GRAMMAR = "use numbers, names, + - * / ** and ( )"
_REFUSED_CHARACTERS = {  # character -> (what, hint)
    ".": ("attribute access ('.') is not allowed", _GRAMMAR),
    "[": ("indexing ('[') is not allowed", _GRAMMAR), "]": ("indexing (']') is not allowed", _GRAMMAR),
    "'": ("text in quotes is not allowed", _GRAMMAR), '"': ("text in quotes is not allowed", _GRAMMAR),
    "^": ("operator '^' is not supported", "write x**2 for a power"),
    "=": ("'=' is not allowed (no keyword arguments or assignments)", _GRAMMAR),
    ":": ("':' is not allowed (no lambdas, slices or assignments)", _GRAMMAR),
    "\n": ("a line break is not allowed", "the expression must be on one line"),
    "\r": ("a line break is not allowed", "the expression must be on one line"),
}


class ExpressionError(ConfigError):
    """An expression or ``--at`` value the parser refuses; the message gives the column (1-based)."""


@dataclass(frozen=True)
class Node:
    """One number, name, operator or call; ``args`` index earlier nodes, ``start:end`` is its text."""

    kind: str  # "number", "name", "sign" (unary minus), "binary" or "call"
    start: int
    end: int
    op: str = ""  # the name, operator symbol or function name
    value: float = 0.0  # for numbers
    args: tuple[int, ...] = ()


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its nodes, every node after its arguments; the last is the whole."""

    text: str
    nodes: tuple[Node, ...]

    def variables(self) -> list[str]:
        """The variable names, in order of first appearance (function names and pi/e excluded)."""
        seen: dict[str, None] = {}
        for n in self.nodes:  # leaves are added as they are read, left to right
            if n.kind == "name" and n.op not in CONSTANTS:
                seen.setdefault(n.op)
        return list(seen)

    def source(self, node: Node) -> str:
        """The text ``node`` was read from (without parentheses around it)."""
        return self.text[node.start:node.end]


# ---------------------------------------------------------------------------------- messages
def _short(text: str, width: int = 24) -> str:
    """``text`` cut to about ``width`` characters, saying how long it was."""
    return text if len(text) <= width else f"{text[:width - 1]}\u2026 ({len(text):,} characters)"


def _excerpt(text: str, start: int) -> str:
    """The expression, or the part of it around offset ``start`` when it is long, quoted."""
    if len(text) <= 60:
        return repr(text)
    lo, hi = max(0, start - 25), min(len(text), start + 25)
    return ("\u2026" if lo else "") + repr(text[lo:hi]) + ("\u2026" if hi < len(text) else "")


def _error(text: str, start: int, what: str, hint: str = "") -> ExpressionError:
    """One line: what is wrong, its column, the text around it, then what to do."""
    return ExpressionError(f"{what} at column {start + 1} of {_excerpt(text, start)}" + (f"; {hint}" if hint else ""))


def _character(ch: str) -> tuple[str, str]:
    """Why ``ch`` cannot start a token, and what to write instead."""
    if ch in _REFUSED_CHARACTERS:
        return _REFUSED_CHARACTERS[ch]
    if ch in "@%&|~<>!":
        return f"operator {ch!r} is not supported", "use + - * / **"
    if not ch.isprintable() or ch.isspace():
        described = unicodedata.name(ch, "not a printable character")
        return f"character U+{ord(ch):04X} ({described}) is not allowed", _GRAMMAR
    return f"character {ch!r} (U+{ord(ch):04X}) is not allowed", _GRAMMAR


def _bad_name(name: str) -> str:
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword, not allowed in an expression"
    return f"{_short(name)!r} is not a valid name"


def _float(literal: str) -> float | str:
    """``literal`` (already known to be a decimal number) as a float, or why float64 cannot hold it."""
    value = float(literal)
    if not np.isfinite(value):
        return f"{_short(literal)} is too large for float64 (at most about 1.8e308)"
    mantissa = re.split("[eE]", literal)[0]
    if value == 0.0 and mantissa.strip("+-0.") != "":
        return f"{_short(literal)} is too close to zero for float64 (it would become 0)"
    return value


# ---------------------------------------------------------------------------------- parsing
def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """``(kind, text, offset)`` of each token; refuses a character outside the grammar at its column."""
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos, *_character(text[pos]))
        kind = m.lastgroup or ""
        if kind != "space":
            yield kind, m.group(), pos
        pos = m.end()


def parse(text: str) -> Expression:
    """Parse and check ``text``; raises :class:`ExpressionError` (with a column) on anything unsafe."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression; write one like \"x*(y**2+z)\"")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long: {len(text):,} characters, at most {MAX_LENGTH:,} "
                              f"are accepted (column {MAX_LENGTH + 1} is past the limit)")
    return _Parser(text).run()


class _Parser:
    """Shunting-yard over the tokens: ``operands`` holds (node, outer start, outer end) (the outer
    span includes enclosing parentheses), ``pending`` the operators and open parentheses."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes: list[Node] = []
        self.operands: list[tuple[int, int, int]] = []
        # ("sign", "-", start) | ("binary", "*", start) | ("(", "", start) | ("call", name, start, nargs)
        self.pending: list[tuple] = []
        self.open = 0  # parentheses open now
        self.signs = 0  # signs in a row
        self.operations = 0

    def fail(self, start: int, what: str, hint: str = "") -> ExpressionError:
        return _error(self.text, start, what, hint)

    def add(self, node: Node, outer: tuple[int, int] | None = None) -> None:
        self.nodes.append(node)
        lo, hi = outer or (node.start, node.end)
        self.operands.append((len(self.nodes) - 1, lo, hi))

    def count_operation(self, start: int) -> None:
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise self.fail(start, f"too many operations (at most {MAX_OPERATIONS:,}; this is one more)")

    def run(self) -> Expression:
        expect_operand = True
        tokens = _tokens(self.text)
        for kind, tok, start in tokens:
            if expect_operand:
                expect_operand = self.operand(kind, tok, start, tokens)
            else:
                expect_operand = self.operator(kind, tok, start)
        if expect_operand:
            raise self.fail(len(self.text), "the expression ends too early: expected a number, a name or '('")
        while self.pending:
            if self.pending[-1][0] in ("(", "call"):
                raise self.fail(self.pending[-1][2], "'(' is never closed")
            self.reduce()
        return Expression(self.text, tuple(self.nodes))

    def operand(self, kind: str, tok: str, start: int, tokens: Iterator[tuple[str, str, int]]) -> bool:
        """Read a token where an operand must come; returns whether one is still expected."""
        if kind == "op" and tok in "+-":
            self.signs += 1
            if self.signs > MAX_NESTING:
                raise self.fail(start, f"more than {MAX_NESTING} signs in a row")
            self.pending.append(("sign", tok, start))
            return True
        self.signs = 0
        if kind == "number":
            value = _float(tok)
            if isinstance(value, str):
                raise self.fail(start, f"the number {value}")
            self.add(Node("number", start, start + len(tok), tok, value))
            return False
        if tok == "(":
            self.nest(start)
            self.pending.append(("(", "", start))
            return True
        if kind == "name":
            if not tok.isidentifier() or keyword.iskeyword(tok):
                raise self.fail(start, _bad_name(tok), _GRAMMAR)
            nxt = next(tokens, None)
            if nxt is not None and nxt[1] == "(":
                if tok not in FUNCTIONS:
                    raise self.fail(start, f"unknown function {tok!r}", f"available: {', '.join(FUNCTIONS)}")
                self.count_operation(start)
                self.nest(nxt[2])
                self.pending.append(("call", tok, start, 0))
                return True
            if tok.startswith("_"):
                raise self.fail(start, f"name {tok!r} is not allowed (names may not start with '_')")
            if tok in FUNCTIONS:
                raise self.fail(start, f"{tok!r} is a function, not a variable", f"call it, e.g. {tok}(x)")
            self.add(Node("name", start, start + len(tok), tok))
            if nxt is None:
                return False
            return self.operator(*nxt)
        found = "')'" if tok == ")" else repr(tok)
        raise self.fail(start, f"expected a number, a name or '(' but found {found}")

    def operator(self, kind: str, tok: str, start: int) -> bool:
        """Read a token where an operator, ',' or ')' must come; returns whether an operand is expected."""
        if kind == "op" and tok in _BINOPS:
            self.count_operation(start)
            right = tok == "**"
            while self.pending and self.pending[-1][0] in ("sign", "binary"):
                top = _PRECEDENCE["sign" if self.pending[-1][0] == "sign" else self.pending[-1][1]]
                if top < _PRECEDENCE[tok] or (top == _PRECEDENCE[tok] and right):
                    break
                self.reduce()
            self.pending.append(("binary", tok, start))
            return True
        if tok in ",)":
            while self.pending and self.pending[-1][0] in ("sign", "binary"):
                self.reduce()
            if not self.pending:
                raise self.fail(start, "unmatched ')'" if tok == ")" else
                                "',' is only allowed between a function's arguments")
            opened = self.pending.pop()
            if opened[0] == "(":
                if tok == ",":
                    raise self.fail(start, "',' is only allowed between a function's arguments")
                self.open -= 1
                node, _, _ = self.operands.pop()
                self.operands.append((node, opened[2], start + 1))  # the parentheses belong to the outer span
                return False
            _, name, name_start, nargs = opened
            if tok == ",":
                self.pending.append(("call", name, name_start, nargs + 1))
                return True
            self.open -= 1
            nargs += 1
            want = 2 if name in BINARY else 1
            if nargs != want:
                raise self.fail(name_start, f"{name}() takes {want} argument{'s' * (want > 1)}, got {nargs}")
            args = tuple(i for i, _, _ in self.operands[-nargs:])
            del self.operands[-nargs:]
            self.add(Node("call", name_start, start + 1, name, args=args))
            return False
        if kind == "name" and (not tok.isidentifier() or keyword.iskeyword(tok)):
            raise self.fail(start, _bad_name(tok), _GRAMMAR)
        hint = "write 2*x, not 2x" if kind in ("name", "number") else ""
        raise self.fail(start, f"expected an operator (+ - * / **), ',' or ')' but found {tok!r}", hint)

    def nest(self, start: int) -> None:
        self.open += 1
        if self.open > MAX_NESTING:
            raise self.fail(start, f"parentheses nested more than {MAX_NESTING} deep")

    def reduce(self) -> None:
        """Apply the operator on top of ``pending`` to the operands on top of ``operands``."""
        kind, sym, start = self.pending.pop()[:3]
        if kind == "sign":
            i, _, hi = self.operands.pop()
            inner = self.nodes[i]
            if sym == "+":  # +a is a itself
                self.operands.append((i, start, hi))
            elif inner.kind == "number" and i == len(self.nodes) - 1:  # -2 is a number, not an op
                self.nodes[i] = Node("number", start, hi, inner.op, -inner.value)
                self.operands.append((i, start, hi))
            else:
                self.count_operation(start)
                self.add(Node("sign", start, hi, "-", args=(i,)))
            return
        b, _, hi = self.operands.pop()
        a, lo, _ = self.operands.pop()
        self.add(Node("binary", lo, hi, sym, args=(a, b)))


# ------------------------------------------------------------------------------- evaluating
def _function(name: str) -> Callable[..., Tensor]:
    fn = getattr(graphgrad, BINARY.get(name, name), None)
    if fn is None:
        raise ExpressionError(f"function {name!r} is not available in this graphgrad")
    return fn


def _listed(names: list[str]) -> str:
    """The first ten names, comma-separated (a message stays one readable line)."""
    return ", ".join(names[:10]) + (f", \u2026 ({len(names):,} in all)" if len(names) > 10 else "")


def _at(values: dict[str, float]) -> str:
    """The point, as ``x=1, y=2`` (the first few values of a long list)."""
    shown = ", ".join(f"{k}={v:g}" for k, v in list(values.items())[:4])
    return shown + (f", \u2026 ({len(values):,} values)" if len(values) > 4 else "")


def build(text: str, values: dict[str, float]) -> tuple[Tensor, dict[str, Tensor]]:
    """Evaluate ``text`` with graphgrad ops at ``values`` (float64); returns (output, input tensors).

    Every intermediate tensor is named after its source text, e.g. ``y**2+z`` (unless that text is
    longer than a view's formula, then the view names it). Refuses a point where any value or any
    gradient is not finite, naming the part of the expression where it first happens.
    """
    ex = parse(text)
    names = ex.variables()
    if not names:
        raise ExpressionError(f"{_excerpt(text, 0)} uses no variables, so there is nothing to differentiate")
    missing = [n for n in names if n not in values]
    if missing:
        first = min(n.start for n in ex.nodes if n.kind == "name" and n.op == missing[0])
        raise _error(text, first, f"no value for {_listed(missing)}",
                     "give every variable one, e.g. --at " + ",".join(f"{n}=1" for n in names[:10]))
    used = set(names)
    unused = [n for n in values if n not in used]
    if unused:
        raise ExpressionError(f"--at gives {_listed(unused)}, which the expression does not use (it uses "
                              f"{_listed(names)})")
    inputs = {n: Tensor(np.array(float(values[n])), requires_grad=True, name=n) for n in names}
    with np.errstate(all="ignore"):
        tensors = _evaluate(ex, inputs, values)
        _check_gradients(ex, tensors, values)
    return tensors[-1], inputs


def _evaluate(ex: Expression, inputs: dict[str, Tensor], values: dict[str, float]) -> list[Tensor]:
    """Each node's tensor, in node order (arguments first), so no step recurses."""
    out: list[Tensor] = []
    for node in ex.nodes:
        src = ex.source(node)
        args = [out[i] for i in node.args]
        if node.kind == "number":
            t = Tensor(np.array(node.value), name=src if len(src) <= MAX_FORMULA else None)
        elif node.kind == "name":
            t = inputs[node.op] if node.op in inputs else Tensor(np.array(CONSTANTS[node.op]), name=node.op)
        elif node.kind == "sign":
            t = graphgrad.negative(args[0])
        elif node.kind == "binary":
            t = _BINOPS[node.op](args[0], args[1])
        else:
            t = _function(node.op)(*args)
        if t.name is None and t._node is not None and len(src) <= MAX_FORMULA:
            t.name = src
        if not np.isfinite(t.data).all():
            zero = node.op == "/" and float(args[1].data) == 0.0
            what = "divides by zero" if zero else f"is {float(t.data)}"
            raise _error(ex.text, node.start, f"{_short(src)!r} {what} for {_at(values)}",
                         "explain needs finite values")
        out.append(t)
    return out


def _check_gradients(ex: Expression, tensors: list[Tensor], values: dict[str, float]) -> None:
    """Backprop through the expression's own tree (each node has one parent) with the engine's rules;
    refuse at the first derivative that is not finite, then at a gradient whose sum overflows."""
    grads: dict[int, np.ndarray] = {len(ex.nodes) - 1: np.ones(())}
    for i in range(len(ex.nodes) - 1, -1, -1):
        node, g = ex.nodes[i], grads.get(i)
        if g is None or not node.args or tensors[i]._node is None:
            continue
        for k, product in enumerate(input_gradients(tensors[i], Tensor(g))):
            if product is None:
                continue
            child = ex.nodes[node.args[k]]
            if not np.isfinite(product.data).all():
                raise _error(ex.text, node.start, f"the derivative of {_short(ex.source(node))!r} with respect to "
                             f"{_short(ex.source(child))!r} is {float(product.data)} for {_at(values)}",
                             "explain needs finite gradients")
            grads[node.args[k]] = product.data
    totals: dict[str, float] = {}
    for i, node in enumerate(ex.nodes):
        if node.kind == "name" and i in grads:
            totals[node.op] = totals.get(node.op, 0.0) + float(grads[i])
            if not np.isfinite(totals[node.op]):
                raise _error(ex.text, node.start, f"the gradient with respect to {node.op} overflows to "
                             f"{totals[node.op]} for {_at(values)}", "explain needs finite gradients")


# ---------------------------------------------------------------------------------- --at
def parse_assignments(spec: str | list[str] | None) -> dict[str, float]:
    """``"x=1,y=2"`` (or a list of such strings) to ``{'x': 1.0, 'y': 2.0}``."""
    values: dict[str, float] = {}
    parts = spec if isinstance(spec, list) else [spec or ""]
    for part in parts:
        for item in part.split(","):
            item = item.strip()
            if not item:
                continue
            name, eq, number = item.partition("=")
            name, number = name.strip(), number.strip()
            if not eq or not name.isidentifier():
                raise ExpressionError(f"--at expects NAME=NUMBER pairs separated by commas, got {_short(item)!r}")
            if name in values:
                raise ExpressionError(f"--at gives {name} twice")
            if not _SIGNED_NUMBER.fullmatch(number):
                raise ExpressionError(f"--at {name}: {_short(number)!r} is not a finite number (write it like "
                                      "1.5, -2 or 3e-4)")
            value = _float(number)
            if isinstance(value, str):
                raise ExpressionError(f"--at {name}: {value}")
            values[name] = value
    return values

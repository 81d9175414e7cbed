"""A safe parser for the expressions of ``graphgrad explain``: arithmetic over named scalars.

Python's :mod:`ast` parses the text; only a whitelist of node types is accepted (numbers, names,
``+ - * / **``, unary minus/plus, and calls of graphgrad's elementwise functions by plain name).
Everything else (attributes, subscripts, lambdas, strings, keywords, ``__import__``...) is refused
with the column where it starts. Nothing is ever passed to ``eval``: the tree is walked and each
node becomes a graphgrad op, named after its own source text so the graph reads like the formula.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import numpy as np

import graphgrad
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor

MAX_LENGTH = 2000

UNARY = ("exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "negative")
BINARY = {"maximum": "maximum", "minimum": "minimum", "max": "maximum", "min": "minimum"}
FUNCTIONS = (*UNARY, *BINARY)
CONSTANTS = {"pi": float(np.pi), "e": float(np.e)}

_BINOPS: dict[type, Callable[[Tensor, Tensor], Tensor]] = {
    ast.Add: graphgrad.add,
    ast.Sub: graphgrad.subtract,
    ast.Mult: graphgrad.multiply,
    ast.Div: graphgrad.divide,
    ast.Pow: graphgrad.power,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class ExpressionError(ConfigError):
    """An expression the parser refuses; the message gives the column (1-based)."""


def _fail(text: str, node: ast.AST | None, what: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0) + 1
    return ExpressionError(f"{what} at column {col} of {text!r}\n  {text}\n  {' ' * (col - 1)}^")


def _function(name: str) -> Callable[..., Tensor]:
    target = BINARY.get(name, name)
    fn = getattr(graphgrad, target, None)
    if fn is None and target == "sigmoid":
        fn = lambda x: 1.0 / (1.0 + graphgrad.exp(-x))  # noqa: E731 (until the engine exports sigmoid)
    if fn is None:
        raise ExpressionError(f"function {name!r} is not available in this graphgrad")
    return fn


def parse(text: str) -> ast.Expression:
    """Parse and check ``text``; raises :class:`ExpressionError` (with a column) on anything unsafe."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression; write one like \"x*(y**2+z)\"")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression of {len(text)} characters; at most {MAX_LENGTH} are accepted")
    if "\n" in text or "\r" in text:
        raise ExpressionError("the expression must be on one line")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = exc.offset or 1
        raise ExpressionError(
            f"syntax error ({exc.msg}) at column {col} of {text!r}\n  {text}\n  {' ' * (col - 1)}^"
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"expression too deeply nested or invalid: {exc}") from None
    for node in ast.walk(tree):
        _check(text, node)
    return tree


def _check(text: str, node: ast.AST) -> None:
    if isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
        return  # operators are checked with the BinOp / UnaryOp that holds them (which has a position)
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _fail(text, node, f"operator {type(node.op).__name__} is not supported; use + - * / **")
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _fail(text, node, f"operator {type(node.op).__name__} is not supported; use + - * / **")
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _fail(text, node, f"only numbers are allowed as constants, not {type(node.value).__name__}")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _fail(text, node, f"name {node.id!r} is not allowed (names may not start with '_')")
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _fail(text, node.func, "only plain function names can be called (no attributes or expressions)")
        if node.func.id not in FUNCTIONS:
            raise _fail(text, node.func, f"unknown function {node.func.id!r}; available: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise _fail(text, node.keywords[0].value, "keyword arguments are not allowed")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _fail(text, a, "*arguments are not allowed")
        want = 2 if node.func.id in BINARY else 1
        if len(node.args) != want:
            raise _fail(text, node, f"{node.func.id}() takes {want} argument{'s' * (want > 1)}, got {len(node.args)}")
        return
    raise _fail(text, node, f"{type(node).__name__} is not allowed in an expression")


def variables(tree: ast.Expression) -> list[str]:
    """The variable names, in order of first appearance (function names and pi/e excluded)."""
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    seen: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in calls and n.id not in CONSTANTS and n.id not in seen:
            seen.append(n.id)
    return sorted(seen, key=lambda s: min(
        (m.col_offset for m in ast.walk(tree) if isinstance(m, ast.Name) and m.id == s), default=0))


def build(text: str, values: dict[str, float]) -> tuple[Tensor, dict[str, Tensor]]:
    """Evaluate ``text`` with graphgrad ops at ``values`` (float64); returns (output, input tensors).

    Every intermediate tensor is named after its source text, e.g. ``y**2+z``.
    """
    tree = parse(text)
    names = variables(tree)
    missing = [n for n in names if n not in values]
    if missing:
        raise ExpressionError(
            f"no value for {', '.join(missing)}; give every variable one, e.g. --at "
            + ",".join(f"{n}=1" for n in names)
        )
    unused = [n for n in values if n not in names]
    if unused:
        raise ExpressionError(f"--at gives {', '.join(unused)}, which the expression does not use (it uses "
                              f"{', '.join(names) or 'no variables'})")
    inputs = {n: Tensor(np.array(float(values[n])), requires_grad=True, name=n) for n in names}

    def seg(node: ast.AST) -> str:
        return (ast.get_source_segment(text, node) or "").strip()

    def ev(node: ast.AST) -> Tensor:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return Tensor(np.array(float(node.value)), name=seg(node))
        if isinstance(node, ast.Name):
            if node.id in inputs:
                return inputs[node.id]
            return Tensor(np.array(CONSTANTS[node.id]), name=node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.operand, ast.Constant):  # -2 is a number, not an op
                v = float(node.operand.value)
                return Tensor(np.array(-v if isinstance(node.op, ast.USub) else v), name=seg(node))
            inner = ev(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            out = graphgrad.negative(inner)
        elif isinstance(node, ast.BinOp):
            out = _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        elif isinstance(node, ast.Call):
            out = _function(node.func.id)(*[ev(a) for a in node.args])
        else:  # parse() refused everything else already
            raise _fail(text, node, f"{type(node).__name__} is not allowed")
        if out.name is None and out._node is not None:
            out.name = seg(node)
        return out

    with np.errstate(all="ignore"):
        out = ev(tree)
    return out, inputs


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
            name = name.strip()
            if not eq or not name.isidentifier():
                raise ExpressionError(f"--at expects NAME=NUMBER pairs separated by commas, got {item!r}")
            try:
                values[name] = float(number)
            except ValueError:
                raise ExpressionError(f"--at {name}: {number.strip()!r} is not a number") from None
    return values

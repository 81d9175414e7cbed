"""``graphgrad explain``: value, gradients and the backprop step table of an expression or example.

    graphgrad explain "x*(y**2+z)" --at x=1,y=2,z=3 --html out.html
    graphgrad explain --example mlp

The CLI module calls :func:`add_explain_arguments` and :func:`run_explain`; user mistakes raise
:class:`graphgrad.errors.ConfigError` (one line on stderr, exit 2, from the CLI).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphgrad.errors import ConfigError
from graphgrad.viz import expr, seed_network
from graphgrad.viz.draw import draw
from graphgrad.viz.explain import Explanation, explain
from graphgrad.viz.graph import fmt_number

EXAMPLES = ("mlp",)


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``graphgrad explain``."""
    parser.add_argument(
        "expression", nargs="?",
        help='an expression over named scalars, e.g. "x*(y**2+z)"; + - * / **, parentheses, numbers, and '
        f"the functions {', '.join(expr.FUNCTIONS)}",
    )
    parser.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                        help="the variables' values, e.g. x=1,y=2,z=3 (may be repeated)")
    parser.add_argument("--example", choices=EXAMPLES,
                        help="a built-in example instead of an expression: mlp = the seeds' 2-2-1 sigmoid network")
    parser.add_argument("--html", metavar="FILE", help="also write the step-by-step page (self-contained HTML)")
    parser.add_argument("--svg", metavar="FILE", help="also draw the graph (SVG, or PNG if FILE ends in .png)")


def _build(args: argparse.Namespace) -> tuple[Explanation, dict[str, object]]:
    if args.example and args.expression:
        raise ConfigError("explain: give an expression or --example, not both")
    if args.example:
        if args.at:
            raise ConfigError("explain: --at is for expressions; the example has fixed values")
        loss, weights = seed_network.build()
        title = "the seeds' 2-2-1 sigmoid network, L = 1/2 (y - y*)^2 (x1=1, x2=0.5, y*=1)"
        return explain(loss, title=title), dict(weights)
    if not args.expression:
        raise ConfigError('explain: give an expression, e.g. graphgrad explain "x*(y**2+z)" --at x=1,y=2,z=3, '
                          "or --example mlp")
    values = expr.parse_assignments(args.at)
    out, inputs = expr.build(args.expression, values)
    if not out.requires_grad:
        raise ConfigError(f"explain: {args.expression!r} uses no variables, so there is nothing to differentiate")
    at = ", ".join(f"{k}={fmt_number(v)}" for k, v in values.items())
    return explain(out, title=f"f = {args.expression} at {at}"), dict(inputs)


def run_explain(args: argparse.Namespace) -> int:
    """Print the value, every gradient and the step table; write the page / drawing if asked."""
    ex, inputs = _build(args)
    print(ex.title)
    print(f"value: {fmt_number(float(ex.loss.data))}")
    print("gradients:")
    width = max(len(n) for n in inputs) if inputs else 0
    for name in inputs:
        print(f"  d/d{name.ljust(width)} = {fmt_number(float(ex.grads[name]))}")
    print()
    print(ex)
    for option, path in (("--html", args.html), ("--svg", args.svg)):
        if path and not Path(path).parent.exists():
            raise ConfigError(f"explain {option}: directory {str(Path(path).parent)!r} does not exist")
    if args.html:
        ex.to_html(args.html)
        print(f"\nwrote {args.html}")
    if args.svg:
        draw(ex.loss, args.svg)
        print(f"wrote {args.svg}")
    return 0

"""``graphgrad explain`` and ``graphgrad report``: the command-line side of the views.

    graphgrad explain "x*(y**2+z)" --at x=1,y=2,z=3 --html out.html
    graphgrad explain --example mlp              # a 2-2-1 sigmoid network with square loss
    graphgrad explain --example mlp-matrix       # a 2-3-2 network on a batch, in matrix form
    graphgrad explain --example conv             # a 2x2 filter over a 4x4 image, every number
    graphgrad explain --run RUN --html b.html    # one mini-batch of a trained run
    graphgrad report RUN [--out FILE]            # the whole run as one page

The CLI module calls ``add_*_arguments`` and ``run_*``; user mistakes raise
:class:`graphgrad.errors.ConfigError` (one line on stderr, exit 2, from the CLI).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from graphgrad.errors import ConfigError
from graphgrad.io.atomic import check_replaceable
from graphgrad.viz import conv_example, expr, mlp_matrix, seed_network
from graphgrad.viz._page import starts_with_marker
from graphgrad.viz.draw import draw_view, drawing_format, is_drawing
from graphgrad.viz.explain import Explanation, explain
from graphgrad.viz.matrices import squeeze_leading
from graphgrad.viz.numbers import fmt_text

MAX_PRINTED = 36  # gradients with at most this many entries are printed in full

EXAMPLES = {
    "mlp": "a 2-2-1 sigmoid network with square loss, one number per node",
    "mlp-matrix": "a 2-3-2 sigmoid network on a batch of 4 examples, in matrix form",
    "conv": "one 2x2 filter over a 1x4x4 image, L = half the sum of squares, every value and gradient",
}


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``graphgrad explain``."""
    parser.add_argument(
        "expression", nargs="?",
        help='an expression over named scalars, e.g. "x*(y**2+z)"; + - * / **, parentheses, numbers, and '
        f"the functions {', '.join(expr.FUNCTIONS)}",
    )
    parser.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                        help="the variables' values, e.g. x=1,y=2,z=3 (may be repeated)")
    parser.add_argument("--example", choices=tuple(EXAMPLES),
                        help="a built-in example instead of an expression: "
                        + "; ".join(f"{k} = {v}" for k, v in EXAMPLES.items()))
    parser.add_argument("--run", metavar="RUN",
                        help="a trained run's folder: one forward and backward pass of its model on one "
                        "mini-batch of its training data")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="with --run: how many examples (default: the run's batch size)")
    parser.add_argument("--html", metavar="FILE", help="also write the step-by-step page (self-contained HTML)")
    parser.add_argument("--svg", metavar="FILE", help="also draw the graph (SVG, or PNG if FILE ends in .png)")


def _build(args: argparse.Namespace) -> tuple[Explanation, dict[str, Any]]:
    given = [name for name, v in (("an expression", args.expression), ("--example", args.example),
                                  ("--run", args.run)) if v]
    if len(given) > 1:
        raise ConfigError(f"explain: give one of an expression, --example or --run, not both {given[0]} and {given[1]}")
    if args.batch_size is not None and not args.run:
        raise ConfigError("explain: --batch-size goes with --run")
    if (args.example or args.run) and args.at:
        raise ConfigError("explain: --at is for expressions; the example has fixed values")
    if args.example == "mlp":
        loss, weights = seed_network.build()
        title = ("a 2-2-1 sigmoid network with square loss L = ½ (y − y*)², one number per node "
                 "(x1 = 1, x2 = 0.5, y* = 1)")
        return explain(loss, title=title), dict(weights)
    if args.example == "mlp-matrix":
        loss, model = mlp_matrix.build()
        return explain(loss, module=model, title=mlp_matrix.TITLE), dict(model.named_parameters())
    if args.example == "conv":
        loss, tensors = conv_example.build()
        return explain(loss, title=conv_example.TITLE), dict(tensors)
    if args.run:
        from graphgrad.viz.run_batch import explain_run

        ex = explain_run(args.run, args.batch_size)
        params = {ex.name_of(t): t for t in ex.view.tensors.values() if t._requires_grad and t._node is None}
        return ex, params
    if not args.expression:
        raise ConfigError('explain: give an expression, e.g. graphgrad explain "x*(y**2+z)" --at x=1,y=2,z=3, '
                          "or --example mlp, or --run RUN")
    values = expr.parse_assignments(args.at)
    out, inputs = expr.build(args.expression, values)
    at = ", ".join(f"{k}={fmt_text(v)}" for k, v in values.items())
    return explain(out, title=f"f = {args.expression} at {at}"), dict(inputs)


def _print_gradient(name: str, width: int, grad: object) -> None:
    import numpy as np

    from graphgrad.viz.numbers import summary

    arr = np.asarray(grad)
    if arr.size == 1:
        text = fmt_text(float(arr.reshape(-1)[0]))
    elif arr.size <= MAX_PRINTED:  # small enough to check by hand: every entry, as rows
        rows = squeeze_leading(arr)
        rows = rows.reshape(1, -1) if rows.ndim < 2 else rows.reshape(-1, rows.shape[-1])
        cells = [[fmt_text(float(v)) for v in row] for row in rows]
        w = max(len(c) for row in cells for c in row)
        lines = ["[" + "  ".join(c.rjust(w) for c in row) + "]" for row in cells]
        pad = " " * (len(name.ljust(width)) + 7)
        text = f"(shape {'x'.join(map(str, arr.shape))})\n{pad}" + f"\n{pad}".join(lines)
    else:
        text = summary(arr, 6, unicode_minus=False)
    print(f"  d/d{name.ljust(width)} = {text}")


def run_explain(args: argparse.Namespace) -> int:
    """Print the value, every gradient and the step table; write the page / drawing if asked."""
    if args.html:
        check_replaceable(Path(args.html), "explain --html", starts_with_marker)
    if args.svg:
        drawing_format(args.svg, where=f"explain --svg {args.svg}")
        check_replaceable(Path(args.svg), "explain --svg", is_drawing)
    ex, inputs = _build(args)
    print(ex.title)
    print(f"value: {fmt_text(float(ex.loss.data))}")
    print("gradients:")
    width = max(len(n) for n in inputs) if inputs else 0
    for name in inputs:
        _print_gradient(name, width, ex.grads[name])
    print()
    print(ex)
    if args.html:
        ex.to_html(args.html)
        print(f"\nwrote {args.html}")
    if args.svg:
        draw_view(ex.view, args.svg)
        print(f"wrote {args.svg}")
    return 0


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``graphgrad report``."""
    parser.add_argument("run", metavar="RUN", help="a training run's folder (what graphgrad train --out wrote)")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write the page (default: RUN/report.html)")


def run_report(args: argparse.Namespace) -> int:
    """Write the run's report page and say where it is."""
    from graphgrad.viz.report import write_report

    path = write_report(args.run, args.out)
    print(f"wrote {path}  (open it in a browser; it needs no network)")
    return 0

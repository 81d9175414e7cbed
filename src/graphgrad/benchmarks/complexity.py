"""`graphgrad bench complexity`: the lecture notes' cost claims, measured.

Three ways to get every gradient of a scalar graph of scalar nodes:
- backprop (``backward()``): one reverse sweep, linear in nodes + edges;
- ``naive_grad``: one forward sweep per input, so ~ (number of inputs) x (size): quadratic when
  every weight is an input;
- ``path_sum_grad``: a product along every path, summed: exponential in depth when nodes share
  inputs (a chain of n diamonds has 2^n paths).

Two families of graphs grow: a *wide* MLP-shaped graph (two layers of ``width`` sigmoid units,
every weight a scalar input) and a *deep* chain of diamonds (x -> a(w x) + b x, one weight per
level). We time each method, fit the growth exponent on a log-log scale (time ~ size^k) and, for
the path sum over depth, the growth factor per level (time ~ c^depth); print a table and save a
plot. Expected: backprop k ~ 1, naive k ~ 2, path sum c ~ 2.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graphgrad.autograd.check import naive_grad, path_sum_grad
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor
from graphgrad.viz.graph import walk
from graphgrad.viz.seed_network import sigmoid

WIDTHS = (2, 3, 4, 6, 8, 11, 16)
DEPTHS = (4, 6, 8, 10, 12, 14, 16)
QUICK_WIDTHS = (2, 3, 4, 6)
QUICK_DEPTHS = (3, 5, 7, 9)


def wide_graph(width: int, rng: np.random.Generator) -> tuple[Callable[..., Tensor], list[np.ndarray]]:
    """f(weights) of a 2-layer, ``width``-unit sigmoid MLP on one fixed input; the weights are scalars."""
    x = [float(v) for v in rng.standard_normal(width)]
    n1, n2 = width * width, width

    def f(*w: Tensor) -> Tensor:
        hidden = []
        for j in range(width):
            s = w[j * width] * x[0]
            for i in range(1, width):
                s = s + w[j * width + i] * x[i]
            hidden.append(sigmoid(s))
        out = w[n1] * hidden[0]
        for j in range(1, width):
            out = out + w[n1 + j] * hidden[j]
        return out * out

    weights = [np.array(v) for v in rng.standard_normal(n1 + n2) * 0.5]
    return f, weights


def deep_graph(depth: int, rng: np.random.Generator) -> tuple[Callable[..., Tensor], list[np.ndarray]]:
    """f(x0, w_1..w_depth): ``depth`` diamonds x <- sigmoid(w x) + 0.5 x, so 2^depth paths from x0."""

    def f(x: Tensor, *w: Tensor) -> Tensor:
        for wk in w:
            x = sigmoid(wk * x) + x * 0.5
        return x

    return f, [np.array(0.3)] + [np.array(v) for v in rng.standard_normal(depth) * 0.5]


def graph_size(out: Tensor) -> int:
    """Nodes + edges of the recorded graph."""
    order = walk(out)
    return len(order) + sum(len(t._node.inputs or ()) for t in order if t._node is not None)


def _best_time(run: Callable[[], object], budget: float = 0.05, repeats: int = 5) -> float:
    """The fastest of a few runs (at least one; more while they are quick)."""
    best = float("inf")
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        if spent > budget:
            break
    return best


def measure(f: Callable[..., Tensor], values: list[np.ndarray], methods: tuple[str, ...]) -> dict[str, float]:
    """Graph size and the time of each method for one graph."""

    def fresh() -> tuple[Tensor, list[Tensor]]:
        ins = [Tensor(v.copy(), requires_grad=True) for v in values]
        return f(*ins), ins

    out, _ = fresh()
    row: dict[str, float] = {"size": float(graph_size(out))}
    if "backprop" in methods:
        graphs: list[tuple[Tensor, list[Tensor]]] = []

        def backprop() -> None:
            o, _ = graphs.pop()
            o.backward()

        best = float("inf")
        for _ in range(5):
            graphs.append(fresh())
            t0 = time.perf_counter()
            backprop()
            best = min(best, time.perf_counter() - t0)
        row["backprop"] = best
    if "naive" in methods:
        row["naive"] = _best_time(lambda: naive_grad(f, [v.copy() for v in values]), repeats=2)
    if "path_sum" in methods:
        o, ins = fresh()
        row["path_sum"] = _best_time(lambda: path_sum_grad(o, ins), repeats=2)
    return row


def fit_power(sizes: list[float], times: list[float]) -> float:
    """k in time ~ size^k (least squares on log-log)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def fit_base(depths: list[float], times: list[float]) -> float:
    """c in time ~ c^depth (least squares on log time against depth)."""
    return float(np.exp(np.polyfit(depths, np.log(times), 1)[0]))


def run_all(widths: tuple[int, ...], depths: tuple[int, ...], seed: int = 0) -> dict[str, list[dict[str, float]]]:
    rng = np.random.default_rng(seed)
    wide = []
    for w in widths:
        f, vals = wide_graph(w, rng)
        row = measure(f, vals, ("backprop", "naive", "path_sum"))
        row["width"] = w
        wide.append(row)
    deep = []
    for d in depths:
        f, vals = deep_graph(d, rng)
        row = measure(f, vals, ("backprop", "naive", "path_sum"))
        row["depth"] = d
        deep.append(row)
    return {"wide": wide, "deep": deep}


def fits(results: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    wide, deep = results["wide"], results["deep"]
    return {
        "wide backprop k": fit_power([r["size"] for r in wide], [r["backprop"] for r in wide]),
        "wide naive k": fit_power([r["size"] for r in wide], [r["naive"] for r in wide]),
        "wide path_sum k": fit_power([r["size"] for r in wide], [r["path_sum"] for r in wide]),
        "deep backprop k": fit_power([r["size"] for r in deep], [r["backprop"] for r in deep]),
        "deep naive k": fit_power([r["size"] for r in deep], [r["naive"] for r in deep]),
        "deep path_sum c": fit_base([r["depth"] for r in deep], [r["path_sum"] for r in deep]),
    }


def format_table(results: dict[str, list[dict[str, float]]], fitted: dict[str, float]) -> str:
    lines = [f"{'graph':<14}{'nodes+edges':>12}{'backprop s':>13}{'naive s':>13}{'path-sum s':>13}"]
    for family, key in (("wide", "width"), ("deep", "depth")):
        for r in results[family]:
            lines.append(
                f"{family + ' ' + key + '=' + str(int(r[key])):<14}{int(r['size']):>12}"
                f"{r['backprop']:>13.2e}{r['naive']:>13.2e}{r['path_sum']:>13.2e}"
            )
    lines.append("")
    lines.append("fitted growth (time ~ size^k, or ~ c^depth):")
    for name, value in fitted.items():
        lines.append(f"  {name:<18} {value:6.2f}")
    lines.append("expected: backprop k ~ 1, naive k ~ 2 (wide: every weight an input), path sum c ~ 2 per level")
    return "\n".join(lines)


def plot(results: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for method, style in (("backprop", "o-"), ("naive", "s-"), ("path_sum", "^-")):
        wide = results["wide"]
        ax1.loglog([r["size"] for r in wide], [r[method] for r in wide], style, label=method)
        deep = results["deep"]
        ax2.semilogy([r["depth"] for r in deep], [r[method] for r in deep], style, label=method)
    ax1.set(title="wide MLP-shaped graph", xlabel="nodes + edges", ylabel="seconds")
    ax2.set(title="deep chain of diamonds", xlabel="depth (levels)", ylabel="seconds")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `graphgrad bench complexity`."""
    parser.add_argument("--quick", action="store_true", help="small sizes only (a few seconds)")
    parser.add_argument("--widths", help="comma-separated widths of the wide graphs (default 2,3,4,6,8,11,16)")
    parser.add_argument("--depths", help="comma-separated depths of the diamond chains (default 4,6,...,16)")
    parser.add_argument("--out", default="bench-results", help="directory for complexity.png (default bench-results)")
    parser.add_argument("--seed", type=int, default=0)


def _ints(text: str | None, default: tuple[int, ...], what: str) -> tuple[int, ...]:
    if not text:
        return default
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--{what}: expected comma-separated integers, got {text!r}") from None
    if len(values) < 2 or min(values) < 1:
        raise ConfigError(f"--{what}: need at least two positive sizes to fit a growth rate, got {text!r}")
    return values


def run_from_args(args: argparse.Namespace) -> int:
    """Measure, print the table and fitted exponents, save the plot."""
    widths = _ints(args.widths, QUICK_WIDTHS if args.quick else WIDTHS, "widths")
    depths = _ints(args.depths, QUICK_DEPTHS if args.quick else DEPTHS, "depths")
    results = run_all(widths, depths, seed=args.seed)
    print(format_table(results, fits(results)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(results, out / "complexity.png")
    print(f"\nplot: {out / 'complexity.png'}")
    return 0

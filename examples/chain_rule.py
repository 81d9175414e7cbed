"""Seed 001's worked example: f(x, y, z) = x (y^2 + z), forward and backward through its graph.

    g = y^2 + z,  f = x g
    df/dx = g,  df/dg = x,  df/dy = df/dg * dg/dy = x * 2y,  df/dz = df/dg * dg/dz = x

Run:  python examples/chain_rule.py [--x 1 --y 2 --z 3] [--out DIR]
With --out, also writes the graph (chain_rule.svg) and the step-by-step page (chain_rule.html).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import graphgrad as gg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=float, default=1.0)
    parser.add_argument("--y", type=float, default=2.0)
    parser.add_argument("--z", type=float, default=3.0)
    parser.add_argument("--out", help="directory for chain_rule.svg and chain_rule.html")
    args = parser.parse_args()

    # the inputs: float64 scalars that want a gradient, with names for the views
    x = gg.Tensor(np.array(args.x), requires_grad=True, name="x")
    y = gg.Tensor(np.array(args.y), requires_grad=True, name="y")
    z = gg.Tensor(np.array(args.z), requires_grad=True, name="z")

    # forward pass: every node computes its value from its inputs and keeps it
    g = y**2 + z
    g.name = "g"
    f = x * g
    f.name = "f"
    print(f"forward:  g = y^2 + z = {g.item():g}    f = x g = {f.item():g}")

    # the steps backprop will take, before backward() frees the graph
    explanation = gg.explain(f, title="f = x (y^2 + z)")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        gg.viz.draw(f, out / "chain_rule.svg")
        explanation.to_html(out / "chain_rule.html")

    # backward pass: df/df = 1, then the chain rule node by node, from f back to the inputs
    f.backward()
    print(f"backward: df/dx = {x.grad.item():g}    df/dy = {y.grad.item():g}    df/dz = {z.grad.item():g}")
    print(f"by hand:  df/dx = g = {args.y**2 + args.z:g}    df/dy = 2xy = {2 * args.x * args.y:g}    "
          f"df/dz = x = {args.x:g}")
    print()
    print(explanation)
    if args.out:
        print(f"\nwrote {Path(args.out) / 'chain_rule.svg'} and {Path(args.out) / 'chain_rule.html'}")


if __name__ == "__main__":
    main()

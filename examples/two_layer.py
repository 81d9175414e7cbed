"""Seed 001's 2-2-1 sigmoid network with square loss: backprop next to the hand-derived formulas.

    z_j = sigma(w^h_0j + w^h_1j x1 + w^h_2j x2)   (j = 1, 2)
    y   = sigma(w^o_01 + w^o_11 z1 + w^o_21 z2),   L = 1/2 (y - y*)^2

Hand formulas (the seed's derivation, caching dL/dy and y(1 - y)):
    dL/dw^o_i1 = (y - y*) y (1 - y) z_i                  (z_0 = 1)
    dL/dw^h_ij = (y - y*) y (1 - y) w^o_j1 z_j (1 - z_j) x_i   (x_0 = 1)

Run:  python examples/two_layer.py [--out DIR]   (DIR gets two_layer.svg and two_layer.html)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import graphgrad as gg

X1, X2, TARGET = 1.0, 0.5, 1.0
WEIGHTS = {  # w^h_ij: input i (0 = bias) -> hidden j;  w^o_i1: hidden i (0 = bias) -> output
    "wh_01": 0.1, "wh_11": 0.4, "wh_21": -0.2,
    "wh_02": -0.3, "wh_12": 0.2, "wh_22": 0.5,
    "wo_01": 0.2, "wo_11": 0.6, "wo_21": -0.4,
}


def sigmoid(s):
    """The logistic function 1 / (1 + e^-s), from the engine's exp and division."""
    return 1.0 / (1.0 + gg.exp(-s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="directory for two_layer.svg and two_layer.html")
    args = parser.parse_args()

    w = {k: gg.Tensor(np.array(v), requires_grad=True, name=k) for k, v in WEIGHTS.items()}
    x = [1.0, X1, X2]
    z1 = sigmoid(w["wh_01"] + w["wh_11"] * x[1] + w["wh_21"] * x[2])
    z2 = sigmoid(w["wh_02"] + w["wh_12"] * x[1] + w["wh_22"] * x[2])
    y = sigmoid(w["wo_01"] + w["wo_11"] * z1 + w["wo_21"] * z2)
    loss = 0.5 * (y - TARGET) ** 2
    z1.name, z2.name, y.name, loss.name = "z1", "z2", "y", "L"
    print(f"forward: z1 = {z1.item():.6f}  z2 = {z2.item():.6f}  y = {y.item():.6f}  L = {loss.item():.6f}")

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        gg.viz.draw(loss, out / "two_layer.svg")
        gg.explain(loss, title="2-2-1 sigmoid network, square loss").to_html(out / "two_layer.html")

    loss.backward()

    # the seed's formulas, with the forward values
    zv = [1.0, z1.item(), z2.item()]
    yv = y.item()
    delta = (yv - TARGET) * yv * (1 - yv)  # dL/dy * dy/ds_o: computed once, reused by every weight below
    hand = {f"wo_{i}1": delta * zv[i] for i in range(3)}
    for j in (1, 2):
        for i in range(3):
            hand[f"wh_{i}{j}"] = delta * WEIGHTS[f"wo_{j}1"] * zv[j] * (1 - zv[j]) * x[i]

    print(f"\n{'weight':<8}{'backprop':>14}{'hand formula':>16}{'difference':>13}")
    worst = 0.0
    for name in WEIGHTS:
        engine = w[name].grad.item()
        worst = max(worst, abs(engine - hand[name]))
        print(f"{name:<8}{engine:>14.8f}{hand[name]:>16.8f}{engine - hand[name]:>13.1e}")
    print(f"\nlargest difference: {worst:.1e}")


if __name__ == "__main__":
    main()

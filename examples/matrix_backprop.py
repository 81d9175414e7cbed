"""Seed 002's MLP in matrix form: the backward pass written out by hand in NumPy vs the engine.

Forward (k = 1..l):  a^k = b^k + W^k h^(k-1),  h^k = f(a^k),  J = L(h^l, y) + lambda * Omega(theta)
Backward:            g <- dJ/dh^l
                     for k = l..1:  g <- g * f'(a^k)                  (elementwise)
                                    dJ/db^k = g,  dJ/dW^k = g h^(k-1)^T + lambda dOmega/dW^k
                                    g <- W^k^T g
Here f is the logistic sigmoid, L = |h^l - y|^2 and Omega = sum of squared weights (biases left
out, as the seed's one-hidden-layer example penalizes W and v only).

Run:  python examples/matrix_backprop.py [--sizes 4,5,3,2] [--lam 0.01] [--seed 0]
"""

# ruff: noqa: N803, N806  (the seeds' matrix names: W, X, Y, J)
from __future__ import annotations

import argparse

import numpy as np

import graphgrad as gg


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a)) if isinstance(a, np.ndarray) else 1.0 / (1.0 + gg.exp(-a))


def by_hand(Ws, bs, x, y, lam):
    """The seed's forward and backward passes, every step explicit (NumPy only)."""
    hs, As = [x], []
    for W, b in zip(Ws, bs):
        As.append(b + W @ hs[-1])
        hs.append(sigmoid(As[-1]))
    J = np.sum((hs[-1] - y) ** 2) + lam * sum(np.sum(W**2) for W in Ws)
    g = 2 * (hs[-1] - y)  # dJ/dh^l
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        g = g * hs[k + 1] * (1 - hs[k + 1])  # f'(a) = f(a)(1 - f(a)) for the sigmoid
        dbs[k] = g
        dWs[k] = np.outer(g, hs[k]) + 2 * lam * Ws[k]
        g = Ws[k].T @ g
    return J, dWs, dbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,5,3,2", help="layer widths, input first")
    parser.add_argument("--lam", type=float, default=0.01, help="L2 penalty lambda")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(args.seed)
    Ws = [rng.standard_normal((n, m)) / np.sqrt(m) for m, n in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(n) * 0.1 for n in sizes[1:]]
    x, y = rng.standard_normal(sizes[0]), rng.uniform(size=sizes[-1])

    J_hand, dWs, dbs = by_hand(Ws, bs, x, y, args.lam)

    # the same network on the engine: build the graph, call backward()
    W_t = [gg.Tensor(W, requires_grad=True, name=f"W{k + 1}") for k, W in enumerate(Ws)]
    b_t = [gg.Tensor(b, requires_grad=True, name=f"b{k + 1}") for k, b in enumerate(bs)]
    h = gg.Tensor(x, name="x")
    for W, b in zip(W_t, b_t):
        h = sigmoid(b + W @ h)
    J = gg.sum((h - gg.Tensor(y)) ** 2) + args.lam * sum(gg.sum(W**2) for W in W_t)
    J.backward()

    print(f"layers {sizes}, lambda = {args.lam}")
    print(f"J: by hand {J_hand:.12f}   engine {J.item():.12f}")
    worst = 0.0
    for k in range(len(Ws)):
        dw = np.max(np.abs(W_t[k].grad.numpy() - dWs[k]))
        db = np.max(np.abs(b_t[k].grad.numpy() - dbs[k]))
        worst = max(worst, dw, db)
        print(f"layer {k + 1}: max |dJ/dW engine - hand| = {dw:.1e}   max |dJ/db engine - hand| = {db:.1e}")
    print(f"largest difference: {worst:.1e}")


if __name__ == "__main__":
    main()

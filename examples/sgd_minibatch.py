"""Seed 000's mini-batch SGD: shuffle every epoch, n/B batches, the gradient averaged over a batch.

    for epoch = 1..T:
        shuffle the data                       (so each batch gradient is an unbiased estimate)
        split it into n/B batches of size B
        for each batch:  g = sum over the batch of grad loss(h(x), y) / B;   theta <- theta - lr g

The model is a one-hidden-layer sigmoid network fitted to a noisy sine; B = 1 is the per-example
SGD of seed 001. The first batch also checks the seed's claim that the batch gradient is the
average of the per-example gradients.

Run:  python examples/sgd_minibatch.py [--epochs 30] [--batch-size 8] [--lr 0.5] [--seed 0]
"""

# ruff: noqa: N803, N806  (the seeds' matrix names: W, X, Y, J)
from __future__ import annotations

import argparse

import numpy as np

import graphgrad as gg


def sigmoid(a):
    return 1.0 / (1.0 + gg.exp(-a))


def model(params, x):
    W1, b1, W2, b2 = params
    return sigmoid(x @ W1 + b1) @ W2 + b2


def loss_fn(params, x, y):
    """Mean square loss over the batch: the average of the per-example losses."""
    return gg.mean((model(params, x) - y) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--n", type=int, default=128, help="number of training examples")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-2, 2, size=(args.n, 1))
    Y = np.sin(1.5 * X) + 0.1 * rng.standard_normal((args.n, 1))
    params = [
        gg.Tensor(rng.standard_normal((1, args.hidden)), requires_grad=True, name="W1"),
        gg.Tensor(np.zeros(args.hidden), requires_grad=True, name="b1"),
        gg.Tensor(rng.standard_normal((args.hidden, 1)) / np.sqrt(args.hidden), requires_grad=True, name="W2"),
        gg.Tensor(np.zeros(1), requires_grad=True, name="b2"),
    ]

    # the seed's claim: the batch gradient is the average of the per-example gradients
    batch = np.arange(args.batch_size)
    loss_fn(params, gg.Tensor(X[batch]), gg.Tensor(Y[batch])).backward()
    together = [p.grad.numpy().copy() for p in params]
    per_example = [np.zeros_like(p.data) for p in params]
    for i in batch:
        for p in params:
            p.grad = None
        loss_fn(params, gg.Tensor(X[i : i + 1]), gg.Tensor(Y[i : i + 1])).backward()
        for acc, p in zip(per_example, params):
            acc += p.grad.numpy() / len(batch)
    gap = max(np.max(np.abs(a - b)) for a, b in zip(together, per_example))
    print(f"batch gradient vs average of per-example gradients: max difference {gap:.1e}")

    with gg.no_grad():
        first = loss_fn(params, gg.Tensor(X), gg.Tensor(Y)).item()
    print(f"epoch   0  loss {first:.5f}")
    batches = int(np.ceil(args.n / args.batch_size))
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(args.n)  # shuffle every epoch
        for k in range(batches):
            idx = order[k * args.batch_size : (k + 1) * args.batch_size]
            for p in params:
                p.grad = None
            loss_fn(params, gg.Tensor(X[idx]), gg.Tensor(Y[idx])).backward()
            for p in params:  # theta <- theta - lr * g, in place; tell the engine the data changed
                p.data -= args.lr * p.grad.data
                p.bump_version()
        if epoch % max(1, args.epochs // 6) == 0 or epoch == args.epochs:
            with gg.no_grad():
                current = loss_fn(params, gg.Tensor(X), gg.Tensor(Y)).item()
            print(f"epoch {epoch:3d}  loss {current:.5f}")
    print(f"{batches} batches of size {args.batch_size} per epoch; loss {first:.5f} -> {current:.5f}")


if __name__ == "__main__":
    main()

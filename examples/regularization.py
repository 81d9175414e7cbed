"""Seed 004's regularization, compared on one small dataset: none, L2, dropout, early stopping,
and learning-rate schedules (step and exponential decay).

A 1-64-64-1 sigmoid network is trained (full batch, Adam) on 20 noisy points of a sine (easy to overfit) and measured
on 200 held-out points. Each method is one change to the same training run:
- L2:   J = L + lambda * sum(w^2)           (``nn.l2_penalty``, a term in the loss, seed 002's Omega)
- dropout: hidden units zeroed with probability p during training, all kept at evaluation
- early stopping: stop when the validation loss has not improved for ``patience`` epochs; keep
  the best weights
- step / exponential schedules: lr <- lr * gamma every ``step`` epochs, or every epoch

Prints a table (train loss, best and final validation loss) and saves the validation curves to
regularization.png in --out (a temporary directory by default).

Run:  python examples/regularization.py [--epochs 300] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import graphgrad as gg
from graphgrad import nn, optim


def sigmoid(a):
    return 1.0 / (1.0 + gg.exp(-a))


class Net(nn.Module):
    def __init__(self, hidden: int, dropout: float, rng: np.random.Generator) -> None:
        super().__init__()
        self.fc1 = nn.Linear(1, hidden, rng=rng, dtype=np.float64)
        self.fc2 = nn.Linear(hidden, hidden, rng=rng, dtype=np.float64)
        self.out = nn.Linear(hidden, 1, rng=rng, dtype=np.float64)
        self.drop = nn.Dropout(dropout, rng=rng) if dropout > 0 else nn.Identity()

    def forward(self, x):
        h = self.drop(sigmoid(self.fc1(x) * 4.0))
        h = self.drop(sigmoid(self.fc2(h) * 4.0))
        return self.out(h)


def data(rng: np.random.Generator):
    def f(x):
        return np.sin(2.5 * x)

    x_train = rng.uniform(-1.5, 1.5, size=(20, 1))
    x_val = np.linspace(-1.5, 1.5, 200).reshape(-1, 1)
    y_train = f(x_train) + 0.25 * rng.standard_normal(x_train.shape)
    y_val = f(x_val) + 0.25 * rng.standard_normal(x_val.shape)
    return [gg.Tensor(a) for a in (x_train, y_train, x_val, y_val)]


METHODS = {
    "none": {},
    "L2 (lambda=2e-3)": {"l2": 2e-3},
    "dropout (p=0.2)": {"dropout": 0.2},
    "early stopping": {"patience": 40},
    "step lr (x0.3 / 100 ep)": {"schedule": "step"},
    "exp lr (x0.99 / ep)": {"schedule": "exp"},
}


def train(config: dict, epochs: int, seed: int, lr: float, hidden: int):
    rng = np.random.default_rng(seed)  # the same data and initial weights for every method
    x_train, y_train, x_val, y_val = data(rng)
    model = Net(hidden, config.get("dropout", 0.0), rng)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = None
    if config.get("schedule") == "step":
        sched = optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.3)
    elif config.get("schedule") == "exp":
        sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
    mse = nn.MSELoss()
    patience = config.get("patience")
    best, best_state, since_best, curve = float("inf"), None, 0, []
    for _epoch in range(epochs):
        model.train()
        opt.zero_grad()
        loss = mse(model(x_train), y_train)
        if config.get("l2"):
            loss = loss + nn.l2_penalty(model, config["l2"])
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        model.eval()
        with gg.no_grad():
            val = mse(model(x_val), y_val).item()
        curve.append(val)
        if val < best:
            best, since_best = val, 0
            best_state = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
        else:
            since_best += 1
        if patience is not None and since_best >= patience:
            break
    if patience is not None:
        model.load_state_dict(best_state)  # early stopping keeps the best weights, fired or not
    model.eval()
    with gg.no_grad():
        train_loss = mse(model(x_train), y_train).item()
        final_val = mse(model(x_val), y_val).item()
    return {"train": train_loss, "best_val": best, "final_val": final_val, "epochs": len(curve), "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="directory for regularization.png (default: a temporary directory)")
    args = parser.parse_args()

    results = {name: train(cfg, args.epochs, args.seed, args.lr, args.hidden) for name, cfg in METHODS.items()}
    print(f"{'method':<26}{'epochs':>7}{'train loss':>12}{'best val':>11}{'final val':>11}")
    for name, r in results.items():
        print(f"{name:<26}{r['epochs']:>7}{r['train']:>12.4f}{r['best_val']:>11.4f}{r['final_val']:>11.4f}")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="graphgrad-regularization-"))
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for name, r in results.items():
        ax.plot(range(1, len(r["curve"]) + 1), r["curve"], label=name)
    ax.set(xlabel="epoch", ylabel="validation MSE", yscale="log", title="regularization on 20 noisy points")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "regularization.png", dpi=100)
    print(f"plot: {out / 'regularization.png'}")


if __name__ == "__main__":
    main()

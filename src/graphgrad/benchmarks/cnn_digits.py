"""The small CNN on the built-in digits (8x8 images): graphgrad against the same CNN in PyTorch eager.

``python -m graphgrad.benchmarks.cnn_digits`` trains :func:`graphgrad.nn.models.small_cnn` with the
MLP default's split, seeds and settings (``TrainConfig()``: Adam, learning rate 2e-3, cosine
schedule, 20 epochs, batch 32) for seeds 0, 1 and 2, and reports the test accuracy and the wall
time of training. PyTorch trains the same network from the same initial weights on the same
batches in its own process (``--peer torch``), so the two never share threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

SEEDS = (0, 1, 2)


def _setup(seed: int, epochs: int | None) -> tuple[Any, Any, Any, Any]:
    """The data split, the graphgrad model, its loader, and the config of run ``seed``."""
    from graphgrad import data as gdata
    from graphgrad.nn.models import small_cnn
    from graphgrad.train.config import TrainConfig
    from graphgrad.train.experiment import prepare_data, rng_for

    config = TrainConfig(seed=seed)
    if epochs is not None:
        config.epochs = epochs
    prepared = prepare_data(config)
    model = small_cnn((1, 8, 8), prepared.metadata["n_outputs"], rng=rng_for(seed, "init"))
    loader = gdata.DataLoader(gdata.TensorDataset(*prepared.train), batch_size=config.batch_size, shuffle=True,
                              generator=rng_for(seed, "loader"))
    return prepared, model, loader, config


def train_graphgrad(seed: int, epochs: int | None = None) -> dict[str, float]:
    import graphgrad as gg
    from graphgrad import optim

    prepared, model, loader, config = _setup(seed, epochs)
    opt = optim.Adam(list(model.parameters()), lr=config.lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        for x, y in loader:
            loss = gg.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        schedule.step()
    seconds = time.perf_counter() - start
    model.eval()
    x_test, y_test = prepared.test
    with gg.no_grad():
        accuracy = float((model(gg.Tensor(x_test)).data.argmax(axis=1) == y_test).mean())
    return {"accuracy": accuracy, "seconds": seconds}


def train_torch(seed: int, epochs: int | None = None) -> dict[str, float]:
    import torch

    from graphgrad.benchmarks.torch_models import to_torch

    prepared, model, loader, config = _setup(seed, epochs)
    net = to_torch(model)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    start = time.perf_counter()
    for _ in range(config.epochs):
        net.train()
        for x, y in loader:  # graphgrad's loader: the same batches in the same order
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x.data)), torch.from_numpy(y.data))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        schedule.step()
    seconds = time.perf_counter() - start
    net.eval()
    x_test, y_test = prepared.test
    with torch.no_grad():
        accuracy = float((net(torch.from_numpy(x_test)).argmax(dim=1).numpy() == y_test).mean())
    return {"accuracy": accuracy, "seconds": seconds, "threads": torch.get_num_threads()}


def _peer(seeds: tuple[int, ...], epochs: int | None) -> list[dict[str, float]] | None:
    cmd = [sys.executable, "-m", "graphgrad.benchmarks.cnn_digits", "--peer", "torch", "--seeds",
           ",".join(map(str, seeds))]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"PyTorch run failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--epochs", type=int, default=None, help="fewer epochs for a quick look (default 20)")
    parser.add_argument("--peer", choices=["torch"], help=argparse.SUPPRESS)
    parser.add_argument("--no-torch", action="store_true", help="train with graphgrad only")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.peer == "torch":
        print(json.dumps([train_torch(s, args.epochs) for s in seeds]))
        return
    ours = []
    for s in seeds:
        ours.append(train_graphgrad(s, args.epochs))
        print(f"graphgrad seed {s}: test accuracy {ours[-1]['accuracy']:.2%}, training {ours[-1]['seconds']:.1f} s",
              flush=True)
    theirs = None if args.no_torch else _peer(seeds, args.epochs)
    print(f"\n{'seed':>4} {'graphgrad acc':>13} {'s':>6} {'PyTorch acc':>11} {'s':>6}")
    for i, s in enumerate(seeds):
        t = f"{theirs[i]['accuracy']:11.2%} {theirs[i]['seconds']:6.1f}" if theirs else f"{'n/a':>11} {'':>6}"
        print(f"{s:>4} {ours[i]['accuracy']:13.2%} {ours[i]['seconds']:6.1f} {t}")
    mean_acc = statistics.mean(r["accuracy"] for r in ours)
    total = sum(r["seconds"] for r in ours)
    line = f"mean test accuracy {mean_acc:.2%}; training time {total:.1f} s"
    if theirs:
        total_t = sum(r["seconds"] for r in theirs)
        line += (f"; PyTorch {statistics.mean(r['accuracy'] for r in theirs):.2%} in {total_t:.1f} s "
                 f"({theirs[0].get('threads')} threads): graphgrad takes {total / total_t:.2f}x its time")
    print(line)


if __name__ == "__main__":
    main()

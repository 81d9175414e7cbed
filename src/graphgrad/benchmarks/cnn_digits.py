"""`graphgrad bench cnn-digits`: `graphgrad train --model cnn` on the built-in digits against the same
CNN trained by PyTorch eager, per seed.

For each seed (default 0, 1, 2) graphgrad trains exactly as the command does (``start_run`` with
``TrainConfig(model="cnn", seed=s)``: the MLP default's split and settings, Adam 2e-3, cosine
schedule, 20 epochs, batch 32; the step captured, BLAS threads measured on the run's first steps) into a temporary
folder. PyTorch trains the same network from the same initial weights on the same batches in the
same order, in its own process, with its own default threads or ``--torch-threads``. Reported per seed: test accuracy
and training seconds (the epochs' training loops as the run's history records them, without
validation or checkpoints; PyTorch's loop timed alike, reading the loss and the correct count of
every batch as the trainer does), then the medians over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from graphgrad.benchmarks.peers import main_with_peer, run_peer

SEEDS = (0, 1, 2)


def _config(seed: int, epochs: int | None) -> Any:
    from graphgrad.train.config import TrainConfig

    config = TrainConfig(model="cnn", seed=seed)
    if epochs is not None:
        config.epochs = epochs
    return config


def train_graphgrad(seed: int, epochs: int | None = None) -> dict[str, Any]:
    """One ``graphgrad train --model cnn`` run: test accuracy, training seconds, how the step ran."""
    from graphgrad.train.experiment import start_run

    with tempfile.TemporaryDirectory() as folder:
        result = start_run(_config(seed, epochs), Path(folder) / "run", quiet=True)
    trainer = result.trainer
    return {"accuracy": result.test["accuracy"], "seconds": result.seconds, "step": trainer.compile_note,
            "threads": trainer.threads_used, "thread_steps_ms": _measured_steps(trainer)}


def _measured_steps(trainer: Any) -> dict[str, float] | None:
    """Median milliseconds per step of the blocks the run measured on each thread count (None when
    it did not measure: a given count, or other busy processes)."""
    probe = getattr(trainer._threads, "probe", None)
    if probe is None:
        return None
    return {str(n): round(1e3 * statistics.median(b), 2) for n, b in probe.blocks.items() if b}


def train_torch(seed: int, epochs: int | None = None, threads: int | None = None) -> dict[str, Any]:
    """The same run in PyTorch eager: the trainer's initial weights and batches, PyTorch's own loop."""
    import numpy as np
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    from graphgrad.benchmarks.torch_models import to_torch
    from graphgrad.train.experiment import build_trainer, prepare_data

    config = _config(seed, epochs)
    prepared = prepare_data(config)
    with tempfile.TemporaryDirectory() as folder:
        trainer = build_trainer(config, prepared, Path(folder), quiet=True)
    net = to_torch(trainer.model)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    seconds = 0.0
    for _ in range(config.epochs):
        net.train()
        start = time.perf_counter()
        for x, y in trainer.train_loader:  # the trainer's loader: the same batches in the same order
            target = torch.from_numpy(np.asarray(y.data))
            out = net(torch.from_numpy(x.data))
            loss = torch.nn.functional.cross_entropy(out, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
            int((out.argmax(dim=1) == target).sum())
        seconds += time.perf_counter() - start
        schedule.step()
    net.eval()
    x_test, y_test = prepared.test
    with torch.no_grad():
        accuracy = float((net(torch.from_numpy(x_test)).argmax(dim=1).numpy() == y_test).mean())
    return {"accuracy": accuracy, "seconds": seconds, "threads": torch.get_num_threads(), "version": torch.__version__}


def _peer(seeds: tuple[int, ...], epochs: int | None, threads: int | None) -> list[dict[str, Any]] | dict[str, str]:
    args = ["--peer", "--seeds", ",".join(map(str, seeds))]
    if epochs is not None:
        args += ["--epochs", str(epochs)]
    if threads is not None:
        args += ["--torch-threads", str(threads)]
    return run_peer("graphgrad.benchmarks.cnn_digits", args)  # type: ignore[no-any-return]


def run(seeds: tuple[int, ...] = SEEDS, epochs: int | None = None, torch: bool = True,
        out: str | None = "bench/cnn_digits.json", torch_threads: int | None = None) -> dict[str, Any]:
    """Every seed in graphgrad, then PyTorch's process; the table; every number as JSON."""
    import importlib.util

    from graphgrad.benchmarks.speed import machine

    results: dict[str, Any] = {"machine": machine(), "seeds": list(seeds), "epochs": epochs or _config(0, None).epochs}
    ours = []
    for s in seeds:
        ours.append(train_graphgrad(s, epochs))
        steps = ours[-1]["thread_steps_ms"]
        how = "given or kept without measuring" if steps is None else "measured: " + ", ".join(
            f"{ms} ms per step on {n}" for n, ms in steps.items())
        print(f"graphgrad seed {s}: test accuracy {ours[-1]['accuracy']:.2%}, training {ours[-1]['seconds']:.1f} s "
              f"({ours[-1]['step']}, {ours[-1]['threads']} BLAS thread(s), {how})", flush=True)
    results["graphgrad"] = ours
    if torch and importlib.util.find_spec("torch") is not None:
        results["torch"] = _peer(seeds, epochs, torch_threads)
    print_table(results)
    if out:
        from graphgrad.io import atomic_write_text

        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        atomic_write_text(Path(out), json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}")
    return results


def print_table(results: dict[str, Any]) -> None:
    ours, theirs = results["graphgrad"], results.get("torch")
    if isinstance(theirs, dict):
        print(f"PyTorch run failed: {theirs['error']}")
        theirs = None
    print(f"\n{'seed':>4} {'graphgrad acc':>13} {'s':>6} {'PyTorch acc':>11} {'s':>6}")
    for i, s in enumerate(results["seeds"]):
        t = f"{theirs[i]['accuracy']:11.2%} {theirs[i]['seconds']:6.1f}" if theirs else f"{'n/a':>11} {'':>6}"
        print(f"{s:>4} {ours[i]['accuracy']:13.2%} {ours[i]['seconds']:6.1f} {t}")
    acc, sec = statistics.median(r["accuracy"] for r in ours), statistics.median(r["seconds"] for r in ours)
    line = (f"medians: graphgrad {acc:.2%} in {sec:.1f} s (mean accuracy "
            f"{statistics.mean(r['accuracy'] for r in ours):.2%})")
    if theirs:
        t_acc, t_sec = statistics.median(r["accuracy"] for r in theirs), statistics.median(r["seconds"] for r in theirs)
        line += (f"; PyTorch {t_acc:.2%} in {t_sec:.1f} s ({theirs[0]['threads']} threads): graphgrad takes "
                 f"{sec / t_sec:.2f}x its time")
    print(line)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--epochs", type=int, default=None, help="fewer epochs for a quick look (default 20)")
    parser.add_argument("--no-torch", action="store_true", help="train with graphgrad only")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="PyTorch's threads (default: its own setting, every core)")
    parser.add_argument("--out", default="bench/cnn_digits.json", help="where to write every number as JSON")


def _seeds(text: str) -> tuple[int, ...]:
    from graphgrad.errors import ConfigError

    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(f"--seeds: expected integers separated by commas, got {text!r}") from None


def run_from_args(args: argparse.Namespace) -> int:
    run(_seeds(args.seeds), args.epochs, torch=not args.no_torch, out=args.out, torch_threads=args.torch_threads)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="graphgrad bench cnn-digits")
    add_arguments(parser)
    main_with_peer(parser, argv, lambda args: [train_torch(s, args.epochs, args.torch_threads)
                                               for s in _seeds(args.seeds)], run_from_args)


if __name__ == "__main__":
    main()

"""PyTorch eager as a peer: run in its own process (its OpenMP threads and NumPy's OpenBLAS
threads slow each other down when they share one), timed interleaved with this process's own
hand-written NumPy step (``ratio``), printing JSON medians per config."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

import numpy as np

from graphgrad.benchmarks.mlp_configs import CONFIGS, LEARNING_RATE
from graphgrad.benchmarks.numpy_mlp import init_mlp, train_step
from graphgrad.benchmarks.timing import record_against_numpy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    import torch

    results: dict[str, Any] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                               "step_s": {}, "numpy_s": {}, "ratio": {}}
    for config in CONFIGS:
        layers = init_mlp(list(config.sizes), np.random.default_rng(0))
        mods: list[torch.nn.Module] = []
        for i, (w, b) in enumerate(layers):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if i < len(layers) - 1:
                mods.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*mods)
        opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        x_np, y_np = config.batch_data()
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def step(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt, x=x, y=y) -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        numpy_step = functools.partial(train_step, layers, x_np, y_np, LEARNING_RATE)
        record_against_numpy(results, config.name, step, numpy_step, args.rounds)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

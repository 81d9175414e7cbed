"""`graphgrad bench NAME`: the benchmark subcommands of the CLI, one table row per benchmark.

Each benchmark module offers ``add_arguments(parser)`` and ``run_from_args(args)``; it is imported
only when listed in ``--help`` or run, so a missing optional dependency hides one benchmark only.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS: dict[str, str] = {
    "speed": "training-step speed against NumPy and PyTorch",
    "complexity": "backprop vs the naive gradient methods",
    "conv": "CNN training-step speed and memory against NumPy and PyTorch",
    "cnn-digits": "`graphgrad train --model cnn` on the digits against the same CNN in PyTorch, per seed",
    "distributed": "data-parallel speed over MPI and the scaling projection",
    "contention": "default `graphgrad train` next to a busy process, against one BLAS thread",
}
"""Benchmark name (its module in graphgrad.benchmarks, with ``_`` for ``-``) -> one-line help."""


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", required=True, metavar="{" + ",".join(BENCHMARKS) + "}")
    for name, help_text in BENCHMARKS.items():
        module = importlib.import_module(f"graphgrad.benchmarks.{name.replace('-', '_')}")
        module.add_arguments(sub.add_parser(name, help=help_text))


def run_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"graphgrad.benchmarks.{args.bench.replace('-', '_')}")
    return int(module.run_from_args(args) or 0)

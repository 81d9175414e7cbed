"""`graphgrad bench speed | complexity | conv`: the benchmark subcommands of the CLI."""

from __future__ import annotations

import argparse


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", required=True, metavar="{speed,complexity,conv}")
    from graphgrad.benchmarks import conv, speed

    speed.add_arguments(sub.add_parser("speed", help="training-step speed against NumPy and PyTorch"))
    conv.add_arguments(sub.add_parser("conv", help="CNN training-step speed and memory against NumPy and PyTorch"))
    try:
        from graphgrad.benchmarks import complexity
    except ImportError:
        return
    complexity.add_arguments(sub.add_parser("complexity", help="backprop vs the naive gradient methods"))


def run_bench(args: argparse.Namespace) -> int:
    if args.bench == "speed":
        from graphgrad.benchmarks import speed

        return speed.run_from_args(args)
    if args.bench == "conv":
        from graphgrad.benchmarks import conv

        return conv.run_from_args(args)
    from graphgrad.benchmarks import complexity

    return complexity.run(args)

"""The ``graphgrad`` command: ``train``, ``evaluate``, ``predict``, ``explain``, ``bench``.

A user's mistake (bad option, missing or malformed file, invalid checkpoint, diverged training)
prints one line to stderr and exits with status 2; a bug in graphgrad still shows its traceback.
``explain`` and ``bench`` live in other packages and are imported only when used, so ``train``
works even if they cannot be imported.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from graphgrad.errors import CheckpointError, ConfigError, DataError, TrainingDivergedError

USER_ERRORS = (ConfigError, DataError, CheckpointError, TrainingDivergedError, FileNotFoundError,
               IsADirectoryError, NotADirectoryError, PermissionError)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# option name -> TrainConfig field, for options that set training settings
_TRAIN_OPTIONS = ("dataset", "data", "target", "hidden", "activation", "optimizer", "lr", "momentum",
                  "batch_size", "epochs", "dropout", "l2", "weight_decay", "schedule", "patience", "seed")


class UsageError(ConfigError):
    """A command line argparse could not parse."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    from graphgrad.train.config import ACTIVATIONS, OPTIMIZERS, SCHEDULES

    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="built-in dataset (default: digits)")
    src.add_argument("--data", metavar="FILE", help="CSV, NPZ or IDX file to train on")
    p.add_argument("--target", metavar="COL", help="target column of --data (default: the last)")
    p.add_argument("--hidden", metavar="SIZES", help="hidden layer sizes, e.g. 128,64")
    p.add_argument("--activation", help=f"one of {', '.join(ACTIVATIONS)}")
    p.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)}")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--momentum", type=float, help="momentum (sgd, rmsprop)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--dropout", type=float, help="drop probability after each hidden layer")
    p.add_argument("--l2", type=float, help="L2 penalty lambda added to the loss (weights only)")
    p.add_argument("--weight-decay", type=float, help="the optimizer's weight decay")
    p.add_argument("--schedule", help=f"learning-rate schedule: {', '.join(SCHEDULES)}")
    p.add_argument("--patience", type=int, help="early stopping after this many epochs without val-loss gain")
    p.add_argument("--seed", type=int)
    p.add_argument("--config", metavar="FILE.toml", help="settings from a TOML file (options override it)")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<dataset>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR to its planned end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphgrad", description="Backpropagation made real: train, inspect and explain MLPs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train_arguments(sub.add_parser("train", help="train an MLP (default: digits, >= 97%% test accuracy)"))
    ev = sub.add_parser("evaluate", help="metrics of a saved run on its test split or on --data")
    ev.add_argument("run_dir", metavar="RUN_DIR")
    ev.add_argument("--data", metavar="FILE")
    pr = sub.add_parser("predict", help="predictions of a saved run for the rows of --data, as CSV")
    pr.add_argument("run_dir", metavar="RUN_DIR")
    pr.add_argument("--data", metavar="FILE", required=True)
    pr.add_argument("--output", metavar="OUT.csv", help="write here instead of standard output")
    for name, module, adder, runner in _EXTERNAL:
        p = sub.add_parser(name, help=f"see graphgrad {name} --help", add_help=False)
        p.set_defaults(external=(module, adder, runner))
    return parser


_EXTERNAL = (
    ("explain", "graphgrad.viz.command", "add_explain_arguments", "run_explain"),
    ("bench", "graphgrad.benchmarks.cli", "add_bench_arguments", "run_bench"),
)


# ---------------------------------------------------------------------------------------- train
def _train_config(args: argparse.Namespace) -> Any:
    from graphgrad.train.config import TrainConfig, parse_hidden, read_toml

    values: dict[str, Any] = {}
    source = "command line"
    if args.config:
        values.update(read_toml(args.config))
        source = f"{args.config} and the command line"
    for name in _TRAIN_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            values[name] = parse_hidden(value) if name == "hidden" else value
    if args.data is not None:
        values.pop("dataset", None)
    if args.dataset is not None:
        values.pop("data", None)
    return TrainConfig.from_dict(values, source=source)


def _summary(result: Any, verb: str) -> None:
    t = result.test
    quality = f"test accuracy {t['accuracy']:.2%}" if result.task == "classification" else f"test R^2 {t['r2']:.4f}"
    trainer = result.trainer
    early = ""
    for cb in trainer.callbacks:
        if getattr(cb, "fired", False):
            early = f", stopped early at epoch {cb.stopped_epoch}"
    print(f"{quality}  (test loss {t['loss']:.4f})")
    print(f"{verb} {trainer.epoch} epochs, {trainer.step} steps in {result.seconds:.1f} s{early}")
    print(f"run saved in {result.run_dir}  (graphgrad evaluate {result.run_dir})")


def _interrupted(result: Any) -> int:
    print(f"interrupted at epoch {result.trainer.epoch + 1}, step {result.trainer.step}; run saved in "
          f"{result.run_dir}; continue with: graphgrad train --resume {result.run_dir}", file=sys.stderr)
    return EXIT_INTERRUPTED


def cmd_train(args: argparse.Namespace) -> int:
    from graphgrad.train.experiment import resume_run, start_run

    if args.resume:
        given = [f"--{n.replace('_', '-')}" for n in _TRAIN_OPTIONS if getattr(args, n) is not None]
        given += ["--config"] * bool(args.config) + ["--out"] * bool(args.out)
        if given:
            raise ConfigError(f"--resume continues the run with its saved configuration; drop {' '.join(given)}")
        result = resume_run(args.resume, quiet=args.quiet)
        verb = "resumed; ran"
    else:
        result = start_run(_train_config(args), args.out, quiet=args.quiet)
        verb = "trained"
    if result.trainer.interrupted:
        return _interrupted(result)
    _summary(result, verb)
    return 0


# ------------------------------------------------------------------------------ evaluate, predict
def cmd_evaluate(args: argparse.Namespace) -> int:
    from graphgrad.train.experiment import evaluate_run

    m = evaluate_run(args.run_dir, args.data)
    if m["task"] == "classification":
        print(f"accuracy {m['accuracy']:.2%}  loss {m['loss']:.4f}  on {m['n']} examples ({m['data']})")
    else:
        print(f"R^2 {m['r2']:.4f}  MSE {m['mse']:.4f} (standardized target)  on {m['n']} examples ({m['data']})")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from graphgrad.io import atomic_write_text
    from graphgrad.train.experiment import predict_run

    header, rows = predict_run(args.run_dir, args.data)
    if args.output is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return 0
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(Path(args.output), buf.getvalue())
    print(f"wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ explain, bench
def _run_external(name: str, spec: tuple[str, str, str], argv: Sequence[str]) -> int:
    module_name, adder, runner = spec
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and module_name.startswith(e.name):
            raise ConfigError(
                f"graphgrad {name} is not available in this installation ({module_name} is missing)"
            ) from None
        raise
    parser = _Parser(prog=f"graphgrad {name}")
    getattr(module, adder)(parser)
    return int(getattr(module, runner)(parser.parse_args(list(argv))) or 0)


# ---------------------------------------------------------------------------------------- main
_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        external = {name: (m, a, r) for name, m, a, r in _EXTERNAL}
        if argv and argv[0] in external:  # its own parser handles everything after the name
            return _run_external(argv[0], external[argv[0]], argv[1:])
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help
            return int(e.code or 0)
        if args.command is None:
            parser.print_help()
            return EXIT_USER_ERROR
        return _COMMANDS[args.command](args)
    except USER_ERRORS as e:
        print(f"graphgrad: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SystemExit as e:  # --help of an external subcommand
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("graphgrad: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(error: BaseException) -> str:
    text = str(error) if not isinstance(error, FileNotFoundError) or not error.filename else \
        f"file not found: {error.filename}"
    return " ".join(text.split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())

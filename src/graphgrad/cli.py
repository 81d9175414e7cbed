"""The ``graphgrad`` command: ``train``, ``evaluate``, ``predict``, ``explain``, ``bench``.

A user's mistake (bad option, missing or malformed file, invalid checkpoint, diverged training)
and anything the machine refuses (a full disk, a read-only folder, too little memory) print one
line to stderr and exit with status 2; a bug in graphgrad still shows its traceback. Options are
matched exactly (no abbreviations), so a typo is an error rather than another option.
``explain`` and ``bench`` live in other packages and are imported only when used, so ``train``
works even if they cannot be imported.

``mpiexec -n N graphgrad train ...`` trains data parallel on N processes (ranks) with the same
options (see :func:`main_on_ranks`): rank 0 prints and writes the run folder; the other ranks
print nothing but their own errors.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from graphgrad.distributed.agreement import FailedOnSomeRankError, agree, one_line
from graphgrad.errors import CheckpointError, ConfigError, DataError, TrainingDivergedError

USER_ERRORS = (ConfigError, DataError, CheckpointError, TrainingDivergedError, OSError, MemoryError)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# option name -> TrainConfig field, for options that set training settings
_TRAIN_OPTIONS = ("dataset", "data", "target", "task", "drop", "features", "missing", "model", "hidden",
                  "channels", "activation", "optimizer", "lr", "momentum", "batch_size", "epochs", "dropout", "l2",
                  "weight_decay", "schedule", "patience", "seed", "test_size", "val_size", "class_weight")
_RESUME_OPTIONS = ("lr",)  # settings --resume may change

COLUMNS_HELP = """how CSV columns are treated:
  target    --target (default: the last column). --task auto decides: text labels or at most 20
            distinct integers -> classification; more distinct integers or decimals -> regression.
  features  every other column, or those of --features, minus --drop. Numbers are standardized
            with the training split's mean and std; text columns are one-hot encoded; text
            columns that look like identifiers (over 100 distinct values, or most rows distinct)
            or dates are refused: leave them out with --drop.
  missing   cells that are empty or NA, NaN, null, ? (any case), in any column. --missing error
            counts them per column; drop leaves those rows out; fill uses the training split's
            mean (numbers) or most frequent value (text), saved with the run.
  new data  evaluate / predict encode a file like the training data: other columns are ignored,
            a category not seen in training becomes all zeros (and is counted).
"""


class UsageError(ConfigError):
    """A command line argparse could not parse."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line, and
    that never accepts an abbreviated option (``--drop`` must not become ``--dropout``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        unknown = message.removeprefix("unrecognized arguments: ").split() if message.startswith("unrecognized") else []
        dashed = [a for a in unknown if a.startswith("-") and not a.lstrip("-").replace("-", "_").isidentifier()]
        if dashed:  # an expression such as -x**2 read as an option
            message += f"; a value that starts with '-' goes after '--': {self.prog} [options] -- '{dashed[0]}'"
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    from graphgrad.train.config import (
        ACTIVATIONS,
        CLASS_WEIGHTS,
        MISSING,
        MODELS,
        OPTIMIZERS,
        SCHEDULES,
        TASKS,
        TrainConfig,
        default_text,
        model_defaults,
    )
    from graphgrad.train.registry import SCHEDULE_HELP

    d = TrainConfig()
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", help=f"built-in dataset (default: {d.dataset})")
    src.add_argument("--data", metavar="FILE", help="CSV, NPZ or IDX file to train on")
    p.add_argument("--target", metavar="COL", help="target column of --data (default: the last)")
    p.add_argument("--task", help=f"{' | '.join(TASKS)} (default: {d.task}; see below)")
    p.add_argument("--drop", metavar="COLS", help="CSV columns that are not features, e.g. name,date")
    p.add_argument("--features", metavar="COLS", help="use only these CSV columns as features")
    p.add_argument("--missing", help=f"missing cells: {' | '.join(MISSING)} (default: {d.missing})")
    p.add_argument("--test-size", type=float, help=f"fraction held out for the test (default: {d.test_size})")
    p.add_argument("--val-size", type=float, help=f"fraction held out for validation (default: {d.val_size})")
    p.add_argument("--class-weight", help=f"{' | '.join(CLASS_WEIGHTS)}: weigh classes by inverse frequency "
                                          f"(default: {d.class_weight})")
    p.add_argument("--model", help=f"one of {', '.join(MODELS)} (default: {d.model})")
    p.add_argument("--hidden", metavar="SIZES",
                   help=f"hidden layer sizes, or none (default: {default_text('hidden')})")
    p.add_argument("--channels", metavar="SIZES",
                   help="--model cnn: channels of each stage of two 3x3 convolutions and a 2x2 pooling, e.g. "
                        f"16,32,64 (default: {','.join(map(str, model_defaults('cnn')['channels']))})")
    p.add_argument("--activation", help=f"one of {', '.join(ACTIVATIONS)}; after every hidden layer and "
                                        f"convolution (default: {d.activation})")
    p.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)} (default: {d.optimizer})")
    p.add_argument("--lr", type=float, help=f"learning rate (default: {d.lr:g}); with --resume: go on with this one")
    p.add_argument("--momentum", type=float, help=f"momentum of sgd and rmsprop (default: {d.momentum})")
    p.add_argument("--batch-size", type=int, help=f"examples per step (default: {d.batch_size})")
    p.add_argument("--epochs", type=int, help=f"passes over the training split (default: {d.epochs})")
    p.add_argument("--dropout", type=float, help=f"drop probability after each hidden layer (default: {d.dropout})")
    p.add_argument("--l2", type=float, help=f"L2 penalty added to the loss, weights only (default: {d.l2})")
    p.add_argument("--weight-decay", type=float, help=f"the optimizer's weight decay (default: {d.weight_decay})")
    p.add_argument("--schedule", help="learning-rate schedule: " + ", ".join(f"{k} ({v})" for k, v in
                                                                           SCHEDULE_HELP.items() if k in SCHEDULES)
                   + f" (default: {d.schedule})")
    p.add_argument("--patience", type=int,
                   help="stop early after this many epochs without validation-loss gain (default: off)")
    p.add_argument("--seed", type=int, help=f"makes the split, weights and data order repeatable (default: {d.seed})")
    p.add_argument("--config", metavar="FILE.toml", help="settings from a TOML file (options override it)")
    p.add_argument("--out", metavar="DIR", help="a new or empty folder for the run (default: runs/<data>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR to its planned end")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--report", action="store_true",
                   help="when training ends, write RUN/report.html (as graphgrad report RUN)")
    _add_speed_arguments(p)


def _add_speed_arguments(p: argparse.ArgumentParser) -> None:
    """How fast a run goes, never what it computes: not saved with the run, free on --resume."""
    p.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads for matrix products (default: measured on the run's first training steps)")
    p.add_argument("--no-compile", action="store_true",
                   help="run every training step eagerly instead of replaying the captured step")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphgrad",
                     description="Backpropagation made real: train, inspect and explain neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train_arguments(sub.add_parser("train", help="train an MLP (default: digits, >= 97%% test accuracy) or a CNN",
                                        epilog=COLUMNS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
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
    ("report", "graphgrad.viz.command", "add_report_arguments", "run_report"),
    ("bench", "graphgrad.benchmarks.cli", "add_bench_arguments", "run_bench"),
)


# ---------------------------------------------------------------------------------------- train
def _train_config(args: argparse.Namespace) -> Any:
    from graphgrad.train.config import SIZE_SETTINGS, TrainConfig, parse_sizes, read_toml

    values: dict[str, Any] = {}
    source = "command line"
    if args.config:
        values.update(read_toml(args.config))
        source = f"{args.config} and the command line"
    for name in _TRAIN_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            values[name] = parse_sizes(name, value) if name in SIZE_SETTINGS else value
    values.pop("resume", None)
    if args.data is not None:
        values.pop("dataset", None)
    if args.dataset is not None:
        values.pop("data", None)
    return TrainConfig.from_dict(values, source=source)


def _say(line: str) -> None:
    print(line, flush=True)


def _summary(result: Any, verb: str) -> None:
    t = result.test
    quality = f"test accuracy {t['accuracy']:.2%}" if result.task == "classification" else f"test R^2 {t['r2']:.4f}"
    trainer = result.trainer
    early = f"; {trainer.stop_reason}" if trainer.stop_reason else ""
    sizes = result.metadata["split_sizes"]
    print(f"{quality}  (test loss {t['loss']:.4f}; {sizes['train']} train / {sizes['val']} validation / "
          f"{sizes['test']} test examples)")
    print(f"{verb} {trainer.epoch} epochs, {trainer.step} steps in {result.seconds:.1f} s{early}")
    print(f"run saved in {result.run_dir}  (graphgrad evaluate {result.run_dir})")


def _interrupted(result: Any) -> int:
    print(f"interrupted at epoch {result.trainer.epoch + 1}, step {result.trainer.step}; run saved in "
          f"{result.run_dir}; continue with: graphgrad train --resume {result.run_dir}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _check_train_args(args: argparse.Namespace) -> None:
    """Refuse options that contradict each other or the settings, before anything is read."""
    if args.resume:
        given = [f"--{n.replace('_', '-')}" for n in _TRAIN_OPTIONS
                 if getattr(args, n) is not None and n not in _RESUME_OPTIONS]
        given += ["--config"] * bool(args.config) + ["--out"] * bool(args.out)
        if given:
            raise ConfigError(f"--resume continues the run with its saved configuration (only --lr may change); "
                              f"drop {' '.join(given)}")
    else:
        _train_config(args).validate()


def cmd_train(args: argparse.Namespace) -> int:
    from graphgrad.distributed.comm import current
    from graphgrad.train.experiment import resume_run, start_run

    _check_train_args(args)
    if args.resume:
        result = resume_run(args.resume, quiet=args.quiet, lr=args.lr, say=_say)
        verb = "resumed; the run has"
    else:
        result = start_run(_train_config(args), args.out, quiet=args.quiet, say=_say)
        verb = "trained"
    if result.trainer.interrupted:
        return _interrupted(result)
    _summary(result, verb)
    if args.report:
        from graphgrad.viz.report import write_report

        written = agree(lambda: write_report(result.run_dir) if current().is_main else None, USER_ERRORS, one_line)
        if written is not None:
            print(f"wrote {written}")
    return 0


# ------------------------------------------------------------------------------ evaluate, predict
def cmd_evaluate(args: argparse.Namespace) -> int:
    from graphgrad.train.evaluation import format_report
    from graphgrad.train.experiment import evaluate_run

    report = evaluate_run(args.run_dir, args.data)
    for line in format_report(report):
        print(line)
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"saved in {report['files']}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from graphgrad.io import atomic_write_text
    from graphgrad.io.atomic import check_replaceable
    from graphgrad.train.experiment import is_predictions_file, predict_run
    from graphgrad.train.run_dir import check_output_path

    if args.output is not None:
        check_output_path(Path(args.output), Path(args.run_dir), Path(args.data))
        check_replaceable(Path(args.output), "predict --output", is_predictions_file)
    header, rows, notes = predict_run(args.run_dir, args.data)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    for note in notes:
        print(f"graphgrad: note: {note}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(buf.getvalue())
        return 0
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
def _with_speed_settings(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` run under the speed options of :func:`_add_speed_arguments`."""

    def run(args: argparse.Namespace) -> int:
        import contextlib

        with contextlib.ExitStack() as stack:
            if args.threads is not None:
                from graphgrad import threads

                stack.enter_context(threads.limit(args.threads))
            if args.no_compile:
                from graphgrad import compile as captured

                stack.enter_context(captured.disabled())
            return command(args)

    return run


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _with_speed_settings(cmd_train), "evaluate": cmd_evaluate, "predict": cmd_predict,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from graphgrad.distributed.comm import launcher_size

    if argv[:1] == ["train"] and launcher_size() > 1:
        return main_on_ranks(argv)
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
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except USER_ERRORS as e:
        print(f"graphgrad: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SystemExit as e:  # --help of an external subcommand
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("graphgrad: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# ------------------------------------------------------------------------------ train under mpiexec
def _launcher_rank() -> int:
    """This process's rank as the launcher says (before MPI is joined); 0 when it says nothing."""
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def main_on_ranks(argv: list[str]) -> int:
    """``graphgrad train`` on one rank of an MPI job; every rank runs it with the same ``argv``.

    Failure, not hang. A mistake every rank meets at the same point (an option, a file, a folder,
    a diverged loss: setup steps end in :func:`~graphgrad.distributed.agree`, and divergence is
    decided on the global batch's loss) ends every rank with status 2 and one line printed once by
    rank 0, naming the rank where it happened if that was not rank 0. Anything else on one rank (a
    bug, a disk that fills while rank 0 saves, ``sys.exit``) prints one line naming that rank (a
    bug's traceback first) and aborts the whole job (MPI Abort), since the others wait for it.
    """
    from graphgrad.distributed.comm import init
    from graphgrad.distributed.failure import abort_world
    from graphgrad.distributed.prepare import limit_blas_threads

    try:
        world = init()
    except USER_ERRORS as e:  # no MPI to coordinate with: only the launcher's rank 0 prints
        if _launcher_rank() == 0:
            print(f"graphgrad: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    if not world.is_main:  # errors go to the real stderr, through abort_world below
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    def parse() -> argparse.Namespace | int:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help
            return int(e.code or 0)
        _check_train_args(args)
        return args

    def fail(line: str, code: int) -> int:
        sys.stderr = sys.__stderr__
        abort_world(world, line, code)
        return code  # pragma: no cover - abort_world does not return

    try:
        limit_blas_threads()
        args = agree(parse, USER_ERRORS, one_line)
        return args if isinstance(args, int) else cmd_train(args)
    except (FailedOnSomeRankError, TrainingDivergedError) as e:  # every rank is here, at the same point
        if world.is_main:
            line = e.line if isinstance(e, FailedOnSomeRankError) else one_line(e)
            print(f"graphgrad: error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except USER_ERRORS as e:
        return fail(f"error: {one_line(e)}", EXIT_USER_ERROR)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    except SystemExit as e:
        if not e.code:
            return 0
        return fail(f"exited with status {e.code}", e.code if isinstance(e.code, int) else 1)
    except BaseException as e:  # a bug: its traceback, then the job ends
        sys.stderr = sys.__stderr__
        import traceback

        traceback.print_exc()
        return fail(f"{type(e).__name__}: {e}", 1)


if __name__ == "__main__":
    sys.exit(main())

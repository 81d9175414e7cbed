"""A whole training run from a :class:`TrainConfig`: data, model, optimizer, schedule, run folder.

``start_run`` trains a new run, ``resume_run`` continues a saved one to its planned end (or
completes the files of a finished one), and ``evaluate_run`` / ``predict_run`` use a saved run
(through :func:`graphgrad.train.run.load_run`). Everything a run needs later (the config, the
preprocessing, class and feature names, the data schema) is saved in its state.json, so a run
folder stands on its own. The run folder rules (one writer, nothing touched that the run did not
write) are in :mod:`graphgrad.train.run_dir`.

Random generators are derived from the seed, one per purpose (split, init, dropout, data order),
so changing e.g. the dropout rate does not change the data order.

Under MPI (``mpiexec -n N graphgrad train``) every rank runs these functions: all ranks load the
data and train their part of each global batch; only rank 0 touches the run folder (lock,
checkpoints, metrics, curves, summary, maps). Setup steps end with :func:`agree`, so a user's
mistake on any rank ends every rank at the same point with one line, and rank 0 has cleaned a
resumed folder before any rank reads it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad import data as gdata
from graphgrad import nn
from graphgrad.data._io import memory_bytes
from graphgrad.distributed.agreement import agree
from graphgrad.distributed.comm import World, all_gather_json, current
from graphgrad.distributed.prepare import shard_loader
from graphgrad.errors import CheckpointError, ConfigError, DataError, GraphgradError
from graphgrad.io import atomic_write_text
from graphgrad.io.checkpoint import STATE_FILE
from graphgrad.train.callbacks import Checkpoint, EarlyStopping
from graphgrad.train.config import SIZE_SETTINGS, TrainConfig
from graphgrad.train.csv_safety import safe_cell
from graphgrad.train.evaluation import folder_name, write_evaluation
from graphgrad.train.history import CURVES_PNG, plot_history, write_history
from graphgrad.train.losses import balanced_class_weights, build_loss
from graphgrad.train.metrics import CLASSIFICATION, classification_report, regression_report
from graphgrad.train.preprocess import Preprocessing
from graphgrad.train.progress import ProgressBar
from graphgrad.train.registry import MODEL_SIZES, OPTIMIZERS, SCHEDULES
from graphgrad.train.run import Run, build_model, load_run, read_run_config
from graphgrad.train.run_dir import (
    SUMMARY_FILE,
    check_has_checkpoint,
    check_new_run_folder,
    check_not_running,
    clean_leftovers,
    new_run_folder,
    run_lock,
)
from graphgrad.train.trainer import Trainer, evaluate

__all__ = ["PreparedData", "RunResult", "build_model", "evaluate_run", "load_model", "predict_run",
           "prepare_data", "read_run_config", "rebuild_splits", "resume_run", "rng_for", "start_run"]

_RNG_PURPOSE = {"split": 0, "init": 1, "dropout": 2, "loader": 3}
Say = Callable[[str], None]
SETUP_ERRORS = (GraphgradError, OSError, MemoryError)  # a user's or the machine's: one line, exit 2


def _quiet(_: str) -> None:
    """The default ``say``: a library call prints nothing."""


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """The generator of the run with ``seed`` used for ``purpose`` (independent streams)."""
    return np.random.default_rng([seed, _RNG_PURPOSE[purpose]])


@dataclass
class PreparedData:
    """The encoded splits and everything needed to encode new data the same way."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    metadata: dict[str, Any]


def load_bundle(config: TrainConfig) -> gdata.DataBundle:
    if config.data is not None:
        return gdata.load_file(config.data, config.target, task=config.task, drop=config.drop,
                               features=config.features, missing=config.missing)
    if config.drop or config.features is not None:
        raise ConfigError("--drop and --features choose columns of a --data CSV file, not of a built-in dataset")
    try:
        bundle = gdata.load_dataset(config.dataset, seed=config.seed)
    except KeyError:
        raise ConfigError(f"unknown dataset {config.dataset!r}; valid: {', '.join(gdata.dataset_names())}") from None
    if config.task not in ("auto", bundle.task):
        raise ConfigError(f"dataset {bundle.name!r} is a {bundle.task} dataset; --task {config.task} does not apply")
    bundle.task_reason = bundle.task_reason or f"dataset {bundle.name!r}: {bundle.task}"
    return bundle


def data_fingerprint(config: TrainConfig) -> str | None:
    """The sha256 of the ``--data`` file, saved with the run so that resuming or evaluating its test
    split can tell the file was changed since (None for a built-in dataset or an unreadable file,
    which loading reports)."""
    if config.data is None:
        return None
    digest = hashlib.sha256()
    try:
        with open(config.data, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def check_same_data(config: TrainConfig, metadata: dict[str, Any], run_dir: str | os.PathLike[str], why: str) -> None:
    """Refuse to rebuild a run's splits from a data file whose contents are not those it trained on."""
    saved = metadata.get("data_sha256")
    now = data_fingerprint(config)
    if saved is not None and now is not None and now != saved:
        raise DataError(f"{config.data}: the file changed since the run started (its sha256 is not the one saved "
                        f"in {Path(run_dir) / 'state.json'}); {why}")


def prepare_data(config: TrainConfig) -> PreparedData:
    """Load, split (stratified for classes), fill and standardize with training-split statistics."""
    bundle = load_bundle(config)
    if bundle.y is None:
        raise DataError(f"{config.data}: no target column to train on")
    if bundle.task == CLASSIFICATION and bundle.n_classes < 2:
        raise DataError(f"{config.data or bundle.name}: classification needs at least 2 classes, "
                        f"found {bundle.n_classes}")
    split = gdata.stratified_split(bundle.y, test_size=config.test_size, val_size=config.val_size,
                                   seed=rng_for(config.seed, "split"),
                                   stratify=bundle.task == CLASSIFICATION)
    if len(split.train) == 0 or len(split.val) == 0 or len(split.test) == 0:
        raise DataError(f"{config.data or bundle.name}: {len(bundle.y)} examples are too few to split into "
                        "train/validation/test")
    prep = Preprocessing.fit(bundle, split.train, config.missing)
    x = prep.features(bundle.X)
    y = prep.targets(bundle.y)
    n_outputs = bundle.n_classes if bundle.task == CLASSIFICATION else 1
    weights = None
    if config.class_weight == "balanced":
        if bundle.task != CLASSIFICATION:
            raise ConfigError("--class-weight balanced applies to classification, this run is a regression")
        weights = balanced_class_weights(y[split.train], n_outputs).tolist()
    metadata = {
        "source": config.data or bundle.name,
        "data_sha256": data_fingerprint(config),
        **prep.metadata(),
        "task_reason": bundle.task_reason,
        "n_features": bundle.n_features,
        "n_outputs": n_outputs,
        "input_shape": list(bundle.input_shape),
        "target_names": list(bundle.target_names),
        "feature_names": list(bundle.feature_names),
        "class_weights": weights,
        "rows_left_out": bundle.n_dropped,
        "missing_cells": dict(bundle.missing),
        "split_sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
    }
    return PreparedData((x[split.train], y[split.train]), (x[split.val], y[split.val]),
                        (x[split.test], y[split.test]), metadata)


def check_model_fits(config: TrainConfig, meta: dict[str, Any]) -> None:
    """Refuse, before allocating anything, a model whose weights, gradients and optimizer state
    (about 4 copies of the parameters, float32) cannot fit in this machine's memory."""
    count = MODEL_SIZES.get(config.model)
    if count is None:
        return
    n = count(tuple(meta["input_shape"]), int(meta["n_outputs"]), config)
    need = 4 * 4 * n + 4 * config.batch_size * (sum(config.hidden) + int(np.prod(meta["input_shape"]))) * 3
    have = memory_bytes() or 64 * 1024**3  # no size from the system (Windows): assume a large machine
    if need > 0.8 * have:
        sizes = [f"--{name} {','.join(map(str, getattr(config, name)))}" for name in SIZE_SETTINGS
                 if getattr(config, name)]
        raise ConfigError(f"{' '.join(sizes) or '--hidden none'}: the model has {n:,} parameters; its "
                          f"weights, gradients and optimizer state need about {need / 1024**3:,.1f} GB, this "
                          f"machine has {have / 1024**3:,.1f} GB")


def build_trainer(config: TrainConfig, prepared: PreparedData, run_dir: Path, quiet: bool,
                  world: World | None = None) -> Trainer:
    """The run's trainer for this process's place in ``world`` (default: the world joined so far):
    the loader gives this rank its part of every global batch, in an order that depends only on the
    seed; only rank 0 saves, draws progress and records maps. The model is wrapped for data
    parallelism later, by :func:`data_parallel` (after a resume has loaded its weights)."""
    world = current() if world is None else world
    meta = prepared.metadata
    check_model_fits(config, meta)
    rngs = {"init": rng_for(config.seed, "init"), "dropout": rng_for(config.seed, "dropout")}
    model = build_model(config, meta, rngs)
    optimizer = OPTIMIZERS[config.optimizer](config, list(model.parameters()))
    whole = gdata.DataLoader(gdata.TensorDataset(*prepared.train), batch_size=config.batch_size, shuffle=True)
    order_seed = int(rng_for(config.seed, "loader").integers(2**62))
    loader = shard_loader(whole, order_seed, even=False, world=world)
    regularizer = (lambda: nn.l2_penalty(model, config.l2)) if config.l2 > 0 else None
    callbacks: list[Any] = [Checkpoint(run_dir), ProgressBar(disable=quiet)] if world.is_main else []
    if config.patience is not None:  # without it the run keeps its last epoch's weights
        callbacks.append(EarlyStopping(monitor="val_loss", patience=config.patience))
    if world.is_main:
        from graphgrad.viz.boundary import DecisionBoundaryRecorder  # the report's decision-boundary maps

        callbacks.append(DecisionBoundaryRecorder(run_dir, prepared.train[0]))  # 2-feature classification only
    return Trainer(model, optimizer, build_loss(meta["task"], meta.get("class_weights")), loader,
                   epochs=config.epochs, task=meta["task"], val_data=prepared.val,
                   scheduler=SCHEDULES[config.schedule](config, optimizer), callbacks=callbacks,
                   regularizer=regularizer, rngs=rngs, config=config.to_dict(), metadata=meta,
                   world=world, rank_rngs=["dropout"] if config.dropout > 0 else [])


def data_parallel(trainer: Trainer) -> None:
    """Under MPI, wrap the trainer's model in DistributedDataParallel (rank 0's weights on every
    rank, gradients averaged during backward); nothing in a world of one. A collective."""
    if trainer.world.size > 1:
        from graphgrad.distributed.ddp import DistributedDataParallel

        trainer.model = DistributedDataParallel(trainer.model)


def default_run_dir(config: TrainConfig, root: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<dataset or file stem>-<YYYYmmdd-HHMMSS>``, with a suffix if that exists."""
    name = Path(config.data).stem if config.data else config.dataset
    base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


@dataclass
class RunResult:
    run_dir: Path
    trainer: Trainer
    test: dict[str, float]
    seconds: float
    task: str
    metadata: dict[str, Any]


def _finish(run_dir: Path, trainer: Trainer, prepared: PreparedData, seconds: float) -> RunResult:
    """Test metrics (every rank computes them, alike) and, on rank 0, the summary file; every rank
    returns when rank 0 has written it (or all fail with rank 0's error)."""
    def finish() -> RunResult:
        test = evaluate(trainer.model, build_loss(trainer.task), *prepared.test, task=trainer.task)
        if trainer.finished and trainer.world.is_main:
            summary = {"test": test, "epochs_run": trainer.epoch, "steps": trainer.step, "train_seconds": seconds,
                       "best": trainer.best_metrics(), "stop_reason": trainer.stop_reason, "events": trainer.events,
                       "split_sizes": prepared.metadata["split_sizes"], "ranks": trainer.world.size}
            atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
        return RunResult(run_dir, trainer, test, seconds, trainer.task, prepared.metadata)

    return agree(finish, SETUP_ERRORS)


def _describe_data(meta: dict[str, Any], say: Say) -> None:
    say(meta["task_reason"])
    if meta.get("rows_left_out"):
        say(f"left out {meta['rows_left_out']} rows with missing values (--missing {meta.get('missing')})")
    elif meta.get("missing_cells") and meta.get("missing") == "fill":
        cells = ", ".join(f"{c} {n}" for c, n in meta["missing_cells"].items())
        say(f"filled missing cells with the training split's mean or most frequent value: {cells}")
    sizes = meta["split_sizes"]
    say(f"split: {sizes['train']} train, {sizes['val']} validation, {sizes['test']} test examples; "
        f"{meta['n_features']} features")


def start_run(config: TrainConfig, run_dir: str | os.PathLike[str] | None = None, quiet: bool = False,
              say: Say = _quiet) -> RunResult:
    """Train a new run into ``run_dir`` (default: :func:`default_run_dir`), which must not exist or
    be empty; ``say`` receives one-line notes (the task decision, split sizes)."""
    world = current()
    say = say if world.is_main else _quiet
    config.validate()
    if config.data is not None and Path(config.data).exists():  # so --resume works from any directory
        config.data = str(Path(config.data).resolve())
    path = default_run_dir(config) if run_dir is None else Path(run_dir)
    if world.size > 1:
        path = Path(all_gather_json(str(path))[0])  # rank 0's (the default name holds the time)
    with ExitStack() as folder:
        def setup() -> PreparedData:
            if world.is_main:
                if path.is_dir():
                    check_not_running(path)
                check_new_run_folder(path)
            prepared = prepare_data(config)
            check_model_fits(config, prepared.metadata)
            if world.is_main:
                folder.enter_context(new_run_folder(path))
            return prepared

        prepared = agree(setup, SETUP_ERRORS)
        _describe_data(prepared.metadata, say)
        if world.size > 1:
            say(f"training on {world.size} processes (MPI ranks); each takes its part of every batch of "
                f"{config.batch_size}")
        trainer = agree(lambda: build_trainer(config, prepared, path, quiet, world), SETUP_ERRORS)
        agree(lambda: data_parallel(trainer), SETUP_ERRORS)
        with _resumable_when_disk_fills(trainer, path):
            trainer.fit()
            return _finish(path, trainer, prepared, _training_seconds(trainer))


def resume_run(run_dir: str | os.PathLike[str], quiet: bool = False, lr: float | None = None,
               say: Say = _quiet) -> RunResult:
    """Continue the run saved in ``run_dir`` with its saved configuration to its planned end, from
    its last checkpoint; ``lr`` goes on with another learning rate (recorded in the history). A run
    that had finished gets any missing file (curves, summary) written again. Under MPI the number
    of ranks may differ from the saved run's: the global batches stay the same."""
    world = current()
    say = say if world.is_main else _quiet
    path = Path(run_dir)
    with ExitStack() as folder:
        def clean() -> list[str]:
            if not world.is_main:
                return []
            check_has_checkpoint(path)
            if not (path / STATE_FILE).exists():
                read_run_config(path)  # not a run: its clear error, before a lock file is made in the folder
            folder.enter_context(run_lock(path))
            read_run_config(path)  # read under the lock: a writer still running may be replacing its checkpoint
            return clean_leftovers(path)

        removed = agree(clean, SETUP_ERRORS)  # rank 0 has cleaned before any rank reads the checkpoint
        if removed:
            say(f"removed {len(removed)} unfinished file(s) of the interrupted run: {', '.join(sorted(removed))}")

        def load() -> tuple[Trainer, PreparedData, int]:
            checkpoint, config = read_run_config(path)
            check_same_data(config, checkpoint.state["metadata"], path, "--resume continues a run only on the data "
                            "it started with: put that file back, or train a new run with --out")
            prepared = prepare_data(config)
            trainer = build_trainer(config, prepared, path, quiet, world)
            trainer.restore(checkpoint)
            if trainer.finished and lr is not None:
                raise ConfigError(f"{path}: the run has finished all {trainer.epochs} epochs; --lr has nothing to "
                                  "continue")
            if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
                raise ConfigError(f"invalid lr {lr!r} (the learning rate must be a number > 0)")
            return trainer, prepared, int(checkpoint.state.get("ranks", 1))

        trainer, prepared, saved_ranks = agree(load, SETUP_ERRORS)
        folder.enter_context(_resumable_when_disk_fills(trainer, path))
        if trainer.finished:
            if world.is_main:
                write_history(path, trainer.history)
                plot_history(trainer.history, path / CURVES_PNG)
            say(f"the run had finished; wrote its metrics, {CURVES_PNG} and {SUMMARY_FILE} again")
            return _finish(path, trainer, prepared, _training_seconds(trainer))
        say(f"resuming from the checkpoint of epoch {trainer.epoch}, step {trainer.step} ({path / 'state.json'})")
        if saved_ranks != world.size:
            trainer.events.append({"epoch": trainer.epoch, "step": trainer.step, "ranks": world.size,
                                   "why": f"resumed on {world.size} processes, saved on {saved_ranks}"})
            say(f"the run was saved on {saved_ranks} process(es) and goes on with {world.size}; every batch still "
                f"holds {trainer.train_loader.batch_size} examples")
        if lr is not None:
            trainer.set_lr(float(lr), why="set with --resume --lr")
        agree(lambda: data_parallel(trainer), SETUP_ERRORS)
        trainer.fit()
        return _finish(path, trainer, prepared, _training_seconds(trainer))


_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # no space, or over the user's quota


@contextmanager
def _resumable_when_disk_fills(trainer: Trainer, run_dir: Path) -> Iterator[None]:
    """A disk that fills once the run has a checkpoint: the error goes on to say that checkpoint is
    intact (it is replaced only by a complete newer one) and how to continue from it."""
    try:
        yield
    except OSError as e:
        last = trainer.last_checkpoint
        if e.errno not in _DISK_FULL or last is None or isinstance(e, GraphgradError):
            raise
        note = (f"{e.strerror}; the last checkpoint (epoch {last['epoch']}, step {last['step']}) in {run_dir} is "
                f"intact: free some space, then continue with: graphgrad train --resume {run_dir}")
        raise OSError(e.errno, note, e.filename) from e


def _training_seconds(trainer: Trainer) -> float:
    """Seconds spent in training steps over all sessions of the run (from its history)."""
    return float(sum(r.get("seconds", 0.0) for r in trainer.history))


# ------------------------------------------------------------------------------------ using a run
def rebuild_splits(run: Run, run_dir: str | os.PathLike[str], why: str) -> PreparedData:
    """The run's own train / validation / test splits, rebuilt from its data. Refused when the data
    file changed since the run started (``why`` says what cannot be done then), or when state.json's
    image shape is not the data's: an edited shape of the same size would read every image wrongly
    without a word."""
    check_same_data(run.config, run.metadata, run_dir, why)
    prepared = prepare_data(run.config)
    saved, rebuilt = run.input_shape, tuple(prepared.metadata["input_shape"])
    if rebuilt != saved:
        raise CheckpointError(f"{Path(run_dir) / STATE_FILE}: metadata: image shape {'x'.join(map(str, saved))}, "
                              f"the data the run was trained on has {'x'.join(map(str, rebuilt))}")
    return prepared


def load_model(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """The run's model (its saved weights, eval mode), config and metadata (see :func:`load_run`)."""
    run = load_run(run_dir)
    return run.model, run.config, run.metadata


def evaluate_run(run_dir: str | os.PathLike[str], data: str | None = None, save: bool = True) -> dict[str, Any]:
    """Metrics of a saved run on its test split, or on the file ``data``: loss, accuracy, balanced
    accuracy, per-class precision / recall / F1 / support and the confusion matrix, or RMSE, MAE
    and R^2 in the target's units. With ``save``, the report's files go to ``evaluation/<name>/``."""
    run = load_run(run_dir)
    prep, task = run.preprocessing, run.task
    notes: list[str] = []
    if data is None:
        x, y = rebuild_splits(run, run_dir, "its test split cannot be rebuilt; evaluate on a file with --data").test
        where = "test split"
    else:
        bundle = prep.load(data, with_target=True, input_shape=run.input_shape)
        if bundle.y is None:
            raise DataError(f"{data}: no target column {prep.schema['target']!r} to evaluate against")
        if bundle.n_dropped:
            notes.append(f"left out {bundle.n_dropped} rows with missing values")
        if bundle.unseen:
            notes.append(f"{sum(bundle.unseen.values())} cells had a category not seen in training (encoded as "
                         f"all zeros): " + ", ".join(f"{c} {n}" for c, n in bundle.unseen.items()))
        x, y = prep.features(bundle.X), prep.targets(bundle.y)
        where = data
    metrics = evaluate(run.model, build_loss(task), x, y, task=task)
    report: dict[str, Any] = {"task": task, "data": where, "n": int(len(x)), "loss": metrics["loss"], "notes": notes}
    outputs = run.outputs(x)
    if task == CLASSIFICATION:
        report.update(classification_report(y, np.argmax(outputs, axis=1), len(run.class_names)))
        report["class_names"] = run.class_names
    else:
        report.update(regression_report(prep.to_units(outputs), prep.to_units(y)))
        report["target"] = prep.schema["target"]
    if save:
        report["files"] = str(write_evaluation(Path(run_dir), folder_name(data), report))
    return report


PREDICTION_COLUMN = "prediction"
"""The first column of every predictions file: how ``predict --output`` knows a file is its own."""


def is_predictions_file(path: Path) -> bool:
    """Whether ``path`` is a predictions file graphgrad wrote (its first column is named
    :data:`PREDICTION_COLUMN`), which ``predict --output`` may replace."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            first = f.readline()
    except OSError:
        return False
    return first.rstrip("\r\n").split(",")[0] == PREDICTION_COLUMN


def predict_run(run_dir: str | os.PathLike[str], data: str) -> tuple[list[str], list[list[Any]], list[str]]:
    """Predictions for the rows of ``data``: ``(header, rows, notes)``, a class name and its
    probabilities per row for classification, the value in the target's units for regression.
    Class names are protected against spreadsheet formulas; unusable rows get empty cells."""
    run = load_run(run_dir)
    if run.task == CLASSIFICATION:
        probs = run.predict_proba(data)
        names = run.class_names
        header = [PREDICTION_COLUMN, *[safe_cell(f"p_{n}") for n in names]]
        rows = [[safe_cell(names[int(np.argmax(p))]), *[f"{v:.6g}" for v in p]] if np.isfinite(p).all()
                else [""] * (len(names) + 1) for p in probs]
        return header, rows, run.notes
    values = run.predict(data)
    return [PREDICTION_COLUMN], [[f"{v:.6g}" if math.isfinite(v) else ""] for v in values], run.notes


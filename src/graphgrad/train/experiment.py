"""A whole training run from a :class:`TrainConfig`: data, model, optimizer, schedule, run directory.

``start_run`` trains a new run, ``resume_run`` continues a saved one to its planned end, and
``load_model`` / ``evaluate_run`` / ``predict_run`` use a finished run. Everything a run needs
later (the config, the standardizer, class and feature names, the data schema) is saved in its
state.json, so a run directory stands on its own.

Random generators are derived from the seed, one per purpose (split, init, dropout, data order),
so changing e.g. the dropout rate does not change the data order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad import data as gdata
from graphgrad import nn, optim
from graphgrad.errors import CheckpointError, ConfigError, DataError
from graphgrad.io import atomic_write_text, is_checkpoint, load_checkpoint
from graphgrad.train.callbacks import Checkpoint, EarlyStopping
from graphgrad.train.config import TrainConfig
from graphgrad.train.metrics import CLASSIFICATION, REGRESSION
from graphgrad.train.progress import ProgressBar
from graphgrad.train.trainer import Trainer, evaluate

SUMMARY_FILE = "summary.json"
_RNG_PURPOSE = {"split": 0, "init": 1, "dropout": 2, "loader": 3}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """The generator of the run with ``seed`` used for ``purpose`` (independent streams)."""
    return np.random.default_rng([seed, _RNG_PURPOSE[purpose]])


@dataclass
class PreparedData:
    """The standardized splits and everything needed to encode new data the same way."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    metadata: dict[str, Any]


def _targets(y: np.ndarray, task: str) -> np.ndarray:
    return y.astype(np.int64) if task == CLASSIFICATION else y.astype(np.float32).reshape(-1, 1)


def load_bundle(config: TrainConfig) -> gdata.DataBundle:
    if config.data is not None:
        return gdata.load_file(config.data, config.target)
    try:
        return gdata.load_dataset(config.dataset, seed=config.seed)
    except KeyError:
        raise ConfigError(f"unknown dataset {config.dataset!r}; valid: {', '.join(gdata.dataset_names())}") from None


def prepare_data(config: TrainConfig) -> PreparedData:
    """Load, split (stratified for classes), standardize on the training split only."""
    bundle = load_bundle(config)
    if bundle.y is None:
        raise DataError(f"{config.data}: no target column to train on")
    if bundle.task == CLASSIFICATION and bundle.n_classes < 2:
        raise DataError(f"{bundle.name}: classification needs at least 2 classes, found {bundle.n_classes}")
    split = gdata.stratified_split(bundle.y, test_size=config.test_size, val_size=config.val_size,
                                   seed=rng_for(config.seed, "split"))
    if len(split.train) == 0 or len(split.val) == 0 or len(split.test) == 0:
        raise DataError(f"{bundle.name}: {len(bundle.y)} examples are too few to split into train/validation/test")
    scaler = gdata.Standardizer().fit(bundle.X[split.train])
    x = np.asarray(scaler.transform(bundle.X), dtype=np.float32)
    y = _targets(bundle.y, bundle.task)
    target_scale = None
    if bundle.task == REGRESSION:  # train on a standardized target; predictions are scaled back
        ytr = y[split.train]
        target_scale = {"mean": float(ytr.mean()), "std": float(ytr.std()) or 1.0}
        y = ((y - target_scale["mean"]) / target_scale["std"]).astype(np.float32)
    metadata = {
        "source": config.data or bundle.name,
        "task": bundle.task,
        "n_features": bundle.n_features,
        "n_outputs": bundle.n_classes if bundle.task == CLASSIFICATION else 1,
        "target_names": list(bundle.target_names),
        "feature_names": list(bundle.feature_names),
        "schema": bundle.schema(),
        "standardizer": scaler.state_dict(),
        "target_scale": target_scale,
        "split_sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
    }
    return PreparedData((x[split.train], y[split.train]), (x[split.val], y[split.val]),
                        (x[split.test], y[split.test]), metadata)


def build_model(config: TrainConfig, n_in: int, n_out: int, init_rng: np.random.Generator,
                dropout_rng: np.random.Generator) -> nn.Module:
    """``Linear -> activation [-> Dropout]`` per hidden size, then ``Linear`` to the outputs."""
    activation = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                  "gelu": nn.GELU, "elu": nn.ELU, "softplus": nn.Softplus}[config.activation]
    layers: list[nn.Module] = []
    width = n_in
    for size in config.hidden:
        layers += [nn.Linear(width, size, rng=init_rng), activation()]
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout, rng=dropout_rng))
        width = size
    layers.append(nn.Linear(width, n_out, rng=init_rng))
    return nn.Sequential(*layers)


def build_optimizer(config: TrainConfig, params: list[Any]) -> optim.Optimizer:
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    return optim.Adam(params, lr=lr, weight_decay=wd)


def build_scheduler(config: TrainConfig, optimizer: optim.Optimizer) -> Any:
    sched = optim.lr_scheduler
    if config.schedule == "step":
        return sched.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1)
    if config.schedule == "exp":
        return sched.ExponentialLR(optimizer, gamma=0.95)
    if config.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "plateau":
        return sched.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
    return None


def _loss(task: str) -> nn.Module:
    return nn.CrossEntropyLoss() if task == CLASSIFICATION else nn.MSELoss()


def build_trainer(config: TrainConfig, prepared: PreparedData, run_dir: Path, quiet: bool) -> Trainer:
    meta = prepared.metadata
    rngs = {"init": rng_for(config.seed, "init"), "dropout": rng_for(config.seed, "dropout")}
    model = build_model(config, meta["n_features"], meta["n_outputs"], rngs["init"], rngs["dropout"])
    optimizer = build_optimizer(config, list(model.parameters()))
    loader = gdata.DataLoader(gdata.TensorDataset(*prepared.train), batch_size=config.batch_size, shuffle=True,
                              generator=rng_for(config.seed, "loader"))
    regularizer = (lambda: nn.l2_penalty(model, config.l2)) if config.l2 > 0 else None
    callbacks: list[Any] = [Checkpoint(run_dir), ProgressBar(disable=quiet)]
    if config.patience is not None:  # without it the run keeps its last epoch's weights
        callbacks.append(EarlyStopping(monitor="val_loss", patience=config.patience))
    return Trainer(model, optimizer, _loss(meta["task"]), loader, epochs=config.epochs, task=meta["task"],
                   val_data=prepared.val, scheduler=build_scheduler(config, optimizer), callbacks=callbacks,
                   regularizer=regularizer, rngs=rngs, config=config.to_dict(), metadata=meta)


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


def _finish(run_dir: Path, trainer: Trainer, prepared: PreparedData, seconds: float) -> RunResult:
    test = evaluate(trainer.model, trainer.loss_fn, *prepared.test, task=trainer.task)
    if trainer.finished:
        import json

        summary = {"test": test, "epochs_run": trainer.epoch, "steps": trainer.step, "train_seconds": seconds,
                   "best": trainer.best_metrics()}
        atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
    return RunResult(run_dir, trainer, test, seconds, trainer.task)


def start_run(config: TrainConfig, run_dir: str | os.PathLike[str] | None = None, quiet: bool = False) -> RunResult:
    """Train a new run into ``run_dir`` (default: :func:`default_run_dir`)."""
    config.validate()
    if config.data is not None and Path(config.data).exists():  # so --resume works from any directory
        config.data = str(Path(config.data).resolve())
    path = default_run_dir(config) if run_dir is None else Path(run_dir)
    if is_checkpoint(path):
        raise ConfigError(f"{path} already holds a run; continue it with --resume {path} or choose another --out")
    prepared = prepare_data(config)
    trainer = build_trainer(config, prepared, path, quiet)
    start = time.perf_counter()
    trainer.fit()
    return _finish(path, trainer, prepared, time.perf_counter() - start)


def read_run_config(run_dir: str | os.PathLike[str]) -> tuple[Any, TrainConfig]:
    checkpoint = load_checkpoint(run_dir)
    try:
        config = TrainConfig.from_dict(checkpoint.state["config"], source=f"{run_dir}/state.json")
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{run_dir}/state.json: no usable run configuration ({e})") from None
    return checkpoint, config


def resume_run(run_dir: str | os.PathLike[str], quiet: bool = False) -> RunResult:
    """Continue the run saved in ``run_dir`` with its saved configuration to its planned end."""
    checkpoint, config = read_run_config(run_dir)
    prepared = prepare_data(config)
    trainer = build_trainer(config, prepared, Path(run_dir), quiet)
    trainer.restore(checkpoint)
    start = time.perf_counter()
    trainer.fit()
    return _finish(Path(run_dir), trainer, prepared, time.perf_counter() - start)


def load_model(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """The run's model (its saved weights, eval mode), config and metadata."""
    checkpoint = load_checkpoint(run_dir, groups=["model"])
    try:
        config = TrainConfig.from_dict(checkpoint.state["config"], source=f"{run_dir}/state.json")
        meta = checkpoint.state["metadata"]
        model = build_model(config, meta["n_features"], meta["n_outputs"], rng_for(config.seed, "init"),
                            rng_for(config.seed, "dropout"))
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{run_dir}/state.json: no usable run configuration ({e})") from None
    model.load_state_dict(checkpoint.groups["model"])
    model.eval()
    return model, config, meta


def _encode_file(path: str, meta: dict[str, Any]) -> gdata.DataBundle:
    schema = dict(meta["schema"])
    if not schema.get("columns"):  # built-in datasets: a file's columns are the feature names
        schema["columns"] = list(meta["feature_names"])
    bundle = gdata.load_file(path, schema=schema)
    if bundle.n_features != meta["n_features"]:
        raise DataError(f"{path}: {bundle.n_features} features, the model was trained on {meta['n_features']}")
    scaler = gdata.Standardizer.from_state_dict(meta["standardizer"])
    bundle.X = np.asarray(scaler.transform(bundle.X), dtype=np.float32)
    return bundle


def evaluate_run(run_dir: str | os.PathLike[str], data: str | None = None) -> dict[str, Any]:
    """Loss and accuracy (or MSE / R^2) of a saved run on its test split, or on ``data``."""
    model, config, meta = load_model(run_dir)
    task = meta["task"]
    if data is None:
        x, y = prepare_data(config).test
        where = "test split"
    else:
        bundle = _encode_file(data, meta)
        if bundle.y is None:
            raise DataError(f"{data}: no target column {meta['schema']['target']!r} to evaluate against")
        x, y = bundle.X, _targets(bundle.y, task)
        if meta["target_scale"] is not None:
            y = ((y - meta["target_scale"]["mean"]) / meta["target_scale"]["std"]).astype(np.float32)
        where = data
    metrics = evaluate(model, _loss(task), x, y, task=task)
    return {"task": task, "data": where, "n": int(len(x)), **metrics}


def predict_run(run_dir: str | os.PathLike[str], data: str) -> tuple[list[str], list[list[Any]]]:
    """Predictions for the rows of ``data``: ``(header, rows)``, a class name and its probabilities
    per row for classification, the predicted value for regression."""
    from graphgrad.autograd.grad_mode import no_grad

    model, _, meta = load_model(run_dir)
    bundle = _encode_file(data, meta)
    with no_grad():
        out = model(_as_tensor(bundle.X)).data.astype(np.float64)
    if meta["task"] == CLASSIFICATION:
        names = meta["target_names"]
        z = out - out.max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        header = ["prediction", *[f"p_{n}" for n in names]]
        rows = [[names[int(k)], *[f"{p:.6g}" for p in row]] for k, row in zip(probs.argmax(axis=1), probs)]
        return header, rows
    scale = meta["target_scale"] or {"mean": 0.0, "std": 1.0}
    values = out.reshape(-1) * scale["std"] + scale["mean"]
    return ["prediction"], [[f"{v:.6g}"] for v in values]


def _as_tensor(x: np.ndarray) -> Any:
    from graphgrad.tensor import Tensor

    return Tensor(x)

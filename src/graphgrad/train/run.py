"""A finished (or interrupted) run, loaded back for use from Python: ``graphgrad.load_run(path)``.

::

    import graphgrad as gg

    run = gg.load_run("runs/penguins")          # a folder written by `graphgrad train`
    run.class_names                              # ['Adelie', 'Chinstrap', 'Gentoo']
    run.predict("new_penguins.csv")              # class names (or values, for regression)
    run.predict_proba("new_penguins.csv")        # (n, classes) probabilities
    run.model                                    # the nn.Module, in eval mode

``predict`` accepts a data file (CSV / NPZ / IDX, columns as in training; other columns are
ignored) or an array of raw feature rows (numbers, encoded as in training: ``run.feature_names``),
and applies the run's own preprocessing: missing-value filling, standardization, the target's
units.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad import nn
from graphgrad.autograd.grad_mode import no_grad
from graphgrad.errors import CheckpointError, DataError
from graphgrad.io import load_checkpoint
from graphgrad.io.schema import check_schema
from graphgrad.tensor import Tensor
from graphgrad.train.config import TrainConfig
from graphgrad.train.metrics import CLASSIFICATION
from graphgrad.train.preprocess import Preprocessing
from graphgrad.train.registry import MODELS

METADATA_SCHEMA: dict[str, Any] = {
    "source": str, "task": str, "n_features": int, "n_outputs": int, "target_names": [str],
    "feature_names": [str], "schema": {"columns": [str], "categories": {str: [str]}, "target": str},
    "standardizer": {"mean": [float], "std": [float]}, "target_scale": ({"mean": float, "std": float}, None),
    "?input_shape": [int], "?fill": ([float], None), "?missing": str,
    "?data_sha256": (str, None),
}


def model_rngs(seed: int) -> dict[str, np.random.Generator]:
    """The run's generators for building its model (weights, dropout), one stream per purpose."""
    return {"init": np.random.default_rng([seed, 1]), "dropout": np.random.default_rng([seed, 2])}


def build_model(config: TrainConfig, meta: dict[str, Any],
                rngs: dict[str, np.random.Generator] | None = None) -> nn.Module:
    """The run's model, built by the ``config.model`` entry of the models table."""
    shape = tuple(meta.get("input_shape") or (meta["n_features"],))
    return MODELS[config.model](shape, int(meta["n_outputs"]), config, rngs or model_rngs(config.seed))


@dataclass
class Run:
    """A run's model with everything needed to predict on new rows (see the module docstring)."""

    path: Path
    model: nn.Module
    config: TrainConfig
    metadata: dict[str, Any]
    preprocessing: Preprocessing
    notes: list[str] = field(default_factory=list)  # what the last predict had to do (unseen categories...)

    @property
    def task(self) -> str:
        return str(self.metadata["task"])

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata["target_names"])

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.metadata.get("input_shape") or (self.metadata["n_features"],))

    def inputs(self, data: Any) -> np.ndarray:
        """Model inputs for a data file or an array of raw feature rows; rows that cannot be
        encoded (missing values the run does not fill) are NaN."""
        self.notes = []
        if isinstance(data, (str, os.PathLike)):
            bundle = self.preprocessing.load(data, with_target=False, input_shape=self.input_shape)
            if bundle.unseen:
                counts = ", ".join(f"{c} {n}" for c, n in bundle.unseen.items())
                self.notes.append(f"{sum(bundle.unseen.values())} cells had a category not seen in training "
                                  f"(encoded as all zeros): {counts}")
            x = bundle.X
        else:
            x = np.asarray(data, dtype=np.float32)
            if x.ndim == 1:
                x = x.reshape(1, -1)
            x = x.reshape(x.shape[0], -1)
            if x.shape[1] != self.metadata["n_features"]:
                raise DataError(f"predict: rows have {x.shape[1]} features, the model takes "
                                f"{self.metadata['n_features']} ({', '.join(self.feature_names[:5])}...)")
        out = self.preprocessing.features(x)
        unusable = int(np.isnan(out).any(axis=1).sum())
        if unusable:
            self.notes.append(f"{unusable} rows have missing values this run does not fill (--missing "
                              f"{self.preprocessing.missing}); their predictions are left empty")
        return out

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Raw model outputs (logits, or standardized values) for model inputs ``x``, float64."""
        self.model.eval()
        with no_grad():
            return np.asarray(self.model(Tensor(np.asarray(x, dtype=np.float32))).data, dtype=np.float64)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities (n, classes), by the library's softmax; NaN rows for unusable rows."""
        if self.task != CLASSIFICATION:
            raise DataError("predict_proba: this run is a regression; use predict")
        from graphgrad.nn import functional

        logits = self.outputs(self.inputs(data))
        with no_grad():
            return np.asarray(functional.softmax(Tensor(logits), axis=-1).data, dtype=np.float64)

    def predict(self, data: Any) -> np.ndarray:
        """Class names (an array of str; ``""`` for unusable rows), or values in the target's units."""
        if self.task != CLASSIFICATION:
            return self.preprocessing.to_units(self.outputs(self.inputs(data)))
        probs = self.predict_proba(data)
        names = np.array(self.class_names, dtype=object)
        usable = ~np.isnan(probs).any(axis=1)
        out = np.full(len(probs), "", dtype=object)
        out[usable] = names[np.argmax(probs[usable], axis=1)]
        return out


def read_run_config(run_dir: str | os.PathLike[str]) -> tuple[Any, TrainConfig]:
    """The run's checkpoint (all groups) and its validated configuration."""
    checkpoint = load_checkpoint(run_dir)
    return checkpoint, _config(checkpoint.state, run_dir)


def _config(state: dict[str, Any], run_dir: str | os.PathLike[str]) -> TrainConfig:
    """The validated configuration; every field of the saved state is checked against its schema."""
    from graphgrad.train.trainer import TRAINER_STATE_SCHEMA

    where = f"{run_dir}/state.json"
    check_schema(state, TRAINER_STATE_SCHEMA, f"{where}: state")
    check_schema(state["metadata"], METADATA_SCHEMA, f"{where}: metadata")
    _check_outputs(state["metadata"], where)
    try:
        return TrainConfig.from_dict(state["config"], source=f"{where} (config)")
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{where}: no usable run configuration ({e})") from None


def _check_outputs(meta: dict[str, Any], where: str) -> None:
    """The task, the number of outputs and the class names must agree, and the image shape with the
    number of features (an edited state.json)."""
    task, n_outputs, names = meta["task"], meta["n_outputs"], meta["target_names"]
    if task not in ("classification", "regression"):
        raise CheckpointError(f"{where}: metadata: task {task!r}, expected 'classification' or 'regression'")
    if task == "classification" and len(names) != n_outputs:
        raise CheckpointError(f"{where}: metadata: {n_outputs} outputs but {len(names)} class names")
    if task == "regression" and n_outputs != 1:
        raise CheckpointError(f"{where}: metadata: a regression run has 1 output, not {n_outputs}")
    shape = meta.get("input_shape")
    if shape is not None and math.prod(shape) != meta["n_features"]:
        raise CheckpointError(f"{where}: metadata: image shape {'x'.join(map(str, shape))} holds {math.prod(shape)} "
                              f"values, the run has {meta['n_features']} features")


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load the run saved in the folder ``path``: its model (saved weights, eval mode), settings,
    preprocessing and class names, ready to :meth:`Run.predict` on new rows."""
    checkpoint = load_checkpoint(path, groups=["model"])
    config = _config(checkpoint.state, path)
    meta = checkpoint.state["metadata"]
    try:
        model = build_model(config, meta)
        checkpoint.check_like("model", model.state_dict())
        model.load_state_dict(checkpoint.groups["model"])
        preprocessing = Preprocessing.from_metadata(meta)
    except CheckpointError:  # already names the file and what is wrong
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}/state.json: the saved model does not fit its settings ({e})") from None
    model.eval()
    return Run(Path(path), model, config, meta, preprocessing)

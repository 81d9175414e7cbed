"""How a run turns data into model inputs: missing-value filling, standardization, target scale.

Everything is fitted on the training split only and saved in the run's metadata, so evaluation,
prediction and :func:`graphgrad.load_run` encode new rows exactly as the training rows were.
Regression targets are standardized with float64 statistics (a target near 1e30 must not
overflow) and predictions are turned back into the target's own units.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphgrad import data as gdata
from graphgrad.data.missing import MissingFiller, feature_blocks
from graphgrad.errors import DataError
from graphgrad.train.metrics import CLASSIFICATION


@dataclass
class Preprocessing:
    """The fitted encoding of a run (see the module docstring)."""

    schema: dict[str, Any]
    standardizer: gdata.Standardizer
    filler: MissingFiller | None
    target_scale: dict[str, float] | None
    missing: str
    task: str

    @classmethod
    def fit(cls, bundle: gdata.DataBundle, train: np.ndarray, missing: str) -> Preprocessing:
        """Learn the fill values, the standardizer and the target scale from the rows ``train``."""
        schema = bundle.schema()
        x_train = bundle.X[train]
        filler = None
        if missing == "fill":  # also when training had no gap: new files may have some
            filler = MissingFiller().fit(x_train, feature_blocks(_with_columns(schema)))
            x_train = filler.transform(x_train)
        standardizer = gdata.Standardizer().fit(x_train)
        target_scale = None
        if bundle.task != CLASSIFICATION:
            assert bundle.y is not None
            y = np.asarray(bundle.y[train], dtype=np.float64)
            mean, std = float(y.mean()), float(y.std())
            if not (math.isfinite(mean) and math.isfinite(std)):
                raise DataError(f"{bundle.name}: the target's mean or spread is not a finite float64 number; "
                                "rescale the target")
            target_scale = {"mean": mean, "std": std or 1.0}
        return cls(schema, standardizer, filler, target_scale, missing, bundle.task)

    # -------------------------------------------------------------------------------- applying
    def features(self, x: np.ndarray) -> np.ndarray:
        """Raw encoded features -> model inputs (float32). NaN cells are filled when the run learned
        fill values; otherwise they stay NaN (rows the caller must leave out)."""
        x = np.asarray(x, dtype=np.float32)
        if self.filler is not None:
            x = self.filler.transform(x)
        return np.asarray(self.standardizer.transform(x), dtype=np.float32)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the model is trained on them: class indices, or standardized (n, 1) float32."""
        if self.task == CLASSIFICATION:
            return np.asarray(y, dtype=np.int64)
        assert self.target_scale is not None
        z = (np.asarray(y, dtype=np.float64) - self.target_scale["mean"]) / self.target_scale["std"]
        return z.astype(np.float32).reshape(-1, 1)

    def to_units(self, outputs: np.ndarray) -> np.ndarray:
        """Regression outputs back in the target's units (float64)."""
        assert self.target_scale is not None
        return np.asarray(outputs, dtype=np.float64).reshape(-1) * self.target_scale["std"] + self.target_scale["mean"]

    def load(self, path: str | os.PathLike[str], with_target: bool = True,
             input_shape: tuple[int, ...] | None = None) -> gdata.DataBundle:
        """A file encoded like the training data; ``X`` is raw (apply :meth:`features`). With the
        run's image ``input_shape`` (C, H, W), images of another shape are refused even when they
        have as many pixels; rows without an image shape are taken as flattened images."""
        bundle = gdata.load_file(path, schema=_with_columns(self.schema), missing=self.missing,
                                 with_target=with_target)
        shape = tuple(bundle.input_shape)
        if input_shape is not None and len(input_shape) == 3 and len(shape) == 3 and shape != tuple(input_shape):
            raise DataError(f"{path}: images of shape {_dims(shape)}, the model was trained on {_dims(input_shape)} "
                            "(channels x height x width)")
        if bundle.n_features != self.schema["n_features"]:
            raise DataError(f"{path}: {bundle.n_features} features, the model was trained on "
                            f"{self.schema['n_features']}")
        return bundle

    # -------------------------------------------------------------------------------- saving
    def metadata(self) -> dict[str, Any]:
        return {"schema": self.schema, "standardizer": self.standardizer.state_dict(),
                "fill": None if self.filler is None else self.filler.state_dict(),
                "target_scale": self.target_scale, "missing": self.missing, "task": self.task}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> Preprocessing:
        fill = meta.get("fill")
        n = len(meta["standardizer"]["mean"])
        if fill is not None and len(fill) != n:
            raise ValueError(f"metadata 'fill' has {len(fill)} values for {n} features")
        return cls(dict(meta["schema"]), gdata.Standardizer.from_state_dict(meta["standardizer"]),
                   None if fill is None else MissingFiller.from_state_dict(fill), meta["target_scale"],
                   str(meta.get("missing", "error")), str(meta["task"]))


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _with_columns(schema: dict[str, Any]) -> dict[str, Any]:
    """Built-in datasets have no CSV columns: a file's columns are then the feature names."""
    if schema.get("columns"):
        return schema
    return {**schema, "columns": list(schema["feature_names"])}

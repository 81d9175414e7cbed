"""Decision boundaries over epochs: a training callback that keeps one small class map per epoch.

A run saves its model only at checkpoints, so the report could not redraw the boundary of epoch 3
afterwards. For classification on 2 features, :class:`DecisionBoundaryRecorder` evaluates the
model on a ``resolution`` x ``resolution`` grid (48 x 48 by default) over the training points (standardized features,
the space the model sees) before training and after every epoch, and saves every map so far
into ``boundary.safetensors`` in the run folder, atomically: ``classes`` (uint8, the predicted
class per cell) and ``confidence`` (uint8, the winning probability times 255) of shape
(epochs, resolution, resolution), the epoch numbers, and the grid's bounds in the metadata.
A resumed run keeps the maps up to its checkpoint's epoch and records the rest again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad.errors import CheckpointError
from graphgrad.io import atomic_write_bytes
from graphgrad.train.callbacks import Callback
from graphgrad.train.run_dir import BOUNDARY_FILE

if TYPE_CHECKING:
    from graphgrad.train.trainer import Trainer

FORMAT = "graphgrad-decision-boundary-1"
RESOLUTION = 48
CHUNK = 512  # grid points per forward pass


@dataclass
class Boundaries:
    """Class maps on one grid: ``classes[k]`` and ``confidence[k]`` after epoch ``epochs[k]``."""

    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    epochs: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray


def grid_bounds(points: np.ndarray, pad: float = 0.1) -> tuple[float, float, float, float]:
    """The points' box, widened by ``pad`` of its size on every side."""
    lo, hi = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def grid_points(bounds: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """Cell centres, row 0 at the top (largest y), as a (resolution**2, 2) float32 array."""
    x0, x1, y0, y1 = bounds
    xs = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    ys = y1 - (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def class_map(model: Any, bounds: tuple[float, float, float, float], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's predicted class and its probability (as uint8) on every cell of the grid."""
    from graphgrad.autograd.grad_mode import no_grad
    from graphgrad.tensor import Tensor

    was_training = getattr(model, "training", False)
    model.eval()
    try:
        grid = grid_points(bounds, resolution)
        with no_grad(), np.errstate(all="ignore"):  # in chunks, so the activations stay in cache
            logits = np.concatenate([np.asarray(model(Tensor(grid[i : i + CHUNK])).data, dtype=np.float64)
                                     for i in range(0, len(grid), CHUNK)])
    finally:
        model.train(was_training)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    classes = p.argmax(axis=1).astype(np.uint8).reshape(resolution, resolution)
    conf = np.round(p.max(axis=1) * 255).astype(np.uint8).reshape(resolution, resolution)
    return classes, conf


def save_boundaries(run_dir: str | os.PathLike[str], b: Boundaries) -> None:
    """Write ``boundary.safetensors`` atomically (safetensors: no pickle)."""
    from safetensors.numpy import save

    meta = {"format": FORMAT, "bounds": list(b.bounds), "space": "standardized features"}
    data = save({"epochs": np.ascontiguousarray(b.epochs, dtype=np.int32),
                 "classes": np.ascontiguousarray(b.classes, dtype=np.uint8),
                 "confidence": np.ascontiguousarray(b.confidence, dtype=np.uint8)},
                metadata={"graphgrad": json.dumps(meta)})
    Path(run_dir).mkdir(parents=True, exist_ok=True)  # before the first checkpoint, the run's own folder
    atomic_write_bytes(Path(run_dir) / BOUNDARY_FILE, data)


def load_boundaries(run_dir: str | os.PathLike[str]) -> Boundaries | None:
    """The saved maps, or None when the run has none; a damaged file is a CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(run_dir) / BOUNDARY_FILE
    if not path.is_file():
        return None
    try:
        raw = path.read_bytes()
        arrays = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"]["graphgrad"])
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        bounds = tuple(float(v) for v in meta["bounds"])
        epochs, classes, conf = arrays["epochs"], arrays["classes"], arrays["confidence"]
        if len(bounds) != 4 or classes.ndim != 3 or classes.shape != conf.shape or len(epochs) != len(classes):
            raise ValueError("arrays of inconsistent shapes")
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise CheckpointError(f"{path}: not a readable decision-boundary file ({e})") from None
    return Boundaries(bounds, epochs.astype(np.int64), classes, conf)  # type: ignore[arg-type]


class DecisionBoundaryRecorder(Callback):
    """Record the decision boundary before training and after each epoch (2-feature classification).

    ``points`` are the training inputs as the model sees them (standardized); they set the grid.
    For other tasks or feature counts the callback does nothing.
    """

    order = 90  # after early stopping and the schedule, before the checkpoint
    key = "decision_boundary"

    def __init__(self, run_dir: str | os.PathLike[str], points: np.ndarray, resolution: int = RESOLUTION) -> None:
        self.run_dir = Path(run_dir)
        pts = np.asarray(points)
        self.active = pts.ndim == 2 and pts.shape[1] == 2 and len(pts) > 0
        self.bounds = grid_bounds(pts) if self.active else (0.0, 1.0, 0.0, 1.0)
        self.resolution = int(resolution)
        self._epochs: list[int] = []
        self._classes: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        if self.active and trainer.task != "classification":
            self.active = False
        if not self.active:
            return
        saved = load_boundaries(self.run_dir) if trainer.epoch > 0 else None
        if saved is not None and saved.classes.shape[1:] == (self.resolution, self.resolution):
            self.bounds = saved.bounds
            keep = saved.epochs <= trainer.epoch
            self._epochs = [int(e) for e in saved.epochs[keep]]
            self._classes, self._conf = list(saved.classes[keep]), list(saved.confidence[keep])
        if trainer.epoch not in self._epochs:
            self._record(trainer)
        elif saved is not None and len(self._epochs) < len(saved.epochs):
            self._save()  # maps from beyond the checkpoint go: those epochs run again

    def _save(self) -> None:
        save_boundaries(self.run_dir, Boundaries(self.bounds, np.array(self._epochs), np.stack(self._classes),
                                                 np.stack(self._conf)))

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self.active:
            self._record(trainer)

    def _record(self, trainer: Trainer) -> None:
        classes, conf = class_map(trainer.model, self.bounds, self.resolution)
        self._epochs.append(trainer.epoch)
        self._classes.append(classes)
        self._conf.append(conf)
        self._save()

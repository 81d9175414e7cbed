"""Training: the Trainer loop, callbacks (early stopping, checkpoints, progress), metrics, history,
and :func:`load_run` to use a saved run from Python."""

from __future__ import annotations

from graphgrad.train.callbacks import Callback, Checkpoint, EarlyStopping
from graphgrad.train.history import plot_history, write_history
from graphgrad.train.metrics import accuracy, classification_report, confusion_matrix, mse, r2_score
from graphgrad.train.progress import ProgressBar
from graphgrad.train.run import Run, load_run
from graphgrad.train.trainer import Trainer, evaluate

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "ProgressBar",
    "Run",
    "Trainer",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "evaluate",
    "load_run",
    "mse",
    "plot_history",
    "r2_score",
    "write_history",
]

"""Training: the Trainer loop, callbacks (early stopping, checkpoints, progress), metrics, history."""

from __future__ import annotations

from graphgrad.train.callbacks import Callback, Checkpoint, EarlyStopping
from graphgrad.train.history import plot_history, write_history
from graphgrad.train.metrics import accuracy, mse, r2_score
from graphgrad.train.progress import ProgressBar
from graphgrad.train.trainer import Trainer, evaluate

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "ProgressBar",
    "Trainer",
    "accuracy",
    "evaluate",
    "mse",
    "plot_history",
    "r2_score",
    "write_history",
]

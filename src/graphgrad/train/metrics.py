"""Metrics on NumPy arrays: accuracy for classification, MSE and R^2 for regression.

They take plain arrays (model outputs as ``.data``) so they cost nothing in the graph and can be
checked by hand in tests.
"""

from __future__ import annotations

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"


def accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose largest logit is at the target class index."""
    if len(targets) == 0:
        return float("nan")
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(targets).reshape(-1)))


def mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over every element, predictions reshaped to the targets' shape."""
    p = np.asarray(predictions, dtype=np.float64).reshape(np.shape(targets))
    return float(np.mean((p - np.asarray(targets, dtype=np.float64)) ** 2))


def r2_score(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (1 is perfect, 0 is predicting the mean)."""
    y = np.asarray(targets, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64).reshape(y.shape)
    ss_tot = float(np.sum((y - y.mean(axis=0)) ** 2))
    ss_res = float(np.sum((y - p) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def task_metrics(task: str, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """The metrics reported for ``task`` besides the loss: accuracy, or MSE and R^2."""
    if task == CLASSIFICATION:
        return {"accuracy": accuracy(outputs, targets)}
    return {"mse": mse(outputs, targets), "r2": r2_score(outputs, targets)}

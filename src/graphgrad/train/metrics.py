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


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``m[i, j]``: examples of true class i predicted as class j (int64, n_classes x n_classes)."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64).reshape(-1), np.asarray(y_pred, dtype=np.int64).reshape(-1)), 1)
    return m


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, object]:
    """Per-class precision, recall, F1 and support, the confusion matrix, accuracy and balanced
    accuracy (the mean recall over the classes present). A class never predicted has precision 0,
    a class absent from ``y_true`` has recall 0 and is left out of the balanced accuracy (as in
    scikit-learn's ``zero_division=0``)."""
    m = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(m).astype(np.float64)
    predicted, support = m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    total = int(m.sum())
    return {
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recall[support > 0].mean()) if (support > 0).any() else float("nan"),
        "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
        "support": support.tolist(), "confusion_matrix": m.tolist(),
    }


def regression_report(predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R^2 in the targets' own units (float64)."""
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    p = np.asarray(predictions, dtype=np.float64).reshape(-1)
    err = p - y
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))), "r2": r2_score(p, y)}

"""Losses the training command builds: plain, or cross-entropy weighted per class.

``--class-weight balanced`` gives class k the weight ``n / (K * n_k)`` (counts of the training
split), as scikit-learn's ``class_weight="balanced"``; the weighted mean divides by the sum of the
batch's weights, as PyTorch's ``CrossEntropyLoss(weight=...)`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad import nn
from graphgrad.tensor import Tensor
from graphgrad.train.metrics import CLASSIFICATION


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (K * n_k)`` per class; a class absent from ``y`` gets weight 0 (it has no examples)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64).reshape(-1), minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


class WeightedCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with one weight per class: ``sum w[y_i] l_i / sum w[y_i]``."""

    def __init__(self, weights: Any) -> None:
        super().__init__()
        self.weights = np.asarray(weights, dtype=np.float32)
        self._per_example = nn.CrossEntropyLoss(reduction="none")

    def forward(self, input: Tensor, target: Any) -> Tensor:
        labels = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=np.int64).reshape(-1)
        w = self.weights[labels]
        per = self._per_example(input, Tensor(labels))
        return (per * Tensor(w.astype(input.data.dtype))).sum() / float(max(w.sum(), 1e-12))


def build_loss(task: str, class_weights: Any = None) -> nn.Module:
    """Cross-entropy (weighted when ``class_weights`` is given) for classes, MSE for regression."""
    if task != CLASSIFICATION:
        return nn.MSELoss()
    return nn.CrossEntropyLoss() if class_weights is None else WeightedCrossEntropyLoss(class_weights)

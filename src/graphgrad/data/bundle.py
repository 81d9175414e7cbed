"""DataBundle: what every loader returns (features, targets, task and the names that go with them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.data.dataset import TensorDataset
from graphgrad.errors import DataError

TASKS = ("classification", "regression")
MAX_CLASSES = 10_000
MAX_INTEGER_CLASSES = 20  # task auto: an integer target with more distinct values is a quantity


@dataclass
class DataBundle:
    """A loaded dataset.

    ``X``: float32 (n, features). ``y``: int64 class indices (classification) or floats
    (regression: float64 from CSV files, so large targets keep their precision); None when a file
    has no target (prediction input). ``n_classes`` is 0 for regression. ``target_names[k]`` is the
    original label of class k. ``target`` names the target column. ``categories`` maps each one-hot
    encoded CSV column to its sorted categories.
    ``input_shape`` is the shape of one example before flattening (``(1, 8, 8)`` for digits,
    ``(n_features,)`` for tables); ``X`` is always ``(n, prod(input_shape))``. ``task_reason`` says
    why the task was chosen. ``n_dropped`` counts rows left out for missing values, ``unseen`` the
    cells per column whose category was not seen in training (encoded as all zeros), and
    ``missing`` the missing cells per column.
    """

    X: np.ndarray
    y: np.ndarray | None
    task: str
    n_classes: int
    feature_names: list[str]
    target_names: list[str]
    name: str
    target: str = "target"
    categories: dict[str, list[str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # raw feature columns before one-hot encoding (CSV)
    input_shape: tuple[int, ...] = ()
    task_reason: str = ""
    n_dropped: int = 0
    unseen: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input_shape:
            self.input_shape = (int(self.X.shape[1]),)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def to_dataset(self) -> TensorDataset:
        """``TensorDataset(X, y)`` (or of X alone when there is no target)."""
        return TensorDataset(self.X) if self.y is None else TensorDataset(self.X, self.y)

    def schema(self) -> dict[str, Any]:
        """JSON-able description of the encoding, to load new files the same way (``load_csv(schema=...)``)."""
        return {
            "task": self.task,
            "n_classes": self.n_classes,
            "n_features": self.n_features,
            "feature_names": list(self.feature_names),
            "target_names": list(self.target_names),
            "target": self.target,
            "categories": {k: list(v) for k, v in self.categories.items()},
            "columns": list(self.columns),
        }


def check_task(task: str | None) -> str | None:
    """``task`` (None or ``"auto"`` -> None: decide from the target), or a DataError."""
    if task is None or task == "auto":
        return None
    if task not in TASKS:
        raise DataError(f"task must be one of {['auto', *TASKS]}, got {task!r}")
    return task


def decide_task(name: str, kind: str, n_distinct: int, task: str | None) -> tuple[str, str]:
    """The task for a target column and the sentence that explains it.

    ``kind`` is ``"text"``, ``"integer"`` or ``"decimal"``. Automatic rule: text labels ->
    classification; decimal numbers -> regression; integers -> classification when there are at
    most ``MAX_INTEGER_CLASSES`` distinct values, otherwise regression (counts, prices, years).
    """
    if task is not None:
        return task, f"target {name!r}: {task} (chosen with --task)"
    if kind == "text":
        decided, why = "classification", f"{n_distinct} distinct text labels"
    elif kind == "decimal":
        decided, why = "regression", "decimal numbers"
    elif n_distinct <= MAX_INTEGER_CLASSES:
        decided, why = "classification", f"{n_distinct} distinct integers (at most {MAX_INTEGER_CLASSES})"
    else:
        decided, why = "regression", f"{n_distinct} distinct integers (more than {MAX_INTEGER_CLASSES})"
    return decided, f"target {name!r}: {why} -> {decided}; --task to override"


def encode_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Class indices and class names for a label array.

    Non-negative integers are used as they are (class k is label k, n_classes = max + 1), so a file
    holding only some classes still maps them to the same indices. Other labels (strings, negative
    integers, floats when classification is forced) are numbered in sorted order.
    """
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind in "iu" and (values.size == 0 or values.min() >= 0):
        k = int(values.max()) + 1 if values.size else 0
        if k > MAX_CLASSES:
            raise DataError(
                f"{where}: integer labels go up to {k - 1}, too many classes ({MAX_CLASSES} at most); "
                "for a numeric target use task='regression'"
            )
        return values.astype(np.int64), [str(i) for i in range(k)]
    classes, y = np.unique(values, return_inverse=True)
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{where}: {len(classes)} distinct labels, too many classes ({MAX_CLASSES} at most)")
    names = [label_name(c) for c in classes]
    return y.astype(np.int64).reshape(-1), names


def label_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def apply_label_names(labels: list[str], target_names: list[str], where: str, lines: Any = None) -> np.ndarray:
    """Map label strings to the class indices of a saved ``target_names`` list (evaluation files)."""
    index = {name: k for k, name in enumerate(target_names)}
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):
        if lab not in index:
            at = f", line {lines[i]}" if lines is not None else f", row {i}"
            raise DataError(f"{where}{at}: label {lab!r} was not seen in training; known labels: {target_names}")
        out[i] = index[lab]
    return out


def labels_like_training(y: np.ndarray, names: list[str], p: Any) -> np.ndarray:
    """Class indices under the training's classes ``names``: non-negative integers as indices
    (refused beyond the classes), other labels by name; ``p`` names the file in errors."""
    if y.dtype.kind in "biu" and (y.size == 0 or y.min() >= 0):
        if y.size and y.max() >= len(names):
            i = int(np.argmax(y))
            raise DataError(f"{p}: y[{i}] = {y[i]} is not a class of the training data (0..{len(names) - 1})")
        return y.astype(np.int64)
    return apply_label_names([label_name(v) for v in y], names, f"{p}, y")

"""Standardizer: z-scores with statistics from the training split only (no test-set leakage)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import DataError, ShapeError
from graphgrad.tensor import Tensor


class Standardizer:
    """``(x - mean) / std`` per feature (column), with mean and std fitted on training data.

    Statistics are float64 arrays (population std, ddof=0, as scikit-learn's StandardScaler). A
    feature with zero variance (up to rounding) gets std 1, so it becomes 0 instead of NaN.
    ``transform`` keeps the input's float dtype (float32 stays float32) and its kind (array or
    Tensor). ``state_dict()`` / ``from_state_dict()`` round-trip through JSON for checkpoints.
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @staticmethod
    def _array(x: Any) -> np.ndarray:
        arr = np.asarray(x.data if isinstance(x, Tensor) else x)
        if arr.ndim != 2:
            raise ShapeError(f"Standardizer expects a 2-D (examples, features) array, got shape {arr.shape}")
        return arr

    def fit(self, x: Any) -> Standardizer:
        """Learn per-feature mean and std from ``x`` (the training split)."""
        arr = self._array(x).astype(np.float64)
        if arr.shape[0] == 0:
            raise DataError("Standardizer.fit: no examples")
        if not np.isfinite(arr).all():
            row, col = np.argwhere(~np.isfinite(arr))[0]
            raise DataError(f"Standardizer.fit: non-finite value {arr[row, col]} at row {row}, feature {col}")
        mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        self.mean = mean
        self.std = np.where(constant, 1.0, std)
        return self

    def _check_fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise DataError("Standardizer is not fitted: call fit(X_train) first")
        return self.mean, self.std

    def _apply(self, x: Any, inverse: bool) -> Any:
        mean, std = self._check_fitted()
        arr = self._array(x)
        if arr.shape[1] != mean.shape[0]:
            raise ShapeError(f"Standardizer was fitted on {mean.shape[0]} features, got an array with {arr.shape[1]}")
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = arr * std + mean if inverse else (arr - mean) / std
        out = out.astype(dtype, copy=False)
        return Tensor(out) if isinstance(x, Tensor) else out

    def transform(self, x: Any) -> Any:
        return self._apply(x, inverse=False)

    def inverse_transform(self, x: Any) -> Any:
        return self._apply(x, inverse=True)

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, list[float]]:
        mean, std = self._check_fitted()
        return {"mean": mean.tolist(), "std": std.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            mean = np.asarray(state["mean"], dtype=np.float64)
            std = np.asarray(state["std"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Standardizer state needs numeric lists 'mean' and 'std': {exc}") from exc
        if mean.ndim != 1 or mean.shape != std.shape or not (np.isfinite(mean).all() and (std > 0).all()):
            raise DataError("Standardizer state: 'mean' and 'std' must be equal-length lists, std > 0, all finite")
        self.mean, self.std = mean, std

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Standardizer:
        s = cls()
        s.load_state_dict(state)
        return s

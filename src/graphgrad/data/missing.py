"""Missing values: which cells count as missing, and filling them from the training split.

A cell is missing when, after stripping spaces, it is empty or one of ``NA``, ``NaN``, ``null``,
``?`` (any letter case), whatever the column's type. Loaders mark missing feature cells as NaN
(a whole one-hot block for a text column); :class:`MissingFiller` learns, on the training split
only, the mean of each numeric column and the most frequent category of each text column, and
writes those into the NaN cells of any split or new file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import DataError

MISSING_TOKENS = ("", "na", "nan", "null", "?")
_TOKENS = frozenset(MISSING_TOKENS)
MISSING_HELP = "empty, NA, NaN, null or ? (any case)"


def is_missing(cell: str) -> bool:
    """True when a (stripped) CSV cell holds no value."""
    return cell.lower() in _TOKENS


def feature_blocks(schema: dict[str, Any]) -> list[tuple[str, int, int]]:
    """``(column, start, stop)`` of each raw column's block of encoded features, in order."""
    categories = schema.get("categories", {})
    columns = schema.get("columns") or schema.get("feature_names", [])
    blocks, start = [], 0
    for col in columns:
        width = len(categories[col]) if col in categories else 1
        blocks.append((col, start, start + width))
        start += width
    return blocks


class MissingFiller:
    """Fill NaN cells with statistics of the training split: a numeric column's mean, a one-hot
    block's most frequent category. State is JSON (``state_dict`` / ``from_state_dict``)."""

    def __init__(self) -> None:
        self.values: np.ndarray | None = None

    def fit(self, x: np.ndarray, blocks: list[tuple[str, int, int]]) -> MissingFiller:
        values = np.zeros(x.shape[1], dtype=np.float64)
        for col, start, stop in blocks:
            part = np.asarray(x[:, start:stop], dtype=np.float64)
            present = part[~np.isnan(part).any(axis=1)]
            if len(present) == 0:
                raise DataError(f"column {col!r}: every value is missing in the training split; drop the column")
            if stop - start == 1:  # a number (or a text column with one category: its mean is 1)
                values[start] = present.mean()
            else:
                counts = present.sum(axis=0)
                values[start + int(np.argmax(counts))] = 1.0  # ties: the first category in sorted order
        self.values = values
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.values is None:
            raise DataError("MissingFiller is not fitted")
        if x.shape[1] != self.values.shape[0]:
            raise DataError(f"MissingFiller was fitted on {self.values.shape[0]} features, got {x.shape[1]}")
        nan = np.isnan(x)
        if not nan.any():
            return x
        out = x.copy()
        out[nan] = np.broadcast_to(self.values.astype(x.dtype), x.shape)[nan]
        return out

    def state_dict(self) -> list[float]:
        if self.values is None:
            raise DataError("MissingFiller is not fitted")
        return self.values.tolist()

    @classmethod
    def from_state_dict(cls, values: Any) -> MissingFiller:
        f = cls()
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise DataError("missing-value fill state must be a list of finite numbers")
        f.values = arr
        return f

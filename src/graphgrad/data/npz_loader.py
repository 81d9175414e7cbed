"""NPZ files: NumPy's zip of arrays, read without pickle; arrays ``X`` (examples first) and ``y``."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from graphgrad.data._io import existing_file
from graphgrad.data.bundle import DataBundle, apply_label_names, check_task, encode_labels, label_name
from graphgrad.errors import DataError


def load_npz(
    path: str | os.PathLike[str], *, task: str | None = None, schema: dict[str, Any] | None = None
) -> DataBundle:
    """Load ``x`` (n, ...) and ``y`` (n,) from an ``.npz`` file (``np.savez``) into a :class:`DataBundle`.

    x is flattened to (n, features) float32. Optional arrays ``feature_names`` and ``target_names``
    name the columns and classes. Integer or text ``y`` -> classification (non-negative integers are
    the class indices), float ``y`` -> regression; ``task`` overrides. ``y`` may be absent only when
    a ``schema`` (from the training data) is given, for prediction. Object arrays are refused (they
    would need pickle).
    """
    check_task(task)
    p = existing_file(path)
    with open(p, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DataError(f"{p}: not a valid .npz file (not a zip archive; save with np.savez(path, X=X, y=y))")
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{p}: not a valid .npz file ({exc})") from exc
    except ValueError as exc:  # object arrays need pickle
        raise DataError(f"{p}: cannot read without pickle ({exc}); store numeric or string arrays") from exc
    needed = ["X"] if schema is not None else ["X", "y"]
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise DataError(f"{p}: missing array(s) {missing}; found {sorted(arrays)} (save with np.savez(path, X=X, y=y))")
    x = arrays["X"]
    if x.ndim < 2 or x.dtype.kind not in "biuf":
        raise DataError(f"{p}: X must be a numeric array of shape (examples, features...), got {x.dtype} {x.shape}")
    x = x.reshape(x.shape[0], -1).astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{p}: X has a non-finite value ({x[row, col]}) at example {row}, feature {col}")
    features = _names(arrays, "feature_names", [f"x{i}" for i in range(x.shape[1])], x.shape[1], p)
    name = p.stem
    if "y" not in arrays:
        assert schema is not None
        return DataBundle(x, None, schema["task"], schema["n_classes"], features, list(schema["target_names"]), name)
    y = arrays["y"]
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"{p}: shape mismatch: y has shape {y.shape}, expected ({x.shape[0]},) to match X {x.shape}")
    if schema is not None:
        task = schema["task"]
    task = task or ("regression" if y.dtype.kind == "f" else "classification")
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(f"{p}: y has dtype {y.dtype}; regression needs numbers")
        y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise DataError(f"{p}: y has a non-finite value at example {int(np.flatnonzero(~np.isfinite(y))[0])}")
        return DataBundle(x, y, task, 0, features, [], name)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{p}: y has a non-finite value at example {int(np.flatnonzero(~np.isfinite(y))[0])}")
    if schema is not None:
        names = list(schema["target_names"])
        return DataBundle(x, _labels_like_training(y, names, p), task, len(names), features, names, name)
    y_idx, names = encode_labels(y, f"{p}, y")
    names = _names(arrays, "target_names", names, len(names), p)
    return DataBundle(x, y_idx, task, len(names), features, names, name)


def _names(arrays: dict[str, np.ndarray], key: str, default: list[str], n: int, p: Any) -> list[str]:
    if key not in arrays:
        return default
    names = [str(v) for v in np.asarray(arrays[key]).reshape(-1)]
    if len(names) != n:
        raise DataError(f"{p}: {key} has {len(names)} entries, expected {n}")
    return names


def _labels_like_training(y: np.ndarray, names: list[str], p: Any) -> np.ndarray:
    """Class indices under the training's classes: integers as indices, other labels by name."""
    if y.dtype.kind in "biu" and (y.size == 0 or y.min() >= 0):
        if y.size and y.max() >= len(names):
            i = int(np.argmax(y))
            raise DataError(f"{p}: y[{i}] = {y[i]} is not a class of the training data (0..{len(names) - 1})")
        return y.astype(np.int64)
    return apply_label_names([label_name(v) for v in y], names, f"{p}, y")

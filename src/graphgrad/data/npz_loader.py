"""NPZ files: NumPy's zip of arrays, read without pickle; arrays ``X`` (examples first) and ``y``."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from graphgrad.data._io import as_float32, check_declared_size, existing_file
from graphgrad.data.bundle import DataBundle, check_task, decide_task, encode_labels, labels_like_training
from graphgrad.errors import DataError

CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: a 4-D X ending in one of these and not starting so is channels-last


def _check_members(p: Any, zf: zipfile.ZipFile) -> None:
    """Read each member's .npy header only: refuse non-arrays, object (pickle) arrays, and arrays
    whose declared size does not match the stored bytes or cannot fit in memory."""
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise DataError(f"{p}: member {name!r} is not a NumPy array (.npy); save with np.savez(path, X=X, y=y)")
        with zf.open(info) as fh:
            try:
                version = np.lib.format.read_magic(fh)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(fh)  # the header only
            except (ValueError, OSError, EOFError) as exc:
                raise DataError(f"{p}: member {name!r} has no valid .npy header ({exc})") from None
            header_len = fh.tell()
        if dtype.hasobject:
            raise DataError(f"{p}: member {name!r} holds Python objects, which need pickle; store numeric or "
                            "string arrays")
        check_declared_size(f"{p}: member {name!r}", shape, dtype)
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header_len + nbytes != info.file_size:
            raise DataError(f"{p}: member {name!r} declares shape {shape} of {dtype} ({nbytes} bytes) but stores "
                            f"{info.file_size - header_len} bytes (truncated or corrupt)")


def load_npz(
    path: str | os.PathLike[str], *, task: str | None = None, schema: dict[str, Any] | None = None,
    with_target: bool = True,
) -> DataBundle:
    """Load ``x`` (n, ...) and ``y`` (n,) from an ``.npz`` file (``np.savez``) into a :class:`DataBundle`.

    x is flattened to (n, features) float32; ``input_shape`` keeps one example's shape: ``(F,)``,
    ``(1, H, W)`` for images ``(n, H, W)``, ``(C, H, W)`` for ``(n, C, H, W)``; images that look
    channels-last (``(n, H, W, 3)``) are refused rather than read as H channels. Optional arrays
    ``feature_names`` and ``target_names`` name the columns and classes. The task follows
    :func:`~graphgrad.data.bundle.decide_task`: text ``y`` -> classification, float ``y`` ->
    regression, integer ``y`` -> classification up to 20 distinct values (non-negative integers are
    the class indices); ``task`` overrides. ``y`` may be absent only when a ``schema`` (from the
    training data) is given, for prediction; ``with_target=False`` (prediction) ignores it. Object
    arrays are refused (they would need pickle).
    """
    task = check_task(task)
    p = existing_file(path)
    with open(p, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DataError(f"{p}: not a valid .npz file (not a zip archive; save with np.savez(path, X=X, y=y))")
    try:
        with zipfile.ZipFile(p) as zf:
            _check_members(p, zf)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{p}: not a valid .npz file ({exc})") from exc
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{p}: not a valid .npz file ({exc})") from exc
    except ValueError as exc:  # object arrays need pickle
        raise DataError(f"{p}: cannot read without pickle ({exc}); store numeric or string arrays") from exc
    if not with_target and schema is not None:
        arrays.pop("y", None)  # predictions never read the labels, whatever classes they hold
    needed = ["X"] if schema is not None else ["X", "y"]
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise DataError(f"{p}: missing array(s) {missing}; found {sorted(arrays)} (save with np.savez(path, X=X, y=y))")
    x = arrays["X"]
    if x.ndim < 2 or x.dtype.kind not in "biuf":
        raise DataError(f"{p}: X must be a numeric array of shape (examples, features...), got {x.dtype} {x.shape}")
    if x.shape[0] == 0 or x[0].size == 0:
        raise DataError(f"{p}: X has shape {x.shape}: no examples or no features")
    if x.ndim == 4 and x.shape[3] in CHANNEL_COUNTS and x.shape[1] not in CHANNEL_COUNTS:
        raise DataError(f"{p}: X has shape {x.shape}, which looks like images with channels last (N, H, W, C); "
                        "store them as (N, C, H, W), e.g. np.moveaxis(X, -1, 1)")
    input_shape = (1, *x.shape[1:]) if x.ndim == 3 else tuple(x.shape[1:])
    x_shape = x.shape
    x = as_float32(str(p), "X has", x)
    features = _names(arrays, "feature_names", [f"x{i}" for i in range(x.shape[1])], x.shape[1], p)
    name = p.stem
    if "y" not in arrays:
        assert schema is not None
        return DataBundle(x, None, schema["task"], schema["n_classes"], features, list(schema["target_names"]), name,
                          input_shape=input_shape)
    y = arrays["y"]
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"{p}: shape mismatch: y has shape {y.shape}, expected ({x.shape[0]},) to match X {x_shape}")
    reason = ""
    if schema is not None:
        task = schema["task"]
    elif y.dtype.kind in "biuf":
        integer = y.dtype.kind in "biu"  # float y is a quantity, even when its values are whole
        task, reason = decide_task("y", "integer" if integer else "decimal", len(np.unique(y)), task)
    else:
        task, reason = decide_task("y", "text", len(np.unique(y)), task)
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(f"{p}: y has dtype {y.dtype}; regression needs numbers")
        y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise DataError(f"{p}: y has a non-finite value at example {int(np.flatnonzero(~np.isfinite(y))[0])}")
        return DataBundle(x, y, task, 0, features, [], name, input_shape=input_shape, task_reason=reason)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{p}: y has a non-finite value at example {int(np.flatnonzero(~np.isfinite(y))[0])}")
    if schema is not None:
        names = list(schema["target_names"])
        return DataBundle(x, labels_like_training(y, names, p), task, len(names), features, names, name,
                          input_shape=input_shape)
    y_idx, names = encode_labels(y, f"{p}, y")
    names = _names(arrays, "target_names", names, len(names), p)
    return DataBundle(x, y_idx, task, len(names), features, names, name, input_shape=input_shape, task_reason=reason)


def _names(arrays: dict[str, np.ndarray], key: str, default: list[str], n: int, p: Any) -> list[str]:
    if key not in arrays:
        return default
    names = [str(v) for v in np.asarray(arrays[key]).reshape(-1)]
    if len(names) != n:
        raise DataError(f"{p}: {key} has {len(names)} entries, expected {n}")
    return names

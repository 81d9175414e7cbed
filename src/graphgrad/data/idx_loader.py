"""IDX files (the MNIST format), raw or gzip-compressed: images and labels.

Layout: two zero bytes, a dtype code, the number of dimensions, each dimension as a big-endian
uint32, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.data._io import read_bytes
from graphgrad.data.bundle import DataBundle, encode_labels, labels_like_training
from graphgrad.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in an IDX file (gzip detected by its magic bytes, not the file name)."""
    p, raw = read_bytes(path)
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{p}: corrupt or truncated gzip data ({exc})") from exc
    if len(raw) < 4:
        raise DataError(f"{p}: not an IDX file: {len(raw)} bytes, shorter than the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{p}: not an IDX file: magic number {raw[:4].hex()} must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{p}: unknown IDX dtype code 0x{code:02X}; valid codes: {valid}")
    if ndim == 0:
        raise DataError(f"{p}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{p}: truncated IDX header: {ndim} dimensions need {header} bytes, the file has {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"{p}: IDX data {what}: dimensions {dims} of {dtype.name} need {expected} bytes, found {found}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def load_idx(images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str] | None = None, *,
             schema: dict[str, Any] | None = None) -> DataBundle:
    """MNIST-style images and labels as a classification :class:`DataBundle`.

    Images (n, rows, cols...) are flattened to (n, features) float32 (``input_shape`` keeps
    ``(1, rows, cols)``); unsigned-byte pixels are
    divided by 255 (into [0, 1]), other dtypes are converted unchanged. Labels must be 1-D integers,
    one per image (class indices); without ``labels_path`` ``y`` is None (for prediction). With a
    ``schema`` (the training data's), labels must be classes of the training data.
    """
    images = read_idx(images_path)
    if images.ndim < 2:
        raise DataError(f"{images_path}: images need 2+ dimensions (count, pixels...), got shape {images.shape}")
    if images.shape[0] == 0 or images[0].size == 0:
        raise DataError(f"{images_path}: the IDX file holds no images (shape {images.shape})")
    input_shape = (1, *images.shape[1:]) if images.ndim == 3 else tuple(images.shape[1:])
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    if images.dtype == np.uint8:
        x /= 255.0
    elif not np.isfinite(x).all():
        raise DataError(f"{images_path}: images contain NaN or infinite values")
    features = [f"pixel_{i}" for i in range(x.shape[1])]
    name = Path(images_path).name.split(".")[0]
    if labels_path is None:
        return DataBundle(x, None, "classification", 0, features, [], name, target="label", input_shape=input_shape)
    labels = read_idx(labels_path)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{labels_path}: labels must be a 1-D integer array, got {labels.dtype.name} {labels.shape}")
    if labels.shape[0] != x.shape[0]:
        raise DataError(
            f"{labels_path}: {labels.shape[0]} labels for {x.shape[0]} images in {images_path}; counts must match"
        )
    if schema is not None:
        names = list(schema["target_names"])
        y = labels_like_training(labels, names, labels_path)
    else:
        y, names = encode_labels(labels, str(labels_path))
    return DataBundle(x, y, "classification", len(names), features, names, name, target="label",
                      input_shape=input_shape, task_reason="IDX labels -> classification")

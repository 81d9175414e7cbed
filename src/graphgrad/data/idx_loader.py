"""IDX files (the MNIST format), raw or gzip-compressed: images and labels.

Layout: two zero bytes, a dtype code, the number of dimensions, each dimension as a big-endian
uint32, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.data._io import as_float32, check_declared_size, existing_file
from graphgrad.data.bundle import DataBundle, encode_labels, labels_like_training
from graphgrad.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in an IDX file (gzip detected by its magic bytes, not the file name).

    The header is read first and the data only as far as it declares, so a header claiming more
    than memory holds, or a small gzip file that would unpack to gigabytes, is refused before
    anything large is allocated."""
    p = existing_file(path)
    try:
        with open(p, "rb") as f:
            compressed = f.read(2) == GZIP_MAGIC
        with (gzip.open(p, "rb") if compressed else open(p, "rb")) as f:
            return _read_idx_stream(p, f, compressed)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{p}: corrupt or truncated gzip data ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror or exc}") from exc


def _read_idx_stream(p: Path, f: io.BufferedIOBase, compressed: bool) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4:
        raise DataError(f"{p}: not an IDX file: {len(magic)} bytes, shorter than the 4-byte magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(f"{p}: not an IDX file: magic number {magic.hex()} must start with two zero bytes")
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{p}: unknown IDX dtype code 0x{code:02X}; valid codes: {valid}")
    if ndim == 0:
        raise DataError(f"{p}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{p}: truncated IDX header: {ndim} dimensions need {header} bytes, the file has "
                        f"{4 + len(raw_dims)}")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    found = expected if compressed else p.stat().st_size - header  # a raw file's size is known up front
    if found == expected:
        check_declared_size(f"{p}: IDX data", dims, dtype)
        data = f.read(expected)
        found = len(data)
        if found == expected:
            found += _count_rest(f)
    if found != expected:
        what = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"{p}: IDX data {what}: dimensions {dims} of {dtype.name} need {expected} bytes, found {found}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def _count_rest(f: io.BufferedIOBase, piece: int = 1 << 20) -> int:
    """The number of bytes left in ``f``, read in pieces (never held all at once)."""
    n = 0
    while chunk := f.read(piece):
        n += len(chunk)
    return n


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
    x = as_float32(str(images_path), "images have", images)
    if images.dtype == np.uint8:
        x /= 255.0
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

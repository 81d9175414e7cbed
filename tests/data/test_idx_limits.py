"""IDX files that lie in their header: a claimed size that would take gigabytes is refused from the
header alone (raw or gzip-compressed, so a small .gz cannot unpack into all of memory), and values
that do not fit the float32 the loaders convert to are named as such, not as "infinite"."""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from graphgrad.data import load_idx, load_npz, read_idx
from graphgrad.errors import DataError
from tests.cliproc import env


def header(dims: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def gzip_of_zeros(path, head: bytes, zero_bytes: int) -> None:
    """A gzip file of ``head`` and ``zero_bytes`` zeros, written in pieces (it unpacks to gigabytes)."""
    co = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(co.compress(head))
        piece = bytes(16 * 1024**2)
        for _ in range(zero_bytes // len(piece)):
            f.write(co.compress(piece))
        f.write(co.flush())


READ_IN_A_FRESH_PROCESS = """
import resource, sys
from graphgrad.data import read_idx
from graphgrad.errors import DataError
from tests.cliproc import env
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_idx(sys.argv[1])
    print("read")
except DataError as e:
    print(e)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def read_idx_measured(path) -> tuple[str, float]:
    """read_idx(path) in a fresh process: its error message and how many MB its peak memory grew."""
    out = subprocess.run([sys.executable, "-c", READ_IN_A_FRESH_PROCESS, str(path)], capture_output=True, text=True,
                         env=env(), timeout=120).stdout.splitlines()
    return out[0], float(out[1])


def test_a_gzip_idx_claiming_gigabytes_is_refused_before_unpacking_it(tmp_path):
    dims = (65536, 256, 256)  # 4 GiB of bytes, 16 GiB as float32; the file unpacks to 256 MiB of them
    p = tmp_path / "bomb-images-idx3-ubyte.gz"
    gzip_of_zeros(p, header(dims), 256 * 1024**2)
    message, grown_mb = read_idx_measured(p)
    assert message == f"{p}: IDX data declares shape {dims} of uint8, 16.0 GB as float32; refusing arrays over 8 GB"
    assert grown_mb < 50  # the header was enough: nothing was unpacked


def test_a_raw_idx_too_large_for_memory_is_refused_before_reading_it(tmp_path):
    dims = (49152, 256, 256)  # 3 GiB of bytes, 12 GiB as float32, held by a sparse file (no disk used)
    p = tmp_path / "large-images-idx3-ubyte"
    with open(p, "wb") as f:
        f.write(header(dims))
        f.truncate(len(header(dims)) + 3 * 1024**3)
    message, grown_mb = read_idx_measured(p)
    assert message == f"{p}: IDX data declares shape {dims} of uint8, 12.0 GB as float32; refusing arrays over 8 GB"
    assert grown_mb < 50


def test_gzip_idx_truncation_and_trailing_bytes_are_named_with_counts(tmp_path):
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = header(images.shape) + images.tobytes()
    cut, extra = tmp_path / "cut.gz", tmp_path / "extra.gz"
    cut.write_bytes(gzip.compress(raw[:-4]))
    extra.write_bytes(gzip.compress(raw + b"\0\0"))
    with pytest.raises(DataError, match=re.escape(f"{cut}: IDX data truncated: dimensions (2, 3, 4) of uint8 need "
                                                  "24 bytes, found 20")):
        read_idx(cut)
    with pytest.raises(DataError, match=re.escape(f"{extra}: IDX data has trailing bytes: dimensions (2, 3, 4) of "
                                                  "uint8 need 24 bytes, found 26")):
        read_idx(extra)
    good = tmp_path / "good.gz"
    good.write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(good), images)


def test_float64_values_beyond_float32_are_named_as_too_large_not_infinite(tmp_path):
    x = np.ones((4, 3, 3))
    x[2, 1, 2] = 1e300
    npz = tmp_path / "big.npz"
    np.savez(npz, X=x, y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match=re.escape(f"{npz}: X has a value too large for float32 (1e+300) at "
                                                  "example 2, feature 5")):
        load_npz(npz)
    idx = tmp_path / "big.idx"
    idx.write_bytes(header(x.shape, 0x0E) + x.astype(">f8").tobytes())
    with pytest.raises(DataError, match=re.escape(f"{idx}: images have a value too large for float32 (1e+300) at "
                                                  "example 2, feature 5")):
        load_idx(idx)
    x[2, 1, 2] = np.nan
    idx.write_bytes(header(x.shape, 0x0E) + x.astype(">f8").tobytes())
    with pytest.raises(DataError, match=re.escape(f"{idx}: images have a non-finite value (nan) at example 2, "
                                                  "feature 5")):
        load_idx(idx)

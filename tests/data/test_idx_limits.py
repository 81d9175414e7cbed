"""IDX files that lie in their header: a claimed size larger than the machine's memory is refused from the
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
from graphgrad.data._io import memory_bytes
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


MEMORY = memory_bytes()
BEYOND_MEMORY = (1 << 20, 1024, 1024)  # 1 TiB of bytes, 4 TiB as float32: more than any machine this runs on
needs_memory_size = pytest.mark.skipif(MEMORY is None or MEMORY >= 4 * 1024**4,
                                       reason="no memory size from the system, or more than the claim")


def refusal(p, dims: tuple[int, ...]) -> str:
    return (f"{p}: IDX data declares shape {dims} of uint8, {4 * np.prod(dims) / 1024**3:,.1f} GB as float32, "
            f"more than this machine's memory ({MEMORY / 1024**3:,.1f} GB)")


@needs_memory_size
def test_a_gzip_idx_claiming_more_than_memory_is_refused_before_unpacking_it(tmp_path):
    p = tmp_path / "bomb-images-idx3-ubyte.gz"
    gzip_of_zeros(p, header(BEYOND_MEMORY), 256 * 1024**2)  # unpacks to 256 MiB of zeros, if anything unpacks it
    message, grown_mb = read_idx_measured(p)
    assert message == refusal(p, BEYOND_MEMORY)
    assert grown_mb < 50  # the header was enough: nothing was unpacked


@needs_memory_size
def test_a_raw_idx_too_large_for_memory_is_refused_before_reading_it(tmp_path):
    p = tmp_path / "large-images-idx3-ubyte"
    with open(p, "wb") as f:  # a sparse file of the declared size: no disk used
        f.write(header(BEYOND_MEMORY))
        f.truncate(len(header(BEYOND_MEMORY)) + int(np.prod(BEYOND_MEMORY)))
    message, grown_mb = read_idx_measured(p)
    assert message == refusal(p, BEYOND_MEMORY)
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

"""NPZ and IDX (MNIST) loaders, and load_file's dispatch by extension, with their error messages."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pytest

from graphgrad.data import load_file, load_idx, load_npz, read_idx
from graphgrad.errors import DataError


def write_idx(path, array, code=0x08, compress=False):
    """Our own IDX writer: magic (0, 0, dtype code, ndim), big-endian uint32 dims, big-endian data."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += np.asarray(array).astype(dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def mnist_like(rng, n=6):
    images = rng.integers(0, 256, (n, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    labels[0] = 9
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_raw_and_gzip(tmp_path, compress):
    images, labels = mnist_like(np.random.default_rng(0))
    suffix = ".gz" if compress else ""
    ip = write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress=compress)
    lp = write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress=compress)
    assert np.array_equal(read_idx(ip), images)
    b = load_idx(ip, lp)
    assert b.X.shape == (6, 12) and b.X.dtype == np.float32
    np.testing.assert_array_equal(b.X, images.reshape(6, 12) / np.float32(255))
    assert b.X.min() >= 0 and b.X.max() <= 1
    assert b.y.dtype == np.int64 and b.y.tolist() == labels.tolist()
    assert b.task == "classification" and b.n_classes == 10
    auto = load_file(ip)  # labels found by the MNIST naming convention
    assert np.array_equal(auto.y, b.y) and np.array_equal(auto.X, b.X)


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    data = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    p = write_idx(tmp_path / "plain.idx", data, code=0x0C, compress=True)
    out = read_idx(p)
    assert out.dtype == np.dtype(">i4") and np.array_equal(out, data)
    f = write_idx(tmp_path / "floats.idx", np.array([[0.5, -1.0]]), code=0x0E)
    assert read_idx(f).tolist() == [[0.5, -1.0]]


def test_idx_bad_magic_dtype_dims_and_truncation(tmp_path):
    images, _ = mnist_like(np.random.default_rng(1))
    good = (tmp_path / "g.idx")
    write_idx(good, images)
    raw = good.read_bytes()
    cases = {
        "magic.idx": (b"\x01\x02" + raw[2:], "not an IDX file: magic number 01020803 must start with two zero bytes"),
        "dtype.idx": (raw[:2] + b"\x07" + raw[3:], "unknown IDX dtype code 0x07; valid codes: 0x08, 0x09, 0x0B"),
        "short.idx": (raw[:3], "not an IDX file: 3 bytes, shorter than the 4-byte magic number"),
        "header.idx": (raw[:9], "truncated IDX header: 3 dimensions need 16 bytes, the file has 9"),
        "trunc.idx": (raw[:-5], "IDX data truncated: dimensions (6, 4, 3) of uint8 need 72 bytes, found 67"),
        "extra.idx": (raw + b"\x00", "IDX data has trailing bytes: dimensions (6, 4, 3) of uint8 need 72 bytes, "
                                     "found 73"),
        "zero.idx": (b"\x00\x00\x08\x00", "IDX header declares 0 dimensions"),
    }
    for name, (content, message) in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(DataError, match=re.escape(f"{p}: {message}")):
            read_idx(p)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(DataError, match=re.escape(f"{gz}: corrupt or truncated gzip data")):
        read_idx(gz)


def test_idx_label_problems(tmp_path):
    images, labels = mnist_like(np.random.default_rng(2))
    ip = write_idx(tmp_path / "i.idx", images)
    few = write_idx(tmp_path / "few.idx", labels[:4])
    with pytest.raises(DataError, match=re.escape(f"{few}: 4 labels for 6 images in {ip}; counts must match")):
        load_idx(ip, few)
    two_d = write_idx(tmp_path / "2d.idx", labels.reshape(2, 3))
    with pytest.raises(DataError, match=re.escape(f"{two_d}: labels must be a 1-D integer array, got uint8 (2, 3)")):
        load_idx(ip, two_d)
    assert load_idx(ip).y is None


def test_npz_round_trip_and_optional_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 2))
    p = tmp_path / "d.npz"
    np.savez(p, X=x, y=np.array([0, 1, 1, 0, 1]), target_names=np.array(["no", "yes"]))
    b = load_npz(p)
    assert b.X.shape == (5, 4) and b.X.dtype == np.float32
    np.testing.assert_array_equal(b.X, x.reshape(5, 4).astype(np.float32))
    assert b.task == "classification" and b.n_classes == 2 and b.target_names == ["no", "yes"]
    assert b.y.tolist() == [0, 1, 1, 0, 1]
    r = tmp_path / "r.npz"
    np.savez(r, X=x[:, 0], y=np.linspace(0, 1, 5))
    rb = load_file(r)
    assert rb.task == "regression" and rb.y.dtype == np.float32 and rb.n_classes == 0
    s = tmp_path / "s.npz"
    np.savez(s, X=x[:, 0], y=np.array(["b", "a", "c", "a", "b"]))
    sb = load_npz(s)
    assert sb.y.tolist() == [1, 0, 2, 0, 1] and sb.target_names == ["a", "b", "c"]
    evaluation = tmp_path / "e.npz"
    np.savez(evaluation, X=x[:2, 0], y=np.array(["c", "c"]))
    assert load_npz(evaluation, schema=sb.schema()).y.tolist() == [2, 2]  # training's class indices


def test_npz_errors(tmp_path):
    p = tmp_path / "k.npz"
    np.savez(p, features=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(DataError, match=re.escape(f"{p}: missing array(s) ['X']; found ['features', 'y']")):
        load_npz(p)
    q = tmp_path / "m.npz"
    np.savez(q, X=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match=re.escape(f"{q}: shape mismatch: y has shape (4,), expected (3,) to match X "
                                                  "(3, 2)")):
        load_npz(q)
    n = tmp_path / "n.npz"
    np.savez(n, X=np.array([[1.0, np.inf]]), y=np.zeros(1))
    with pytest.raises(DataError, match=re.escape(f"{n}: X has a non-finite value (inf) at example 0, feature 1")):
        load_npz(n)
    o = tmp_path / "o.npz"
    np.savez(o, X=np.zeros((2, 1)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match=re.escape(f"{o}: member 'y.npy' holds Python objects, which need pickle")):
        load_npz(o)
    z = tmp_path / "z.npz"
    z.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=re.escape(f"{z}: not a valid .npz file")):
        load_npz(z)


def test_load_file_dispatch_and_unknown_extension(tmp_path):
    c = tmp_path / "t.csv"
    c.write_text("a,b\n1,0\n2,1\n")
    assert load_file(c, target="a").target == "a"
    u = tmp_path / "data.xlsx"
    u.write_text("x")
    with pytest.raises(DataError, match=re.escape(f"{u}: unknown data file type '.xlsx'; supported: .csv, .npz, IDX")):
        load_file(u)
    images, _ = mnist_like(np.random.default_rng(3))
    lonely = write_idx(tmp_path / "test-images-idx3-ubyte", images)
    with pytest.raises(DataError, match=re.escape(f"{lonely}: no labels file for these IDX images (looked for "
                                                  "test-labels-idx1-ubyte)")):
        load_file(lonely)
    with pytest.raises(DataError, match=re.escape(f"data file not found: {str(tmp_path / 'gone.npz')!r}")):
        load_file(tmp_path / "gone.npz")


def test_loaders_keep_each_examples_shape(tmp_path):
    from graphgrad.data import load_dataset

    assert load_dataset("digits").input_shape == (1, 8, 8) and load_dataset("iris").input_shape == (4,)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28) % 251
    write_idx(tmp_path / "t-images-idx3-ubyte", images)
    write_idx(tmp_path / "t-labels-idx1-ubyte", np.array([0, 1, 2], dtype=np.uint8))
    b = load_file(tmp_path / "t-images-idx3-ubyte")
    assert b.input_shape == (1, 28, 28) and b.X.shape == (3, 784)
    for x, shape in [(np.zeros((4, 5, 6)), (1, 5, 6)), (np.zeros((4, 3, 5, 6)), (3, 5, 6)), (np.zeros((4, 7)), (7,))]:
        np.savez(tmp_path / "a.npz", X=x, y=np.arange(4) % 2)
        b = load_npz(tmp_path / "a.npz")
        assert b.input_shape == shape and b.X.shape == (4, int(np.prod(shape)))

"""``graphgrad train --model cnn`` on images: built-in digits (1x8x8), IDX (28x28) and NPZ files.

Each run is a real subprocess; the saved run must rebuild its CNN in ``evaluate``, ``predict`` and
``load_run`` and give the same numbers. The image files are generated here: bars of three
orientations (horizontal, vertical, diagonal) at random places, with noise, which only a model
that looks at neighbouring pixels together can tell apart reliably.
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from graphgrad import nn
from graphgrad.train import load_run
from graphgrad.train.config import TrainConfig
from graphgrad.train.registry import MODEL_SIZES, MODELS
from tests.cliproc import gg, one_line_error


def bars(n: int, side: int, channels: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``side x side`` (or ``channels x side x side``) in 0..255 and their classes 0-2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(0, 60, (n, side, side))
    for i, label in enumerate(y):
        k = int(rng.integers(1, side - 1))
        if label == 0:
            x[i, k, :] = 255
        elif label == 1:
            x[i, :, k] = 255
        else:
            x[i, np.arange(side), (np.arange(side) + k) % side] = 255
    if channels:
        x = np.repeat(x[:, None], channels, axis=1) * np.linspace(1.0, 0.5, channels)[None, :, None, None]
    return x.astype(np.uint8), y.astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file of unsigned bytes (MNIST's layout: magic, dims as big-endian uint32, data)."""
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.astype(np.uint8).tobytes())
    return path


def accuracy(text: str) -> float:
    match = re.search(r"accuracy (\d+\.\d+)%", text)
    assert match, text
    return float(match.group(1))


def predictions(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "prediction", rows[0]
    return [row[0] for row in rows[1:]]


def conv_layers(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_cnn_on_idx_28x28_trains_and_the_run_rebuilds_it(tmp_path: Path) -> None:
    x, y = bars(150, 28, seed=1)
    images = write_idx(tmp_path / "train-images-idx3-ubyte", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    run = tmp_path / "run"
    r = gg("train", "--model", "cnn", "--data", images, "--epochs", "4", "--batch-size", "16", "--hidden", "none",
           "--quiet", "--out", run)
    assert r.code == 0, r.err
    trained = accuracy(r.out)
    assert trained >= 90.0, r.out  # bars at any place: a model of neighbourhoods gets them

    loaded = load_run(run)
    assert loaded.input_shape == (1, 28, 28)
    convs = conv_layers(loaded.model)
    assert [c.in_channels for c in convs] == [1, 32, 32, 64] and [c.out_channels for c in convs] == [32, 32, 64, 64]

    ev = gg("evaluate", run)
    assert ev.code == 0, ev.err
    assert accuracy(ev.out) == trained  # the same weights on the same test split

    pr = gg("predict", run, "--data", images)
    assert pr.code == 0, pr.err
    predicted = predictions(pr.out)
    assert predicted == [str(c) for c in loaded.predict(images)]
    assert np.mean(np.array(predicted, dtype=int) == y) >= 0.9


@pytest.mark.parametrize("channels", [0, 2])
def test_cnn_on_npz_images_with_and_without_a_channel_axis(tmp_path: Path, channels: int) -> None:
    x, y = bars(120, 10, channels=channels, seed=2)
    data = tmp_path / "bars.npz"
    np.savez(data, X=x.astype(np.float32), y=y.astype(np.int64))
    run = tmp_path / "run"
    r = gg("train", "--model", "cnn", "--data", data, "--epochs", "6", "--batch-size", "16", "--hidden", "16",
           "--quiet", "--out", run)
    assert r.code == 0, r.err
    loaded = load_run(run)
    assert loaded.input_shape == (max(channels, 1), 10, 10)
    assert conv_layers(loaded.model)[0].in_channels == max(channels, 1)
    linears = [m for m in loaded.model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 16), (16, 3)]  # --hidden 16: one layer

    ev = gg("evaluate", run, "--data", data)  # the whole file, encoded as in training
    assert ev.code == 0, ev.err
    assert accuracy(ev.out) >= 85.0, ev.out
    probabilities = loaded.predict_proba(str(data))
    assert probabilities.shape == (120, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_cnn_on_the_builtin_digits_as_8x8_images(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = gg("train", "--model", "cnn", "--epochs", "1", "--batch-size", "64", "--quiet", "--out", run)
    assert r.code == 0, r.err
    assert accuracy(r.out) >= 50.0, r.out  # one epoch of 20 steps; chance is 10%
    loaded = load_run(run)
    assert loaded.input_shape == (1, 8, 8)
    assert conv_layers(loaded.model)[0].in_channels == 1
    ev = gg("evaluate", run)
    assert ev.code == 0 and accuracy(ev.out) == accuracy(r.out), ev.err


def test_cnn_refuses_tabular_data_in_one_line_before_making_the_run_folder(tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(40)))
    for source in (["--data", str(table)], ["--dataset", "iris"]):
        r = gg("train", "--model", "cnn", *source, "--out", tmp_path / "run", "--quiet")
        one_line_error(r, "--model cnn needs images (channels, height, width)", "features per row", "--model mlp")
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("hidden, activation, dropout", [([], "relu", 0.0), ([32, 16], "tanh", 0.25)])
def test_cnn_settings_shape_the_network_and_its_size_is_counted(hidden: list[int], activation: str,
                                                                 dropout: float) -> None:
    config = TrainConfig(model="cnn", hidden=hidden, activation=activation, dropout=dropout)
    config.validate()
    rngs = {"init": np.random.default_rng(0), "dropout": np.random.default_rng(1)}
    model = MODELS["cnn"]((3, 12, 12), 5, config, rngs)
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("Conv2d") == 4 and kinds.count("BatchNorm2d") == 4
    assert kinds.count("Linear") == len(hidden) + 1
    assert kinds.count("Tanh" if activation == "tanh" else "ReLU") == 4 + len(hidden)
    assert kinds.count("Dropout") == (len(hidden) + 1 if dropout else 0)  # before every linear layer
    counted = MODEL_SIZES["cnn"]((3, 12, 12), 5, config)
    assert counted == sum(math.prod(p.shape) for p in model.parameters())

"""The CNN command used the way a newcomer would: image files of odd shapes and labels, read back by
evaluate and predict. Each test is a case that once went wrong silently or named the wrong thing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cliproc import gg, one_line_error


def _images(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    np.savez(path, X=x, y=y)
    return str(path)


@pytest.fixture(scope="module")
def run_8x8(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A one-epoch CNN run on 60 random 8x8 grey images of 3 classes."""
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 8, 8)).astype(np.float32), rng.integers(0, 3, 60)
    folder = tmp_path_factory.mktemp("cnnprobe")
    data = _images(folder / "grey.npz", x, y)
    r = gg("train", "--model", "cnn", "--data", data, "--epochs", "1", "--out", str(folder / "run"))
    assert r.code == 0, r.err
    return folder / "run", x, y


def test_channels_last_images_are_refused_not_read_as_channels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = _images(tmp_path / "rgb.npz", rng.random((30, 8, 8, 3)).astype(np.float32), rng.integers(0, 2, 30))
    r = gg("train", "--model", "cnn", "--data", data, "--epochs", "1", "--out", str(tmp_path / "run"))
    one_line_error(r, "rgb.npz", "(30, 8, 8, 3)", "channels last", "(N, C, H, W)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_images_of_another_shape_with_as_many_pixels_are_refused(
        tmp_path: Path, run_8x8: tuple[Path, np.ndarray, np.ndarray], command: str) -> None:
    run, x, y = run_8x8
    data = _images(tmp_path / "wide.npz", x.reshape(60, 4, 16), y)
    extra = ["--output", str(tmp_path / "p.csv")] if command == "predict" else []
    r = gg(command, str(run), "--data", data, *extra)
    one_line_error(r, "wide.npz", "1x4x16", "1x8x8")
    assert not (tmp_path / "p.csv").exists()


def test_images_of_another_size_name_both_image_shapes(
        tmp_path: Path, run_8x8: tuple[Path, np.ndarray, np.ndarray]) -> None:
    run, _, y = run_8x8
    data = _images(tmp_path / "small.npz", np.zeros((60, 5, 7), np.float32), y)
    one_line_error(gg("evaluate", str(run), "--data", data), "small.npz", "1x5x7", "1x8x8")


def test_flattened_rows_of_the_same_images_give_the_same_predictions(
        tmp_path: Path, run_8x8: tuple[Path, np.ndarray, np.ndarray]) -> None:
    run, x, y = run_8x8
    images = _images(tmp_path / "img.npz", x, y)
    rows = _images(tmp_path / "rows.npz", x.reshape(60, 64), y)
    a, b = gg("predict", str(run), "--data", images, "--output", str(tmp_path / "a.csv")), \
        gg("predict", str(run), "--data", rows, "--output", str(tmp_path / "b.csv"))
    assert a.code == 0 and b.code == 0, (a.err, b.err)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_one_class_error_names_the_file(tmp_path: Path) -> None:
    data = _images(tmp_path / "same.npz", np.zeros((20, 8, 8), np.float32), np.zeros(20, int))
    r = gg("train", "--model", "cnn", "--data", data, "--epochs", "1", "--out", str(tmp_path / "run"))
    one_line_error(r, str(tmp_path / "same.npz"), "at least 2 classes, found 1")

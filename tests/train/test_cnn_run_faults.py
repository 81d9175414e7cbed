"""CNN run folders met as a stranger meets them, through the real command (a subprocess each): a
lock file that is a link to the user's file, a state.json whose image shape was edited, tensors
whose values or dtype graphgrad never writes, and image files whose labels predict must ignore.
Each test is a case that once went wrong: a user's file overwritten, a traceback, or an answer
computed from garbage without a word."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from tests.cliproc import copy_run, gg, one_line_error

USERS_TEXT = "the user's own notes\n"


def _bars(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8x8 grey images of 3 classes: a bright row, column or diagonal on noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.2, (n, 8, 8))
    for i, label in enumerate(y):
        k = int(rng.integers(1, 7))
        if label == 0:
            x[i, k, :] = 1.0
        elif label == 1:
            x[i, :, k] = 1.0
        else:
            x[i, np.arange(8), (np.arange(8) + k) % 8] = 1.0
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-epoch CNN run on 90 8x8 images of 3 classes."""
    root = tmp_path_factory.mktemp("cnnfaults")
    x, y = _bars(90)
    np.savez(root / "bars.npz", X=x, y=y)
    r = gg("train", "--model", "cnn", "--data", root / "bars.npz", "--epochs", "1", "--threads", "1", "--quiet",
           "--out", root / "run")
    assert r.code == 0, r.err
    return root / "run"


def _edit_metadata(run: Path, **changes: object) -> None:
    doc = json.loads((run / "state.json").read_text())
    doc["state"]["metadata"].update(changes)
    (run / "state.json").write_text(json.dumps(doc))


def _rewrite_model_tensor(run: Path, key: str, value: np.ndarray) -> Path:
    """Replace one tensor of the model file and give state.json the new file's sha256, as someone
    who edits the file on purpose would: only the content can then tell that it is wrong."""
    doc = json.loads((run / "state.json").read_text())
    entry = doc["files"]["model"]
    path = run / entry["path"]
    arrays = safetensors.numpy.load(path.read_bytes())
    arrays[key] = value
    data = safetensors.numpy.save(arrays, metadata={"format": "graphgrad-checkpoint", "group": "model",
                                                    "run_id": doc["run_id"]})
    path.write_bytes(data)
    entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (run / "state.json").write_text(json.dumps(doc))
    return path


def test_a_lock_file_that_links_to_a_users_file_is_refused_and_the_file_kept(cnn_run, tmp_path):
    run = copy_run(cnn_run, tmp_path)
    users = tmp_path / "notes.txt"
    users.write_text(USERS_TEXT)
    (run / ".graphgrad-lock").unlink()
    os.symlink(users, run / ".graphgrad-lock")
    one_line_error(gg("train", "--resume", run, "--quiet"), ".graphgrad-lock", "link")
    assert users.read_text() == USERS_TEXT
    assert gg("evaluate", run).code == 0  # reading a run takes no lock
    assert users.read_text() == USERS_TEXT


def test_a_new_run_in_a_folder_whose_lock_file_links_out_keeps_the_users_file(tmp_path):
    users = tmp_path / "notes.txt"
    users.write_text(USERS_TEXT)
    out = tmp_path / "run"
    out.mkdir()
    os.symlink(users, out / ".graphgrad-lock")
    one_line_error(gg("train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", out), ".graphgrad-lock", "link")
    assert users.read_text() == USERS_TEXT
    assert sorted(p.name for p in out.iterdir()) == [".graphgrad-lock"]


HUGE = ([1, 100000, 100000], "image shape 1x100000x100000 holds 10000000000 values, the run has 64 features")


@pytest.mark.parametrize(("shape", "fragment", "command"), [
    (*HUGE, ["evaluate"]),
    (*HUGE, ["explain", "--run"]),
    (*HUGE, ["predict"]),
    ([1, 4, 16], "image shape 1x4x16, the data the run was trained on has 1x8x8", ["evaluate"]),
    ([1, 4, 16], "image shape 1x4x16, the data the run was trained on has 1x8x8", ["explain", "--run"]),
])
def test_an_image_shape_edited_in_state_json_is_one_line_naming_it(cnn_run, tmp_path, shape, fragment, command):
    run = copy_run(cnn_run, tmp_path)
    _edit_metadata(run, input_shape=shape)
    extra = {"explain": ["--svg", tmp_path / "e.svg"],
             "predict": ["--data", cnn_run.parent / "bars.npz", "--output", tmp_path / "p.csv"]}.get(command[0], [])
    one_line_error(gg(*command, run, *extra), str(run / "state.json"), fragment)


@pytest.mark.parametrize(("value", "fragment"), [
    (lambda w: np.full_like(w, np.nan), "tensor '1.weight' holds 288 NaN or infinite values"),
    (lambda w: (w * 100).astype(np.int32), "tensor '1.weight' is int32, the model's is float32"),
])
@pytest.mark.parametrize("command", ["evaluate", "predict", "resume"])
def test_model_tensors_graphgrad_never_writes_are_refused_naming_the_file(cnn_run, tmp_path, value, fragment,
                                                                          command):
    run = copy_run(cnn_run, tmp_path)
    weight = safetensors.numpy.load((run / json.loads((run / "state.json").read_text())["files"]["model"]["path"])
                                    .read_bytes())["1.weight"]
    path = _rewrite_model_tensor(run, "1.weight", value(weight))
    data = cnn_run.parent / "bars.npz"
    argv = {"evaluate": ["evaluate", run], "predict": ["predict", run, "--data", data, "--output", tmp_path / "p.csv"],
            "resume": ["train", "--resume", run, "--quiet"]}[command]
    one_line_error(gg(*argv), str(path), fragment)
    assert not (tmp_path / "p.csv").exists()


def test_predict_ignores_the_labels_of_a_file_even_classes_training_never_saw(cnn_run, tmp_path):
    x, _ = _bars(12, seed=5)
    np.savez(tmp_path / "new.npz", X=x, y=np.full(12, 7))  # class 7: not one of the run's 3
    r = gg("predict", cnn_run, "--data", tmp_path / "new.npz", "--output", tmp_path / "p.csv")
    assert r.code == 0, r.err
    np.savez(tmp_path / "bare.npz", X=x)
    r2 = gg("predict", cnn_run, "--data", tmp_path / "bare.npz", "--output", tmp_path / "q.csv")
    assert r2.code == 0, r2.err
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "q.csv").read_text()


def _idx(path: Path, array: np.ndarray) -> Path:
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.astype(np.uint8).tobytes())
    return path


def test_idx_labels_of_classes_training_never_saw_name_the_labels_file(cnn_run, tmp_path):
    x, _ = _bars(12, seed=6)
    images = _idx(tmp_path / "t10k-images-idx3-ubyte", (x * 255).astype(np.uint8))
    labels = _idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 9] * 3))
    one_line_error(gg("evaluate", cnn_run, "--data", images), str(labels), "y[3] = 9 is not a class of the training "
                   "data (0..2)")
    r = gg("predict", cnn_run, "--data", images, "--output", tmp_path / "p.csv")  # labels play no part in predict
    assert r.code == 0, r.err


def test_images_with_one_axis_too_many_are_named_by_their_shape(tmp_path):
    x, y = _bars(30)
    np.savez(tmp_path / "five.npz", X=x[:, None, None], y=y)  # (N, 1, 1, 8, 8)
    one_line_error(gg("train", "--model", "cnn", "--data", tmp_path / "five.npz", "--quiet", "--out", tmp_path / "r"),
                   "this data's examples have shape 1x1x8x8", "(channels, height, width)")

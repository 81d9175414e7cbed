"""Issue 14, part 2 through the real command (a subprocess each): run folders that never lose a
user's file, one writer per folder, resume that finishes the job, one line and exit 2 for
everything a user or a file can cause, and output that cannot be turned against its reader."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from graphgrad.io import STATE_FILE, load_checkpoint
from tests.cliproc import FULL_FILE, copy_run, env, gg, listing, one_line_error

QUICK = ["--epochs", "2", "--hidden", "16", "--quiet"]


def small_csv(path: Path, n: int = 80, labels: tuple[str, ...] = ("yes", "no")) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "label"])
        for i, (a, b) in enumerate(x):
            w.writerow([f"{a:.3f}", f"{b:.3f}", labels[int(a + b > 0) if len(labels) == 2 else i % len(labels)]])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished run to copy from (training costs seconds on a busy machine)."""
    root = tmp_path_factory.mktemp("trained")
    data = small_csv(root / "t.csv")
    r = gg("train", "--data", data, *QUICK, "--out", root / "run")
    assert r.code == 0, r.err
    return root / "run"


# ------------------------------------------------------------------------------ 7. never touch users' files
def test_out_folder_with_users_files_is_refused_and_left_as_it_was(tmp_path):
    data = small_csv(tmp_path / "t.csv")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / ".tmp-notes").write_text("my notes")
    (mine / "ckpt-000500.safetensors").write_bytes(b"my weights")
    before = listing(mine)
    one_line_error(gg("train", "--data", data, *QUICK, "--out", mine),
                   "the folder is not empty and is not a graphgrad run", ".tmp-notes, ckpt-000500.safetensors")
    assert listing(mine) == before
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    one_line_error(gg("train", "--data", data, *QUICK, "--out", a_file), "a file, not a folder")
    one_line_error(gg("train", "--data", data, *QUICK, "--out", a_file / "run"), "notes.txt")
    assert a_file.read_text() == "keep"


# ------------------------------------------------------------------------------ 8. one writer per run folder
def test_second_writer_is_refused_naming_the_first(tmp_path):
    data = small_csv(tmp_path / "t.csv", n=3000)
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "graphgrad", "train", "--data", str(data), "--epochs", "200",
                              "--hidden", "64", "--batch-size", "8", "--quiet", "--out", str(out)],
                             env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / STATE_FILE).exists() and time.time() < deadline:
            time.sleep(0.2)
        assert (out / STATE_FILE).exists(), "the first run never saved a checkpoint"
        for argv in (["train", "--data", data, *QUICK, "--out", out], ["train", "--resume", out]):
            one_line_error(gg(*argv), f"{out} is in use by process {first.pid} on ", "wait for it to finish")
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_predict_may_not_overwrite_the_runs_files(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    data = small_csv(tmp_path / "new.csv")
    before = listing(run)
    for target in (run / STATE_FILE, run / "metrics.csv", run / "evaluation" / "x.csv", run):
        one_line_error(gg("predict", run, "--data", data, "--output", target), "would overwrite the run's own files")
    assert listing(run) == before
    r = gg("predict", run, "--data", data, "--output", tmp_path / "predictions.csv")
    assert r.code == 0 and "wrote 80 predictions" in r.err


# ------------------------------------------------------------------------------ 9. resume finishes the job
def test_resume_of_a_run_killed_while_plotting_completes_it_and_cleans_only_its_own_leftovers(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    (run / "curves.png").unlink()  # killed while drawing: no plot, a temporary, and a superseded tensor file
    (run / ".tmp-curves.png.0123456789ab").write_bytes(b"half a png")
    model_file = next(run.glob("model-*.safetensors"))
    shutil.copy(model_file, run / "model-000001.safetensors")  # carries this run's id in its header
    users = {".tmp-notes": b"mine", "ckpt-000500.safetensors": b"mine too", "notes.txt": b"and this"}
    for name, data in users.items():
        (run / name).write_bytes(data)
    r = gg("train", "--resume", run, "--quiet")
    assert r.code == 0, r.err
    assert "removed 2 unfinished file(s) of the interrupted run: .tmp-curves.png.0123456789ab, " \
           "model-000001.safetensors" in r.out
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert all((run / n).read_bytes() == d for n, d in users.items())
    assert not (run / ".tmp-curves.png.0123456789ab").exists() and not (run / "model-000001.safetensors").exists()
    load_checkpoint(run)  # still a valid run


def diverging_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = x @ [1.0, 2.0, 3.0] + 0.1 * rng.normal(size=500)
    path.write_text("a,b,c,y\n" + "".join(f"{a:.3f},{b:.3f},{c:.3f},{t:.3f}\n" for (a, b, c), t in zip(x, y)))
    return path


def test_diverged_run_names_its_checkpoint_and_goes_on_with_a_new_lr(tmp_path):
    data = diverging_csv(tmp_path / "d.csv")
    run = tmp_path / "run"
    settings = ["--hidden", "none", "--optimizer", "sgd", "--momentum", "0", "--batch-size", "35", "--epochs", "12",
                "--schedule", "none", "--quiet"]
    one_line_error(gg("train", "--data", data, *settings, "--lr", "6", "--out", run),
                   "training diverged", "at epoch 2", f"the last good checkpoint (epoch 1, step 10) is kept in {run}")
    r = gg("train", "--resume", run, "--quiet")
    assert f"resuming from the checkpoint of epoch 1, step 10 ({run / STATE_FILE})" in r.out
    one_line_error(r, "the last good checkpoint (epoch 1, step 10)")
    r = gg("train", "--resume", run, "--lr", "0.05", "--quiet")
    assert r.code == 0, r.err
    history = json.loads((run / "metrics.json").read_text())
    assert [row["lr"] for row in history] == [6.0] + [0.05] * 11
    assert history[1]["lr_note"] == "lr 0.05 set with --resume --lr after epoch 1"
    losses = [row["train_loss"] for row in history[1:]]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # it converges again
    summary = json.loads((run / "summary.json").read_text())
    assert summary["events"] == [{"epoch": 1, "step": 10, "lr": 0.05, "why": "set with --resume --lr"}]


# ------------------------------------------------------------------------------ 10. one line, exit 2
FULL_DISK = FULL_FILE + """
def full_open(file, mode="r", *a, **k):
    f = _open(file, mode, *a, **k)
    return _Full(f) if "w" in mode and ".tmp-" in str(file) else f
builtins.open = full_open
"""

READ_ONLY = """
import builtins, errno, os
_open = builtins.open
_os_open = os.open
WATCH = {watch!r}
def _check(path, writing):
    if writing and str(os.path.abspath(path)).startswith(WATCH):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
def ro_open(file, mode="r", *a, **k):
    _check(file, any(c in mode for c in "wax+"))
    return _open(file, mode, *a, **k)
def ro_os_open(path, flags, *a, **k):
    _check(path, flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    return _os_open(path, flags, *a, **k)
builtins.open = ro_open
os.open = ro_os_open
"""


def test_full_disk_is_one_line_and_the_last_checkpoint_survives(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    (run / "curves.png").unlink()
    before = listing(run)
    r = gg("train", "--resume", run, "--quiet", patch=FULL_DISK)
    one_line_error(r, "No space left on device")
    after = listing(run)
    assert not [n for n in after if n.startswith(".tmp-")]  # no half-written file left
    assert after[STATE_FILE] == before[STATE_FILE]
    load_checkpoint(run)


def test_read_only_output_folder_is_one_line(tmp_path):
    data = small_csv(tmp_path / "t.csv")
    locked = tmp_path / "locked"
    locked.mkdir()
    r = gg("train", "--data", data, *QUICK, "--out", locked / "run", patch=READ_ONLY.format(watch=str(locked)))
    one_line_error(r, "Permission denied", str(locked / "run"))


def test_csv_integer_too_large_for_int64(tmp_path):
    data = tmp_path / "big.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30)) + "5,99999999999999999999999\n")
    one_line_error(gg("train", "--data", data, "--task", "classification", *QUICK),
                   "line 32, column 'y'", "99999999999999999999999 is too large to be a class label")


def test_empty_npz_and_idx(tmp_path):
    np.savez(tmp_path / "empty.npz", X=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int64))
    one_line_error(gg("train", "--data", tmp_path / "empty.npz", *QUICK), "empty.npz", "no examples")
    images = tmp_path / "empty-images-idx3-ubyte"
    images.write_bytes(b"\x00\x00\x08\x03" + (0).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
    (tmp_path / "empty-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (0).to_bytes(4, "big"))
    one_line_error(gg("train", "--data", images, *QUICK), "holds no images")


class _Payload:
    """Unpickling this would create a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_npz_with_a_pickle_is_refused_and_never_loaded(tmp_path):
    marker = tmp_path / "PICKLE-WAS-LOADED"
    x = np.empty(3, dtype=object)
    x[:] = [_Payload(str(marker))] * 3
    np.savez(tmp_path / "evil.npz", X=x, y=np.zeros(3, np.int64))
    one_line_error(gg("train", "--data", tmp_path / "evil.npz", *QUICK), "member 'X.npy' holds Python objects")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("X.npy", b"\x93NUMPY")  # a broken header
        z.writestr("readme.txt", "not an array")
    one_line_error(gg("train", "--data", tmp_path / "other.npz", *QUICK), "other.npz: member")
    assert not marker.exists()


def test_npy_header_that_cannot_fit_in_memory_is_refused_before_allocating(tmp_path):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 3), np.float32))
    header["shape"] = (10**12, 1000)
    buf = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("X.npy", buf.getvalue() + b"\0" * 24)
        z.writestr("y.npy", b"")
    r = gg("train", "--data", tmp_path / "huge.npz", *QUICK, timeout=60)
    one_line_error(r, "member 'X.npy' declares shape (1000000000000, 1000)", "3,725,290.3 GB")


def test_hidden_size_that_cannot_fit_is_refused_before_allocating(tmp_path):
    r = gg("train", "--hidden", "2000000000", "--epochs", "1", "--quiet", "--out", tmp_path / "r", timeout=120)
    one_line_error(r, "--hidden 2000000000: the model has 150,000,000,010 parameters", "GB, this machine has")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("toml", "fragment"), [
    (b'lr = "fast"\n', "invalid lr 'fast' (must be a number, not str)"),
    (b"hidden = 5\n", "invalid hidden 5 (must be a list, not int)"),
    (b"data = 3\n", "invalid data 3 (must be text, not int)"),
    (b"drop = [1, 2]\n", "invalid drop [1, 2] (column names"),
    (b"epochs = true\n", "invalid epochs True (must be an integer, not bool)"),
    (b'task = "cluster"\n', "unknown task 'cluster'; valid: auto, classification, regression"),
    (b'[train]\nlr = 0.1\noptimizer = "sgd\xe9"\n', "line 3: not UTF-8 text"),
])
def test_toml_values_of_the_wrong_type_and_non_utf8(tmp_path, toml, fragment):
    path = tmp_path / "c.toml"
    path.write_bytes(toml)
    one_line_error(gg("train", "--config", path, "--quiet"), fragment)


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda s: s["state"].update(epoch="3"), "state.epoch: expected int, found str '3'"),
    (lambda s: s["state"]["config"].update(lr=[1]), "invalid lr [1] (must be a number, not list)"),
    (lambda s: s["state"]["metadata"].update(target_names=7), "metadata.target_names: expected a list, found int"),
    (lambda s: s["state"].update(history=json.loads("[" * 200 + "]" * 200)), "nested more than 64 levels deep"),
])
def test_tampered_state_json_is_one_line(trained, tmp_path, edit, fragment):
    run = copy_run(trained, tmp_path)
    doc = json.loads((run / STATE_FILE).read_text())
    edit(doc)
    (run / STATE_FILE).write_text(json.dumps(doc))
    for argv in (["evaluate", run], ["train", "--resume", run, "--quiet"]):
        one_line_error(gg(*argv), fragment)


def test_tensor_file_linked_outside_the_run_is_refused(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    model_file = next(run.glob("model-*.safetensors"))
    outside = tmp_path / "outside.safetensors"
    os.replace(model_file, outside)
    os.symlink(outside, model_file)
    one_line_error(gg("evaluate", run), "a link to", "outside the run folder")


# ------------------------------------------------------------------------------ 11. formula injection
def test_class_names_in_predictions_cannot_become_formulas(tmp_path):
    labels = ("=HYPERLINK(\"http://x\",\"y\")", "+1+2", "@SUM(A1)", "-cmd", "-1", "plain")
    data = small_csv(tmp_path / "t.csv", n=120, labels=labels)
    assert gg("train", "--data", data, *QUICK, "--out", tmp_path / "r").code == 0
    r = gg("predict", tmp_path / "r", "--data", data, "--output", tmp_path / "p.csv")
    assert r.code == 0, r.err
    rows = list(csv.reader(open(tmp_path / "p.csv")))
    header, cells = rows[0], [row[0] for row in rows[1:]]
    assert header[1:] == ["p_+1+2", "p_-1", "p_-cmd", "p_=HYPERLINK(\"http://x\",\"y\")", "p_@SUM(A1)", "p_plain"]
    risky = [c for c in cells + header if c[:1] in ("=", "+", "@") or (c[:1] == "-" and c != "-1")]
    assert not risky, risky
    assert set(cells) <= {"'=HYPERLINK(\"http://x\",\"y\")", "'+1+2", "'@SUM(A1)", "'-cmd", "-1", "plain"}


def test_train_report_writes_the_page_and_the_boundaries_which_resume_keeps(tmp_path):
    """``train --report`` on 2-feature data: the run records its decision boundaries each epoch and
    ends with report.html; both are the run's own files, so resuming the finished run keeps them."""
    out = tmp_path / "moons"
    r = gg("train", "--dataset", "moons", "--out", out, "--report", *QUICK)
    assert r.code == 0, r.err
    assert f"wrote {out / 'report.html'}" in r.out
    page = (out / "report.html").read_text()
    assert "<script src=" not in page and "http://" not in page.split("</style>")[0]
    from graphgrad.viz.boundary import load_boundaries

    maps = load_boundaries(out)
    assert maps is not None and list(maps.epochs) == [0, 1, 2]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    r = gg("train", "--resume", out, "--quiet")
    assert r.code == 0, r.err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after["boundary.safetensors"] == before["boundary.safetensors"]
    assert after["report.html"] == before["report.html"]

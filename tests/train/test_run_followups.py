"""Runs edited or cut short the ways users meet them, through the real command (a subprocess each):
a state.json whose optimizer was changed by hand, a disk that fills after the first checkpoint, a
data file changed before ``explain --run``. Each refusal is one line naming the file and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphgrad.io import load_checkpoint
from tests.cliproc import FULL_FILE, copy_run, gg, listing, one_line_error
from tests.test_cli_runs import small_csv

QUICK = ["--hidden", "16", "--quiet", "--threads", "1"]

STOP_AFTER_EPOCH = """
import graphgrad.train.trainer as trainer
_end = trainer.Trainer._end_epoch
def end_then_stop(self):
    _end(self)
    if self.epoch == {epoch}:
        self.interrupt()  # as Ctrl-C does: the checkpoint of this epoch is saved, then the run stops
trainer.Trainer._end_epoch = end_then_stop
"""


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A 4-epoch Adam run stopped after its first epoch (its checkpoint saved)."""
    root = tmp_path_factory.mktemp("stopped")
    data = small_csv(root / "t.csv")
    r = gg("train", "--data", data, "--epochs", "4", *QUICK, "--out", root / "run",
           patch=STOP_AFTER_EPOCH.format(epoch=1))
    assert r.code == 130, r.err
    return root / "run"


def _files(run: Path) -> dict[str, bytes]:
    """The run's files but its lock file (which each command that writes the run takes anew)."""
    return {name: data for name, data in listing(run).items() if name != ".graphgrad-lock"}


def _edit_config(run: Path, **changes: object) -> None:
    doc = json.loads((run / "state.json").read_text())
    doc["state"]["config"].update(changes)
    (run / "state.json").write_text(json.dumps(doc))


def test_resume_refuses_adams_state_when_state_json_names_another_optimizer(stopped, tmp_path):
    run = copy_run(stopped, tmp_path)
    _edit_config(run, optimizer="sgd")
    before = _files(run)
    one_line_error(gg("train", "--resume", run, "--quiet"), str(run / "state.json"),
                   "SGD state: parameter 0 holds 'exp_avg', 'exp_avg_sq', 'step', which SGD does not keep")
    assert _files(run) == before
    r = gg("train", "--resume", copy_run(stopped, tmp_path / "unedited"), "--quiet")  # the same run, not edited
    assert r.code == 0, r.err


FULL_AFTER_FIRST_CHECKPOINT = FULL_FILE + """
_replace = os.replace
full = [False]
def full_open(file, mode="r", *a, **k):
    f = _open(file, mode, *a, **k)
    return _Full(f) if full[0] and "w" in mode else f
def replace(src, dst, *a, **k):
    _replace(src, dst, *a, **k)
    full[0] = full[0] or os.path.basename(dst) == "state.json"  # the disk fills once a checkpoint is saved
builtins.open, os.replace = full_open, replace
"""


@pytest.mark.parametrize("resumed", [False, True])
def test_a_disk_that_fills_after_a_checkpoint_says_it_is_intact_and_how_to_go_on(stopped, tmp_path, resumed):
    if resumed:  # the first checkpoint this session writes is epoch 2's
        run, argv, epoch = copy_run(stopped, tmp_path), ["train", "--resume"], 2
    else:
        run, epoch = tmp_path / "run", 1
        argv = ["train", "--data", small_csv(tmp_path / "t.csv"), "--epochs", "4", *QUICK, "--out"]
    r = gg(*argv, run, "--quiet", patch=FULL_AFTER_FIRST_CHECKPOINT)
    saved = load_checkpoint(run).state
    assert saved["epoch"] == epoch and not saved["finished"]
    one_line_error(r, "No space left on device", f"the last checkpoint (epoch {epoch}, step {saved['step']}) in "
                   f"{run} is intact", f"free some space, then continue with: graphgrad train --resume {run}")
    assert not [name for name in listing(run) if name.startswith(".tmp-")]
    done = gg("train", "--resume", run, "--quiet")  # space freed
    assert done.code == 0, done.err
    assert load_checkpoint(run).state["finished"] and load_checkpoint(run).state["epoch"] == 4


def test_a_disk_full_before_the_first_checkpoint_promises_nothing(tmp_path):
    patch = FULL_AFTER_FIRST_CHECKPOINT.replace("full = [False]", "full = [True]")
    run = tmp_path / "run"
    line = one_line_error(gg("train", "--data", small_csv(tmp_path / "t.csv"), "--epochs", "2", *QUICK, "--out", run,
                             patch=patch), "No space left on device")
    assert "checkpoint" not in line and "--resume" not in line


def test_explain_run_refuses_a_data_file_changed_since_the_run_started(tmp_path):
    data = small_csv(tmp_path / "t.csv")
    run = tmp_path / "run"
    assert gg("train", "--data", data, "--epochs", "1", *QUICK, "--out", run).code == 0
    ok = gg("explain", "--run", run, "--svg", tmp_path / "before.svg")
    assert ok.code == 0, ok.err
    small_csv(data, n=90)  # other rows: the batch would not be one the run trained on
    one_line_error(gg("explain", "--run", run, "--svg", tmp_path / "after.svg"), str(data),
                   "the file changed since the run started", "its training examples cannot be rebuilt")
    assert not (tmp_path / "after.svg").exists()

"""Runs edited or cut short the ways users meet them, through the real command (a subprocess each):
a state.json whose optimizer was changed by hand, a disk that fills after the first checkpoint, a
data file changed before ``explain --run``. Each refusal is one line naming the file and what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cliproc import gg, listing, one_line_error
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


def _copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _files(run: Path) -> dict[str, bytes]:
    """The run's files but its lock file (which each command that writes the run takes anew)."""
    return {name: data for name, data in listing(run).items() if name != ".graphgrad-lock"}


def _edit_config(run: Path, **changes: object) -> None:
    doc = json.loads((run / "state.json").read_text())
    doc["state"]["config"].update(changes)
    (run / "state.json").write_text(json.dumps(doc))


def test_resume_refuses_adams_state_when_state_json_names_another_optimizer(stopped, tmp_path):
    run = _copy(stopped, tmp_path)
    _edit_config(run, optimizer="sgd")
    before = _files(run)
    one_line_error(gg("train", "--resume", run, "--quiet"), str(run / "state.json"),
                   "SGD state: parameter 0 holds 'exp_avg', 'exp_avg_sq', 'step', which SGD does not keep")
    assert _files(run) == before
    r = gg("train", "--resume", _copy(stopped, tmp_path / "unedited"), "--quiet")  # the same run, not edited
    assert r.code == 0, r.err

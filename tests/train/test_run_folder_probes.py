"""Run folders met as a stranger meets them, through the real command (a subprocess each): folders
edited by hand or by links, and runs killed before their first checkpoint. Nothing outside the
run folder may be written through a link, and every refusal is one line naming what to do."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.cliproc import gg, listing, one_line_error
from tests.test_cli_runs import FULL_DISK, small_csv

QUICK = ["--epochs", "2", "--hidden", "16", "--quiet"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished classification run to copy from."""
    root = tmp_path_factory.mktemp("finished")
    r = gg("train", "--data", small_csv(root / "t.csv"), *QUICK, "--out", root / "run")
    assert r.code == 0, r.err
    return root / "run"


def users_folder(tmp_path: Path, *parts: str) -> Path:
    """A folder of the user's, holding files named as evaluate names its own."""
    folder = tmp_path.joinpath("mine", *parts)
    folder.mkdir(parents=True)
    for name in ("metrics.json", "per_class.csv", "notes.txt"):
        (folder / name).write_text(f"the user's {name}\n")
    return tmp_path / "mine"


@pytest.mark.parametrize("link", ["evaluation", "evaluation/test"])
def test_evaluate_never_writes_through_a_link_out_of_the_run(finished, tmp_path, link):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    shutil.rmtree(run / "evaluation", ignore_errors=True)
    mine = users_folder(tmp_path, *(["test"] if link == "evaluation" else []))
    (run / link).parent.mkdir(exist_ok=True)
    (run / link).symlink_to(mine, target_is_directory=True)
    before = listing(mine)
    one_line_error(gg("evaluate", run), f"{run / link}", "link", "outside the run folder")
    assert listing(mine) == before


def test_full_disk_names_the_file_it_could_not_write(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    (run / "curves.png").unlink()  # so resuming has a file to write
    line = one_line_error(gg("train", "--resume", run, "--quiet", patch=FULL_DISK), "No space left on device")
    named = re.search(r"cannot read or write: (.+): No space left on device; the last checkpoint", line)
    assert named and Path(named[1]).parent == run and Path(named[1]).name in listing(finished), line


KILL_AFTER_STEPS = """
import os, signal
import graphgrad.train.trainer as trainer
_fire = trainer.Trainer._fire
steps = [0]
def fire_then_die(self, hook, *args):
    _fire(self, hook, *args)
    steps[0] += hook == "on_batch_end"
    if steps[0] == {steps}:
        os.kill(os.getpid(), signal.SIGKILL)
trainer.Trainer._fire = fire_then_die
"""


def test_resume_of_a_run_killed_before_its_first_checkpoint_says_there_is_nothing_to_resume(tmp_path):
    data = small_csv(tmp_path / "t.csv")
    run = tmp_path / "run"
    assert gg("train", "--data", data, *QUICK, "--out", run, patch=KILL_AFTER_STEPS.format(steps=1)).code == -9
    before = listing(run)
    one_line_error(gg("train", "--resume", run), str(run), "before its first checkpoint", "nothing to resume",
                   "--out")
    assert listing(run) == before


@pytest.mark.parametrize("via_link", [False, True])
def test_predict_never_writes_over_the_file_it_reads(finished, tmp_path, via_link):
    data = small_csv(tmp_path / "new.csv")
    before = data.read_bytes()
    output = data
    if via_link:
        output = tmp_path / "link.csv"
        output.symlink_to(data)
    one_line_error(gg("predict", finished, "--data", data, "--output", output), f"--output {output}", str(data))
    assert data.read_bytes() == before


def test_predict_replaces_its_own_predictions_but_never_a_users_file(finished, tmp_path):
    data = small_csv(tmp_path / "new.csv")
    mine = tmp_path / "notes.csv"
    mine.write_text("name,value\nkeep,1\n")
    one_line_error(gg("predict", finished, "--data", data, "--output", mine), f"--output {mine}",
                   "not written by graphgrad")
    assert mine.read_text() == "name,value\nkeep,1\n"
    out = tmp_path / "p.csv"
    for _ in range(2):  # the second run replaces the first run's predictions
        r = gg("predict", finished, "--data", data, "--output", out)
        assert r.code == 0, r.err
    assert out.read_text().splitlines()[0].startswith("prediction,")


@pytest.mark.parametrize("name", ["...csv", "..csv", ".hidden.csv"])
def test_evaluate_writes_inside_its_evaluation_folder_whatever_the_file_is_called(finished, tmp_path, name):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    data = tmp_path / name
    small_csv(data)
    before = listing(run)
    r = gg("evaluate", run, "--data", data)
    assert r.code == 0, r.err
    after = listing(run)
    changed = [n for n in after if before.get(n) != after[n]]
    folders = {Path(n).parts[:2] for n in changed}
    assert all(len(Path(n).parts) == 3 for n in changed) and len(folders) == 1, changed
    (top, folder), = folders
    assert top == "evaluation" and not folder.startswith("."), changed


def test_resume_and_test_split_evaluation_refuse_a_data_file_changed_since_the_run_started(tmp_path):
    data = small_csv(tmp_path / "t.csv")
    run = tmp_path / "run"
    r = gg("train", "--data", data, *QUICK, "--epochs", "4", "--out", run, patch=KILL_AFTER_STEPS.format(steps=3))
    assert r.code == -9 and (run / "state.json").is_file(), r.err
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], lines[1].replace(".", "9", 1), *lines[2:]]) + "\n")  # one cell edited
    before = listing(run)
    one_line_error(gg("train", "--resume", run), str(data), "changed since the run started", "--resume")
    one_line_error(gg("evaluate", run), str(data), "changed since the run started", "--data")
    after = listing(run)
    after.pop(".graphgrad-lock"), before.pop(".graphgrad-lock")  # it names the last process that held it
    assert after == before
    assert gg("evaluate", run, "--data", data).code == 0  # a file named by the user is evaluated as it is


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_file_separated_by_semicolons_or_tabs_is_named_as_such(tmp_path, sep):
    data = tmp_path / "europe.csv"
    data.write_text("".join(sep.join(row) + "\n" for row in [["a", "b", "label"], ["1,5", "2", "x"], ["3", "4", "y"]]))
    one_line_error(gg("train", "--data", data, "--quiet"), f"{data}, line 1", f"separated by {sep!r}", "commas")


@pytest.mark.parametrize(("edit", "fragment"), [
    ({"target_names": ["yes"]}, "2 outputs but 1 class names"),
    ({"task": "clustering"}, "task 'clustering'"),
    ({"task": "regression"}, "a regression run has 1 output, not 2"),
    ({"fill": [1.0]}, "'fill' has 1 values for 2 features"),
])
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_metadata_edited_out_of_step_with_the_model_is_one_line(finished, tmp_path, edit, fragment, command):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    doc = json.loads((run / "state.json").read_text())
    doc["state"]["metadata"].update(edit)
    (run / "state.json").write_text(json.dumps(doc))
    extra = ["--data", small_csv(tmp_path / "new.csv"), "--output", tmp_path / "p.csv"] if command == "predict" else []
    one_line_error(gg(command, run, *extra), f"{run / 'state.json'}", fragment)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Path:
    """A run killed in its second epoch (a checkpoint of epoch 1 to resume from)."""
    root = tmp_path_factory.mktemp("interrupted")
    run = root / "run"
    r = gg("train", "--data", small_csv(root / "t.csv"), *QUICK, "--epochs", "4", "--out", run,
           patch=KILL_AFTER_STEPS.format(steps=3))
    assert r.code == -9 and (run / "state.json").is_file(), r.err
    return run


@pytest.mark.parametrize(("edit", "fragment"), [
    ({"epoch": 999}, "epoch 999"),
    ({"epoch": -3}, "epoch -3"),
    ({"step": -1}, "step -1"),
    ({"scheduler": {"last_epoch": "x", "base_lrs": [0.002], "T_max": 4, "eta_min": 0.0}}, "scheduler"),
])
def test_resume_of_a_state_edited_out_of_range_is_one_line(interrupted, tmp_path, edit, fragment):
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    doc = json.loads((run / "state.json").read_text())
    doc["state"].update(edit)
    (run / "state.json").write_text(json.dumps(doc))
    one_line_error(gg("train", "--resume", run, "--quiet"), f"{run / 'state.json'}", fragment)


def test_numbers_written_with_separators_or_units_are_named_as_such(tmp_path):
    data = tmp_path / "sales.csv"
    rows = [["amount", "share", "grade", "label"]] + [
        [f"{1000 + 37 * i:,}", f"{i % 50}.5%", "AB"[i % 2], "yn"[i % 3 == 0]] for i in range(120)]
    data.write_text("".join(",".join(f'"{c}"' for c in row) + "\n" for row in rows))
    one_line_error(gg("train", "--data", data, "--quiet"), str(data), "'amount' (e.g. '1,000')",
                   "'share' (e.g. '0.5%')", "plain numbers")

"""The graphgrad command end to end, and every kind of bad input it must answer in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphgrad import cli
from graphgrad.io import load_checkpoint

SMALL = ["--epochs", "2", "--hidden", "32", "--quiet"]


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(argv, capsys, *fragments):
    code, out, err = run(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphgrad: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_csv(path: Path, n=60, seed=0, text=None):
    """A small 3-feature, 2-class table (or ``text`` as is)."""
    if text is None:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
        lines = ["a,b,c,label"] + [f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{lab}" for r, lab in zip(x, y)]
        text = "\n".join(lines) + "\n"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------ end to end
def test_train_digits_then_evaluate(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, err = run(["train", *SMALL, "--out", str(out_dir)], capsys)
    assert code == 0, err
    assert "test accuracy" in out and f"run saved in {out_dir}" in out
    acc = float(out.split("test accuracy ")[1].split("%")[0])
    assert acc > 80.0
    assert {"state.json", "metrics.csv", "metrics.json", "curves.png", "summary.json"} <= set(os.listdir(out_dir))
    state = load_checkpoint(out_dir, groups=["model"]).state
    assert state["finished"] and state["epoch"] == 2 and state["config"]["hidden"] == [32]
    assert len(state["metadata"]["target_names"]) == 10 and state["metadata"]["standardizer"]["mean"]
    code, out, err = run(["evaluate", str(out_dir)], capsys)
    assert code == 0 and f"accuracy {acc:.2f}%" in out and "test split" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["test"]["accuracy"] == pytest.approx(acc / 100, abs=1e-4)
    names = state["metadata"]["feature_names"]  # a CSV of digits rows, by feature name, without the target
    rows = [",".join(names)] + [",".join(["0"] * 64), ",".join(["16"] * 64)]
    csv_file = write_csv(tmp_path / "digits.csv", text="\n".join(rows) + "\n")
    code, out, err = run(["predict", str(out_dir), "--data", str(csv_file)], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("prediction,p_0,p_1") and len(lines) == 3 and lines[1].split(",")[0] in "0123456789"
    wrong = write_csv(tmp_path / "wrong.csv", text="a,b\n1,2\n")
    assert_user_error(["predict", str(out_dir), "--data", str(wrong)], capsys, "wrong.csv", "columns differ")


def test_train_csv_then_evaluate_and_predict(tmp_path, capsys):
    data = write_csv(tmp_path / "t.csv")
    out_dir = tmp_path / "run"
    code, out, err = run(["train", "--data", str(data), "--target", "label", *SMALL, "--out", str(out_dir)], capsys)
    assert code == 0, err
    code, out, err = run(["evaluate", str(out_dir), "--data", str(data)], capsys)
    assert code == 0 and "on 60 examples" in out, err
    code, out, err = run(["predict", str(out_dir), "--data", str(data)], capsys)
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0] == "prediction,p_no,p_yes" and len(rows) == 61
    first = rows[1].split(",")
    assert first[0] in ("no", "yes") and float(first[1]) + float(first[2]) == pytest.approx(1.0, abs=1e-5)
    target = tmp_path / "pred.csv"
    code, out, err = run(["predict", str(out_dir), "--data", str(data), "--output", str(target)], capsys)
    assert code == 0 and target.read_text().splitlines() == rows


def test_regression_reports_r2(tmp_path, capsys):
    code, out, err = run(["train", "--dataset", "diabetes", *SMALL, "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert "test R^2" in out and "test accuracy" not in out
    code, out, err = run(["evaluate", str(tmp_path / "r")], capsys)
    assert code == 0 and out.startswith("RMSE ") and " MAE " in out and " R^2 " in out


def test_config_file_and_options_override_it(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[train]\nhidden = [8]\nepochs = 3\noptimizer = "sgd"\nlr = 0.05\nschedule = "step"\n')
    code, out, err = run(["train", "--config", str(cfg), "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")],
                         capsys)
    assert code == 0, err
    config = load_checkpoint(tmp_path / "r", groups=[]).state["config"]
    assert config["hidden"] == [8] and config["epochs"] == 1 and config["optimizer"] == "sgd"


def _interrupt_after_first_epoch(monkeypatch):
    from graphgrad.train.progress import ProgressBar

    def on_epoch_end(self, trainer, logs):
        if trainer.epoch == 1:
            trainer.interrupt()

    monkeypatch.setattr(ProgressBar, "on_epoch_end", on_epoch_end)


def test_interrupted_run_resumes_to_identical_weights(tmp_path, capsys, monkeypatch):
    args = ["--epochs", "3", "--hidden", "16", "--dropout", "0.2", "--quiet", "--batch-size", "64"]
    code, out, err = run(["train", *args, "--out", str(tmp_path / "straight")], capsys)
    assert code == 0, err
    _interrupt_after_first_epoch(monkeypatch)
    code, out, err = run(["train", *args, "--out", str(tmp_path / "cut")], capsys)
    assert code == 130 and f"graphgrad train --resume {tmp_path / 'cut'}" in err
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "cut", groups=[]).state["epoch"] == 1
    code, out, err = run(["train", "--resume", str(tmp_path / "cut"), "--quiet"], capsys)
    assert code == 0 and "resumed" in out, err
    a = load_checkpoint(tmp_path / "straight", groups=["model"]).groups["model"]
    b = load_checkpoint(tmp_path / "cut", groups=["model"]).groups["model"]
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_python_dash_m_runs_in_a_subprocess(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "graphgrad", "train", "--epochs", "1", "--quiet",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and (tmp_path / "r" / "state.json").exists()


# ------------------------------------------------------------------------------ bad input
def test_missing_data_file(tmp_path, capsys):
    assert_user_error(["train", "--data", str(tmp_path / "nope.csv")], capsys, "nope.csv")


def test_ragged_row(tmp_path, capsys):
    p = write_csv(tmp_path / "r.csv", text="a,b,label\n1,2,0\n3,4\n5,6,1\n")
    assert_user_error(["train", "--data", str(p)], capsys, "r.csv", "line 3")


def test_non_numeric_cell_names_file_line_and_column(tmp_path, capsys):
    rows = "\n".join(f"{i},{i % 3},{i % 2}" for i in range(20))
    p = write_csv(tmp_path / "n.csv", text=f"a,b,label\n{rows}\n7,oops,1\n")
    assert_user_error(["train", "--data", str(p)], capsys, "n.csv", "line 22", "'b'")


def test_unknown_target_lists_the_columns(tmp_path, capsys):
    p = write_csv(tmp_path / "t.csv")
    assert_user_error(["train", "--data", str(p), "--target", "colour"], capsys, "'colour'", "a, b, c, label")


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_or_inf_in_data(tmp_path, capsys, bad):
    p = write_csv(tmp_path / "x.csv", text=f"a,b,label\n1,2,0\n3,{bad},1\n5,6,1\n")
    assert_user_error(["train", "--data", str(p)], capsys, "x.csv", "line 3")


@pytest.mark.parametrize("option, value, valid", [
    ("--dataset", "mnist2", "digits"),
    ("--optimizer", "adamax", "sgd, adam"),
    ("--activation", "swish", "relu, leaky_relu"),
    ("--schedule", "linear", "step, exp, cosine"),
])
def test_unknown_names_list_the_valid_ones(capsys, option, value, valid):
    assert_user_error(["train", option, value, "--quiet"], capsys, repr(value), valid)


@pytest.mark.parametrize("option, value", [("--lr", "0"), ("--lr", "-0.1"), ("--batch-size", "0"),
                                           ("--batch-size", "-4"), ("--epochs", "0")])
def test_non_positive_settings(capsys, option, value):
    assert_user_error(["train", option, value, "--quiet"], capsys, option.lstrip("-"), value)


def test_bad_option_and_bad_toml(tmp_path, capsys):
    assert_user_error(["train", "--lr", "fast"], capsys, "--lr")
    assert_user_error(["train", "--no-such-option"], capsys, "--no-such-option")
    cfg = tmp_path / "c.toml"
    cfg.write_text("epochs = 2\nlearning_rate = 0.1\n")
    assert_user_error(["train", "--config", str(cfg)], capsys, "learning_rate", "valid settings")
    cfg.write_text("epochs = = 2\n")
    assert_user_error(["train", "--config", str(cfg)], capsys, "c.toml", "invalid TOML")


def test_an_expression_starting_with_a_minus_is_shown_where_it_goes(capsys):
    assert_user_error(["explain", "-x**2", "--at", "x=3"], capsys, "unrecognized arguments: -x**2",
                      "goes after '--': graphgrad explain [options] -- '-x**2'")
    line = assert_user_error(["train", "--no-such-option"], capsys, "--no-such-option")
    assert "goes after" not in line  # a misspelt option is not an expression
    assert cli.main(["explain", "--at", "x=3", "--", "-x**2"]) == 0
    assert "value: -9" in capsys.readouterr().out


def test_run_directory_that_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hi")
    assert_user_error(["evaluate", str(tmp_path)], capsys, "not a graphgrad run directory")
    assert_user_error(["train", "--resume", str(tmp_path)], capsys, "not a graphgrad run directory")
    assert_user_error(["predict", str(tmp_path / "missing"), "--data", "x.csv"], capsys, "no such run directory")


def test_tampered_run_is_refused(tmp_path, capsys):
    assert run(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", str(tmp_path / "r")], capsys)[0] == 0
    model = next((tmp_path / "r").glob("model-*.safetensors"))
    model.write_bytes(model.read_bytes()[:-8])
    assert_user_error(["evaluate", str(tmp_path / "r")], capsys, model.name, "sha256")


def test_existing_run_is_not_overwritten(tmp_path, capsys):
    assert run(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", str(tmp_path / "r")], capsys)[0] == 0
    assert_user_error(["train", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")], capsys, "--resume")
    assert_user_error(["train", "--resume", str(tmp_path / "r"), "--epochs", "3"], capsys, "drop --epochs")
    assert_user_error(["train", "--resume", str(tmp_path / "r"), "--lr", "0.1"], capsys,
                      "the run has finished all 1 epochs; --lr has nothing to continue")


def test_nan_loss_stops_with_epoch_and_step(tmp_path, capsys):
    line = assert_user_error(["train", "--dataset", "diabetes", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3",
                              "--quiet", "--out", str(tmp_path / "r")], capsys, "diverged", "at epoch ", "step ")
    assert "Traceback" not in line


def test_missing_subcommand_module_says_so(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_EXTERNAL", (("explain", "graphgrad.no_such_module", "a", "b"),
                                           ("bench", "graphgrad.benchmarks.cli", "add_bench_arguments", "run_bench")))
    assert_user_error(["explain", "x"], capsys, "explain is not available")


def test_a_bug_in_graphgrad_still_raises(monkeypatch):
    def broken(args):
        raise RuntimeError("bug")

    monkeypatch.setitem(cli._COMMANDS, "train", broken)
    with pytest.raises(RuntimeError, match="bug"):
        cli.main(["train"])


@pytest.mark.parametrize("extra", [
    ["--optimizer", "sgd", "--momentum", "0.9", "--schedule", "plateau", "--patience", "2"],
    ["--optimizer", "rmsprop", "--schedule", "exp", "--l2", "1e-4", "--activation", "tanh"],
    ["--optimizer", "adagrad", "--lr", "0.05", "--schedule", "step", "--dropout", "0.1"],
    ["--optimizer", "adamw", "--weight-decay", "0.01", "--schedule", "none", "--activation", "gelu"],
])
def test_options_reach_the_saved_run(tmp_path, capsys, extra):
    argv = ["train", "--dataset", "iris", "--epochs", "3", "--hidden", "8", "--quiet", "--out", str(tmp_path / "r")]
    code, out, err = run([*argv, *extra], capsys)
    assert code == 0, err
    state = load_checkpoint(tmp_path / "r", groups=[]).state
    config = state["config"]
    for flag, value in zip(extra[::2], extra[1::2]):
        saved = config[flag[2:].replace("-", "_")]
        assert str(saved) == value or saved == pytest.approx(float(value)), (flag, saved)
    assert ("early_stopping" in state["callbacks"]) == ("--patience" in extra)

"""Issue 14, part 1: messy data through the real command (a subprocess each): the task decision,
columns that are not features, missing values, splits and class weights, evaluation reports,
regression in the target's units, and a command that explains itself."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from graphgrad.io import load_checkpoint
from tests.cliproc import gg, one_line_error

QUICK = ["--epochs", "2", "--hidden", "16", "--quiet"]


def table(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def visits_csv(path: Path, n: int = 300, distinct: int = 78) -> Path:
    """An integer count target with ``distinct`` values that depends on two features."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    visits = np.clip(np.round((x[:, 0] + 2.5) * distinct / 5), 0, distinct - 1).astype(int)
    visits[:distinct] = np.arange(distinct)  # every count occurs
    return table(path, ["age", "income", "visits"], [[f"{a:.3f}", f"{b:.3f}", int(v)] for (a, b), v in zip(x, visits)])


# ------------------------------------------------------------------------------ 1. the task
def test_integer_target_with_many_values_is_regression_and_says_why(tmp_path):
    data = visits_csv(tmp_path / "survey.csv")
    r = gg("train", "--data", data, *QUICK, "--out", tmp_path / "auto")
    assert r.code == 0, r.err
    assert "target 'visits': 78 distinct integers (more than 20) -> regression; --task to override" in r.out
    assert "test R^2" in r.out and "accuracy" not in r.out
    r = gg("train", "--data", data, "--task", "classification", *QUICK, "--out", tmp_path / "forced")
    assert r.code == 0 and "target 'visits': classification (chosen with --task)" in r.out and "test accuracy" in r.out
    meta = load_checkpoint(tmp_path / "forced", groups=[]).state["metadata"]
    assert meta["task"] == "classification" and meta["n_outputs"] == 78
    toml = tmp_path / "c.toml"
    toml.write_text(f'data = "{data}"\ntask = "regression"\nepochs = 1\nhidden = [8]\n')
    r = gg("train", "--config", toml, "--quiet", "--out", tmp_path / "toml")
    assert r.code == 0 and "(chosen with --task)" in r.out and "test R^2" in r.out
    small = table(tmp_path / "grades.csv", ["x", "grade"], [[i % 7, i % 5] for i in range(60)])
    r = gg("train", "--data", small, *QUICK, "--out", tmp_path / "few")
    assert "target 'grade': 5 distinct integers (at most 20) -> classification" in r.out


# ------------------------------------------------------------------------------ 2. columns
def cars(path: Path, n: int = 120) -> Path:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        w = rng.normal(3000, 500)
        origin = "USA" if w > 3100 else rng.choice(["Europe", "Japan"])
        rows.append([f"car model {i}", f"{w:.0f}", f"{rng.normal(15, 2):.1f}", f"19{70 + i % 12}-01-01", origin])
    return table(path, ["name", "weight", "accel", "year", "origin"], rows)


def test_identifier_and_date_columns_are_refused_naming_them_and_the_option(tmp_path):
    data = cars(tmp_path / "cars.csv")
    one_line_error(gg("train", "--data", data, *QUICK, "--out", tmp_path / "r"),
                   "columns that look like identifiers: 'name' (120 distinct values in 120 rows); "
                   "like dates: 'year'", "--drop name,year", "--features")
    assert not (tmp_path / "r").exists()
    r = gg("train", "--data", data, "--drop", "name,year", *QUICK, "--out", tmp_path / "r")
    assert r.code == 0, r.err
    meta = load_checkpoint(tmp_path / "r", groups=[]).state["metadata"]
    assert meta["feature_names"] == ["weight", "accel"]
    r = gg("train", "--data", data, "--features", "accel", *QUICK, "--out", tmp_path / "f")
    assert r.code == 0 and load_checkpoint(tmp_path / "f", groups=[]).state["metadata"]["feature_names"] == ["accel"]
    one_line_error(gg("train", "--data", data, "--drop", "colour", *QUICK), "no column named 'colour'",
                   "the columns are: name, weight")


def test_integer_columns_that_number_the_rows_are_refused_unless_chosen(tmp_path):
    rng = np.random.default_rng(4)
    # 'x' and 'user_id' count too, but 'x' is not named like an identifier and 'user_id' counts down
    rows = [[i + 1, i, 60 - i, f"{rng.normal():.3f}", i % 2] for i in range(60)]
    data = table(tmp_path / "t.csv", ["PassengerId", "x", "user_id", "z", "label"], rows)
    one_line_error(gg("train", "--data", data, *QUICK, "--out", tmp_path / "r"),
                   "columns that look like row numbers: 'PassengerId' (1 to 60)", "--drop PassengerId")
    assert not (tmp_path / "r").exists()
    r = gg("train", "--data", data, "--drop", "PassengerId", *QUICK, "--out", tmp_path / "d")
    assert r.code == 0, r.err
    r = gg("train", "--data", data, "--features", "PassengerId,x", *QUICK, "--out", tmp_path / "f")
    assert r.code == 0, r.err
    saved_index = table(tmp_path / "i.csv", ["", "x", "label"], [[i, i * 0.5, i % 2] for i in range(30)])
    one_line_error(gg("train", "--data", saved_index, *QUICK, "--out", tmp_path / "i"),
                   "like row numbers: 'column_1' (0 to 29)", "--drop column_1")
    short = table(tmp_path / "s.csv", ["id", "x", "label"], [[i, i * 0.5, i % 2] for i in range(19)])
    assert gg("train", "--data", short, *QUICK, "--out", tmp_path / "s").code == 0


def test_forty_thousand_distinct_values_are_refused_quickly(tmp_path):
    rows = [[f"id-{i:05d}", i % 3, "abc"[i % 3]] for i in range(40_000)]
    data = table(tmp_path / "ids.csv", ["id", "x", "label"], rows)
    r = gg("train", "--data", data, *QUICK, timeout=60)
    one_line_error(r, "'id' (40000 distinct values in 40000 rows)", "--drop id")


def test_unseen_category_encodes_as_zeros_with_a_count(tmp_path):
    rng = np.random.default_rng(2)
    rows = [[c, f"{rng.normal():.3f}", "yes" if c == "red" else "no"] for c in rng.choice(["red", "blue"], 80)]
    data = table(tmp_path / "t.csv", ["colour", "x", "label"], rows)
    assert gg("train", "--data", data, *QUICK, "--out", tmp_path / "r").code == 0
    new = table(tmp_path / "new.csv", ["x", "colour"], [["0.1", "red"], ["0.2", "green"], ["0.3", "purple"]])
    r = gg("predict", tmp_path / "r", "--data", new)
    assert r.code == 0, r.err
    assert len(r.out.strip().splitlines()) == 4
    assert "2 cells had a category not seen in training (encoded as all zeros): colour 2" in r.err


# ------------------------------------------------------------------------------ 3. missing values
def penguin_like(path: Path) -> Path:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(120):
        sp = "Adelie" if i % 2 else "Gentoo"
        bill = f"{rng.normal(40 if sp == 'Adelie' else 48, 2):.1f}"
        sex = rng.choice(["male", "female"])
        rows.append([bill, sex, sp])
    rows[3][0], rows[10][0] = "NA", ""      # number column: NA and empty
    rows[5][1], rows[6][1], rows[7][1] = "null", "?", "NaN"  # text column: three other tokens
    return table(path, ["bill", "sex", "species"], rows)


def test_missing_values_are_counted_per_column_dropped_or_filled(tmp_path):
    data = penguin_like(tmp_path / "p.csv")
    one_line_error(gg("train", "--data", data, *QUICK), "5 missing value(s) in 2 column(s): 'bill' 2, 'sex' 3",
                   "line 5, column 'bill'", "--missing drop", "--missing fill")
    r = gg("train", "--data", data, "--missing", "drop", *QUICK, "--out", tmp_path / "d")
    assert r.code == 0 and "left out 5 rows with missing values" in r.out
    assert sum(load_checkpoint(tmp_path / "d", groups=[]).state["metadata"]["split_sizes"].values()) == 115
    r = gg("train", "--data", data, "--missing", "fill", *QUICK, "--out", tmp_path / "f")
    assert r.code == 0 and "filled missing cells" in r.out and "bill 2, sex 3" in r.out
    meta = load_checkpoint(tmp_path / "f", groups=[]).state["metadata"]
    # the fill values are the training split's statistics, computed here by hand
    from graphgrad.data import load_csv, stratified_split
    from graphgrad.train.config import TrainConfig
    from graphgrad.train.experiment import rng_for
    bundle = load_csv(data, "species", missing="fill")
    train = stratified_split(bundle.y, 0.2, 0.1, seed=rng_for(TrainConfig().seed, "split")).train
    bills = bundle.X[train, 0]
    sexes = bundle.X[train, 1:3]
    assert meta["fill"][0] == pytest.approx(float(np.nanmean(bills.astype(np.float64))), rel=1e-6)
    counts = np.nansum(sexes, axis=0)
    assert meta["fill"][1:3] == [1.0 if k == int(np.argmax(counts)) else 0.0 for k in range(2)]
    assert meta["feature_names"] == ["bill", "sex=female", "sex=male"]
    new = table(tmp_path / "new.csv", ["bill", "sex"], [["NA", "male"], ["41", ""]])
    r = gg("predict", tmp_path / "f", "--data", new)
    assert r.code == 0 and all(line.split(",")[0] in ("Adelie", "Gentoo") for line in r.out.splitlines()[1:])
    r = gg("predict", tmp_path / "d", "--data", new)  # a run that drops rows: those rows get empty cells
    assert r.code == 0 and r.out.splitlines()[1:] == [",,", ",,"] and "2 rows have missing values" in r.err


# ------------------------------------------------------------------------------ 4. splits, imbalance, reports
def imbalanced(path: Path) -> Path:
    rng = np.random.default_rng(4)
    rows = []
    for i in range(400):
        label = "rare" if i % 10 == 0 else "common" if i % 3 else "middle"
        centre = {"rare": 2.0, "common": 0.0, "middle": -1.5}[label]
        rows.append([f"{rng.normal(centre, 0.8):.3f}", f"{rng.normal():.3f}", label])
    return table(path, ["a", "b", "label"], rows)


def test_split_sizes_class_weights_and_the_evaluation_report(tmp_path):
    skm = pytest.importorskip("sklearn.metrics")
    data = imbalanced(tmp_path / "imb.csv")
    r = gg("train", "--data", data, "--test-size", "0.25", "--val-size", "0.15", "--class-weight", "balanced",
           *QUICK, "--out", tmp_path / "r")
    assert r.code == 0, r.err
    assert "240 train / 60 validation / 100 test examples" in r.out
    meta = load_checkpoint(tmp_path / "r", groups=[]).state["metadata"]
    # the file has 240 'common', 120 'middle', 40 'rare' rows; a stratified 60% of each is trained on
    train_counts = np.array([144, 72, 24])
    want = 240 / (3 * train_counts)
    assert meta["target_names"] == ["common", "middle", "rare"]
    assert meta["class_weights"] == pytest.approx(want.tolist(), rel=1e-9)
    r = gg("evaluate", tmp_path / "r")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "r" / "evaluation" / "test" / "metrics.json").read_text())
    # the report against scikit-learn's metrics on the same predictions
    from graphgrad.train import load_run
    from graphgrad.train.experiment import prepare_data
    run = load_run(tmp_path / "r")
    x, y = prepare_data(run.config).test
    pred = np.argmax(run.outputs(x), axis=1)
    p, rec, f1, support = skm.precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    assert report["precision"] == pytest.approx(p.tolist()) and report["recall"] == pytest.approx(rec.tolist())
    assert report["f1"] == pytest.approx(f1.tolist()) and report["support"] == support.tolist()
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()
    assert report["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert f"balanced accuracy {report['balanced_accuracy']:.2%}" in r.out and "rare" in r.out
    folder = tmp_path / "r" / "evaluation" / "test"
    assert (folder / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.reader(open(folder / "confusion_matrix.csv")))
    assert rows[0] == ["true \\ predicted", "common", "middle", "rare"]
    assert [list(map(int, r[1:])) for r in rows[1:]] == report["confusion_matrix"]


# ------------------------------------------------------------------------------ 5. regression units
def test_regression_reports_rmse_mae_r2_in_target_units_even_near_1e30(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 2))
    y = 2e30 + 1e29 * (x[:, 0] - 0.5 * x[:, 1])
    data = table(tmp_path / "huge.csv", ["a", "b", "y"], [[f"{u:.4f}", f"{v:.4f}", f"{t:.6e}"]
                                                           for (u, v), t in zip(x, y)])
    r = gg("train", "--data", data, "--epochs", "40", "--hidden", "none", "--lr", "0.05", "--quiet",
           "--out", tmp_path / "r")
    assert r.code == 0, r.err
    r = gg("evaluate", tmp_path / "r")
    report = json.loads((tmp_path / "r" / "evaluation" / "test" / "metrics.json").read_text())
    assert r.code == 0 and f"RMSE {report['rmse']:.6g}  MAE {report['mae']:.6g}" in r.out
    assert 1e20 < report["rmse"] < 2e28 and report["r2"] > 0.9  # in the target's units, not standardized
    assert report["mae"] <= report["rmse"]
    r = gg("predict", tmp_path / "r", "--data", data)
    values = np.array([float(v) for v in r.out.splitlines()[1:]])
    assert np.isfinite(values).all() and np.abs(values / 2e30 - 1).max() < 0.5
    rmse_all = float(np.sqrt(np.mean((values - y) ** 2)))
    assert rmse_all == pytest.approx(report["rmse"], rel=0.5)  # same scale on all rows as on the test split


# ------------------------------------------------------------------------------ 6. the command explains itself
def test_options_are_never_abbreviated(tmp_path):
    one_line_error(gg("train", "--epo", "2"), "unrecognized arguments: --epo 2")
    one_line_error(gg("train", "--drop-out", "0.1"), "unrecognized arguments")


def test_help_shows_defaults_and_how_columns_are_treated():
    r = gg("train", "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    for fragment in ["(default: 256,128", "(default: adam)", "(default: 0.002)", "(default: 32)",
                     "(default: 20)", "(default: cosine)", "(default: 0.2)", "(default: 0.1)", "(default: auto",
                     "how CSV columns are treated", "NA, NaN, null, ?", "at most 20 distinct integers",
                     "relu, leaky_relu", "sgd, adam, adamw, rmsprop, adagrad", "(default: mlp)"]:
        assert fragment in text, fragment


def test_progress_is_one_line_per_epoch_when_not_a_terminal(tmp_path):
    data = imbalanced(tmp_path / "imb.csv")
    r = gg("train", "--data", data, "--epochs", "3", "--hidden", "8", "--out", tmp_path / "r")
    assert r.code == 0, r.err
    assert "\r" not in r.err
    lines = [line for line in r.err.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"] and len(r.err) < 1000

"""Real public tables that ship inside installable packages, trained, evaluated and predicted on
through the real command, against scikit-learn's MLP with equal settings on the same split.

- penguins (package ``palmerpenguins``): missing values (NA) in numbers and text, a text label;
- Seattle weather (package ``vega_datasets``): a date column, five imbalanced text labels;
- cars (``vega_datasets``, its JSON written out as CSV): a name column (an identifier), a date
  column, nulls, a text label;
- diabetes (scikit-learn's raw files): an integer target with 214 distinct values (regression).

Equal settings: hidden 64,32, ReLU, Adam lr 2e-3 constant, batch 32, 20 epochs, no penalty. The
margin: graphgrad's test accuracy at most 6 points below scikit-learn's (R^2 at most 0.1 below);
test splits have 69-292 rows, so one row is 0.3-1.5 points. ``python -m tests.realdata.test_real_datasets``
prints the comparison table with timings.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.cliproc import gg, one_line_error

SETTINGS = ["--hidden", "64,32", "--optimizer", "adam", "--lr", "0.002", "--schedule", "none", "--batch-size", "32",
            "--epochs", "20", "--quiet"]
MARGIN = {"accuracy": 0.06, "r2": 0.10}


def package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.is_file() else None


def penguins(tmp: Path) -> Path | None:
    return package_file("palmerpenguins", "data", "penguins.csv")


def weather(tmp: Path) -> Path | None:
    return package_file("vega_datasets", "_data", "seattle-weather.csv")


def cars(tmp: Path) -> Path | None:
    src = package_file("vega_datasets", "_data", "cars.json")
    if src is None:
        return None
    rows = json.loads(src.read_text())
    out = tmp / "cars.csv"
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(rows[0]))
        w.writerows([["" if v is None else v for v in r.values()] for r in rows])
    return out


def diabetes(tmp: Path) -> Path | None:
    x_file = package_file("sklearn", "datasets", "data", "diabetes_data_raw.csv.gz")
    y_file = package_file("sklearn", "datasets", "data", "diabetes_target.csv.gz")
    if x_file is None or y_file is None:
        return None
    x = np.loadtxt(gzip.open(x_file))
    y = np.loadtxt(gzip.open(y_file))
    out = tmp / "diabetes.csv"
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "progression"])
        w.writerows([[f"{v:g}" for v in row] + [int(t)] for row, t in zip(x, y)])
    return out


# name, file maker, options, metric, what the file is known to need
DATASETS = [
    ("penguins", penguins, ["--target", "species", "--missing", "fill"], "accuracy"),
    ("seattle-weather", weather, ["--target", "weather", "--drop", "date"], "accuracy"),
    ("cars", cars, ["--target", "Origin", "--drop", "Name,Year", "--missing", "drop"], "accuracy"),
    ("diabetes", diabetes, ["--target", "progression"], "r2"),
]


def sklearn_score(run_dir: Path, metric: str, seed: int = 0) -> tuple[float, float]:
    """scikit-learn's MLP with the run's settings, on the run's own encoded split: (score, seconds)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from graphgrad.train.experiment import prepare_data, read_run_config

    _, config = read_run_config(run_dir)
    data = prepare_data(config)
    (xtr, ytr), (xte, yte) = data.train, data.test
    kind = MLPClassifier if metric == "accuracy" else MLPRegressor
    model = kind(hidden_layer_sizes=tuple(config.hidden), activation="relu", solver="adam",
                 learning_rate_init=config.lr, batch_size=config.batch_size, max_iter=config.epochs, alpha=0.0,
                 random_state=seed, n_iter_no_change=config.epochs + 1, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(xtr, ytr if metric == "accuracy" else ytr.ravel())
        seconds = time.perf_counter() - start
    return float(model.score(xte, yte if metric == "accuracy" else yte.ravel())), seconds


@pytest.mark.parametrize(("name", "maker", "options", "metric"), DATASETS, ids=[d[0] for d in DATASETS])
def test_real_dataset_end_to_end_within_margin_of_sklearn(tmp_path, name, maker, options, metric):
    pytest.importorskip("sklearn")
    data = maker(tmp_path)
    if data is None:
        pytest.skip(f"the package that ships {name} is not installed")
    run = tmp_path / "run"
    if "--drop" in options:  # without --drop the identifier / date columns are refused, by name
        i = options.index("--drop")
        rest = options[:i] + options[i + 2:]
        one_line_error(gg("train", "--data", data, *rest, *SETTINGS), "--drop " + options[i + 1])
    r = gg("train", "--data", data, *options, *SETTINGS, "--out", run)
    assert r.code == 0, r.err
    summary = json.loads((run / "summary.json").read_text())
    ours = summary["test"][metric]
    theirs, _ = sklearn_score(run, metric)
    assert ours >= theirs - MARGIN[metric], (name, ours, theirs)
    r = gg("evaluate", run)
    assert r.code == 0, r.err
    report = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert report[metric] == pytest.approx(ours, abs=1e-6)
    r = gg("predict", run, "--data", data, "--output", tmp_path / "p.csv")
    assert r.code == 0, r.err
    predictions = list(csv.reader(open(tmp_path / "p.csv")))
    n_rows = sum(1 for _ in csv.reader(open(data))) - 1
    assert len(predictions) == n_rows + 1  # one per row, rows with gaps included (empty when not filled)
    if metric == "r2":
        meta_reason = json.loads((run / "state.json").read_text())["state"]["metadata"]["task_reason"]
        assert meta_reason == "target 'progression': 214 distinct integers (more than 20) -> regression; " \
                              "--task to override"


def table(repeats: int = 3) -> None:
    """Print graphgrad vs scikit-learn on every dataset: test metric and median seconds of ``repeats``
    (graphgrad: its training steps, and the whole run with data loading, a checkpoint per epoch and
    the plot; scikit-learn: ``fit`` alone)."""
    import tempfile

    from graphgrad.cli import _train_config, build_parser
    from graphgrad.train.experiment import start_run

    print("| dataset | rows | metric | graphgrad | scikit-learn | graphgrad steps s | graphgrad run s "
          "| scikit-learn fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, maker, options, metric in DATASETS:
        with tempfile.TemporaryDirectory() as tmp:
            data = maker(Path(tmp))
            if data is None:
                print(f"| {name} | not installed |")
                continue
            ours, times, steps, theirs, their_times = [], [], [], [], []
            for k in range(repeats):
                args = build_parser().parse_args(["train", "--data", str(data), *options, *SETTINGS])
                config = _train_config(args)
                start = time.perf_counter()
                result = start_run(config, Path(tmp) / f"run{k}", quiet=True)
                times.append(time.perf_counter() - start)
                steps.append(result.seconds)
                ours.append(result.test[metric])
                score, seconds = sklearn_score(Path(tmp) / f"run{k}", metric)
                theirs.append(score)
                their_times.append(seconds)
            rows = sum(result.metadata["split_sizes"].values())
            fmt = (lambda v: f"{v:.2%}") if metric == "accuracy" else (lambda v: f"{v:.3f}")
            print(f"| {name} | {rows} | {metric} | {fmt(float(np.median(ours)))} | {fmt(float(np.median(theirs)))} "
                  f"| {np.median(steps):.2f} | {np.median(times):.2f} | {np.median(their_times):.2f} |")


if __name__ == "__main__":
    table(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

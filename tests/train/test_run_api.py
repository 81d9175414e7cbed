"""Issue 14, part 3: one table per choice, a trainer that knows callbacks only by their interface,
per-parameter norms in the history, integer epoch ticks, one name per concept, and load_run."""

from __future__ import annotations

import ast
import csv
import inspect
import math
from pathlib import Path

import numpy as np
import pytest

import graphgrad.io as gio
from graphgrad import cli, nn, optim
from graphgrad.data import DataLoader, TensorDataset
from graphgrad.errors import ConfigError
from graphgrad.train import Callback, Trainer, load_run, plot_history, registry
from graphgrad.train import trainer as trainer_module
from graphgrad.train.config import TrainConfig
from graphgrad.train.experiment import prepare_data, start_run


def _csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "colour", "label"])
        for _ in range(90):
            a, b = rng.normal(size=2)
            w.writerow([f"{a:.3f}", f"{b:.3f}", rng.choice(["red", "blue"]), "yes" if a + b > 0 else "no"])
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("api")
    config = TrainConfig(data=str(_csv(root / "t.csv")), target="label", hidden=[8], epochs=3)
    start_run(config, root / "run", quiet=True)
    return root / "run"


# ------------------------------------------------------------------------------ 12. one table per choice
def test_one_table_per_choice_drives_validation_help_and_building(monkeypatch, tmp_path):
    from graphgrad.train import config as config_module

    assert config_module.OPTIMIZERS == tuple(registry.OPTIMIZERS)
    assert config_module.ACTIVATIONS == tuple(registry.ACTIVATIONS)
    with pytest.raises(ConfigError, match="unknown optimizer 'lbfgs'; valid: sgd, adam, adamw, rmsprop, adagrad"):
        TrainConfig(optimizer="lbfgs").validate()
    src = inspect.getsource(config_module) + inspect.getsource(cli)
    assert '"leaky_relu"' not in src and '"rmsprop"' not in src and '"plateau"' not in src  # only in the tables
    seen = {}

    def linear(input_shape, n_outputs, config, rngs):  # a new model is one table entry
        seen.update(shape=input_shape, outputs=n_outputs, hidden=config.hidden)
        return nn.Sequential(nn.Linear(int(np.prod(input_shape)), n_outputs, rng=rngs["init"]))

    monkeypatch.setitem(registry.MODELS, "linear", linear)
    monkeypatch.setattr(config_module, "MODELS", tuple(registry.MODELS))
    result = start_run(TrainConfig(model="linear", epochs=1), tmp_path / "r", quiet=True)
    assert seen == {"shape": (1, 8, 8), "outputs": 10, "hidden": [256, 128]}  # digits keep their image shape
    assert result.test["accuracy"] > 0.5
    assert load_run(tmp_path / "r").input_shape == (1, 8, 8)


# ------------------------------------------------------------------------------ 13. callbacks by interface
def test_trainer_does_not_know_concrete_callbacks():
    tree = ast.parse(inspect.getsource(trainer_module))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not names & {"Checkpoint", "EarlyStopping", "ProgressBar", "hasattr", "ReduceLROnPlateau"}


def _small_trainer(callbacks=(), scheduler=None, epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 5, rng=np.random.default_rng(1)), nn.ReLU(),
                          nn.Linear(5, 2, rng=np.random.default_rng(2)))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=np.random.default_rng(3))
    return Trainer(model, opt, nn.CrossEntropyLoss(), loader, epochs=epochs, val_data=(x, y),
                   scheduler=scheduler(opt) if scheduler else None, callbacks=callbacks)


def test_a_callback_stops_training_through_the_trainer_and_any_scheduler_gets_metrics():
    class StopAtTwo(Callback):
        key = "stop_at_two"

        def on_epoch_end(self, trainer, logs):
            if trainer.epoch == 2:
                trainer.request_stop("enough after two epochs")

    seen = []

    class Recording(optim.lr_scheduler.StepLR):
        def step(self, metrics=None, epoch=None):
            seen.append(metrics)
            super().step(metrics, epoch)

    t = _small_trainer([StopAtTwo()], scheduler=lambda o: Recording(o, step_size=1, gamma=0.5))
    t.fit()
    assert t.epoch == 2 and t.stop_reason == "enough after two epochs" and t.finished
    assert seen[1:] == [row["val_loss"] for row in t.history]  # seen[0]: the constructor's step


def test_history_rows_hold_lr_and_per_parameter_norms():
    t = _small_trainer(epochs=2)
    t.fit()
    last = t.history[-1]
    for name, p in t.model.named_parameters():
        assert last[f"weight_norm/{name}"] == pytest.approx(float(np.linalg.norm(p.data.astype(np.float64))))
        assert last[f"grad_norm/{name}"] == pytest.approx(float(np.linalg.norm(p.grad.data.astype(np.float64))))
    assert last["lr"] == 0.1 and len([k for k in last if k.startswith("weight_norm/")]) == 4


def test_curves_have_ticks_at_whole_epochs_only(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5, "val_accuracy": 0.4}
            for e in (1, 2, 3)]
    plot_history(rows, tmp_path / "c.png")
    for ax in figures[0].axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    with pytest.raises(TypeError, match="the history rows come first"):
        plot_history(tmp_path / "c.png", rows)


# ------------------------------------------------------------------------------ 14. one name, load_run
def test_one_name_per_concept():
    assert not hasattr(gio, "Checkpoint") and hasattr(gio, "LoadedCheckpoint")


def test_load_run_predicts_like_the_command_with_the_librarys_softmax(run_dir, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    run = load_run(run_dir)
    assert run.class_names == ["no", "yes"] and run.task == "classification"
    assert run.feature_names == ["a", "b", "colour=blue", "colour=red"]
    new = tmp_path / "new.csv"
    new.write_text("colour,b,a,id\nred,0.5,1.0,x1\nblue,-1,-2,x2\ngreen,0,0.1,x3\n")
    probs = run.predict_proba(new)
    logits = run.outputs(run.inputs(new))
    assert probs == pytest.approx(torch.softmax(torch.tensor(logits), dim=1).numpy(), rel=1e-6)
    assert "1 cells had a category not seen in training" in run.notes[0]
    assert list(run.predict(new)) == [run.class_names[k] for k in probs.argmax(axis=1)]
    assert cli.main(["predict", str(run_dir), "--data", str(new)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == list(run.predict(new))
    assert [float(v) for v in lines[1].split(",")[1:]] == pytest.approx(probs[0].tolist(), rel=1e-5)
    rows = np.array([[1.0, 0.5, 0.0, 1.0]])  # raw feature rows, as run.feature_names
    assert run.predict_proba(rows) == pytest.approx(probs[:1], rel=1e-6)


def test_load_run_keeps_the_helpers_the_report_uses(run_dir):
    from graphgrad.train.experiment import load_model, read_run_config

    model, config, meta = load_model(run_dir)
    _, config2 = read_run_config(run_dir)
    assert config == config2 and meta["n_features"] == 4 and not model.training
    x, y = prepare_data(config).test
    assert len(x) == len(y) == 18 and math.isfinite(float(x.sum()))

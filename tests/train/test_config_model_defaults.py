"""Per-model defaults: ``--model cnn`` gets the documented small CNN's head (no hidden layers), the
MLP keeps 256,128, an explicit value wins wherever it comes from, and a saved run keeps its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphgrad import cli, nn
from graphgrad.io import load_checkpoint
from graphgrad.train import load_run
from graphgrad.train.config import TrainConfig, default_text, read_toml
from graphgrad.train.registry import MODEL_DEFAULTS
from tests.train.test_cnn_cli import bars


def test_each_model_gets_its_own_head_unless_one_is_given() -> None:
    assert MODEL_DEFAULTS["mlp"]["hidden"] == [256, 128] and MODEL_DEFAULTS["cnn"]["hidden"] == []
    assert TrainConfig().hidden == [256, 128]
    assert TrainConfig(model="cnn").hidden == []
    assert TrainConfig.from_dict({"model": "CNN"}).hidden == []  # the name as the user may write it
    assert TrainConfig.from_dict({"model": "cnn", "hidden": "64"}).hidden == [64]
    assert TrainConfig.from_dict({"model": "cnn", "hidden": "256,128"}).hidden == [256, 128]
    assert TrainConfig.from_dict({"model": "mlp", "hidden": "none"}).hidden == []
    first = TrainConfig(model="cnn")
    first.hidden.append(8)  # no config shares its list with the table or another config
    assert TrainConfig(model="cnn").hidden == [] and MODEL_DEFAULTS["cnn"]["hidden"] == []


def test_a_saved_configuration_keeps_its_value() -> None:
    older = TrainConfig(model="cnn", hidden=[256, 128]).to_dict()  # a CNN run saved with the MLP's head
    assert TrainConfig.from_dict(older, source="state.json").hidden == [256, 128]
    assert TrainConfig.from_dict(TrainConfig(model="cnn").to_dict()).hidden == []


def test_toml_and_options(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[train]\nmodel = "cnn"\n')
    assert TrainConfig.from_dict(read_toml(cfg)).hidden == []
    cfg.write_text('[train]\nmodel = "cnn"\nhidden = [32]\n')
    assert TrainConfig.from_dict(read_toml(cfg)).hidden == [32]
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--config", str(cfg), "--hidden", "none"])
    assert cli._train_config(args).hidden == []  # the option over the file
    args = parser.parse_args(["train", "--model", "cnn"])
    assert cli._train_config(args).hidden == []
    args = parser.parse_args(["train", "--model", "cnn", "--hidden", "16,8"])
    assert cli._train_config(args).hidden == [16, 8]


def test_help_shows_the_default_of_each_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert default_text("hidden") == "256,128; --model cnn: none"
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--hidden SIZES hidden layer sizes, or none (default: 256,128; --model cnn: none)" in text


def _interrupt_after_first_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphgrad.train.progress import ProgressBar

    def on_epoch_end(self: object, trainer: object, logs: object) -> None:
        if trainer.epoch == 1:  # type: ignore[attr-defined]
            trainer.interrupt()  # type: ignore[attr-defined]

    monkeypatch.setattr(ProgressBar, "on_epoch_end", on_epoch_end)


def test_the_run_saves_the_effective_head_and_resume_rebuilds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    x, y = bars(60, 8, seed=3)
    data = tmp_path / "bars.npz"
    np.savez(data, X=x.astype(np.float32), y=y.astype(np.int64))
    run = tmp_path / "run"
    _interrupt_after_first_epoch(monkeypatch)
    code = cli.main(["train", "--model", "cnn", "--data", str(data), "--epochs", "2", "--batch-size", "16",
                     "--quiet", "--out", str(run)])
    assert code == 130, capsys.readouterr().err
    monkeypatch.undo()
    state = load_checkpoint(run, groups=[]).state
    assert state["config"]["hidden"] == [] and state["epoch"] == 1
    assert cli.main(["train", "--resume", str(run), "--quiet"]) == 0, capsys.readouterr().err
    assert load_checkpoint(run, groups=[]).state["epoch"] == 2
    linears = [m for m in load_run(run).model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 3)]  # pooled features -> classes

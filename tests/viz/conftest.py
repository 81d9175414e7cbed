"""Training runs shared by the view tests: one from the real command, one with per-epoch boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cliproc import gg


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory) -> Path:
    """``graphgrad train --dataset moons --epochs 2`` run as a user would, in a subprocess."""
    out = tmp_path_factory.mktemp("runs") / "moons"
    r = gg("train", "--dataset", "moons", "--epochs", "2", "--hidden", "8", "--batch-size", "16",
           "--out", out, "--quiet")
    assert r.code == 0, r.err
    return out


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory) -> Path:
    """``graphgrad train --model cnn --epochs 1`` on the built-in digits (1x8x8 images), in a subprocess."""
    out = tmp_path_factory.mktemp("runs") / "digits-cnn"
    r = gg("train", "--model", "cnn", "--epochs", "1", "--batch-size", "64", "--out", out, "--quiet")
    assert r.code == 0, r.err
    return out


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory) -> Path:
    """A 3-class spirals run trained with the DecisionBoundaryRecorder (as `graphgrad train` will wire it)."""
    from graphgrad.train import experiment
    from graphgrad.train.config import TrainConfig
    from graphgrad.viz.boundary import DecisionBoundaryRecorder

    out = tmp_path_factory.mktemp("runs") / "spirals"
    config = TrainConfig(dataset="spirals", epochs=12, hidden=[16, 16], lr=0.02, patience=3)
    config.validate()
    prepared = experiment.prepare_data(config)
    trainer = experiment.build_trainer(config, prepared, out, quiet=True)
    trainer.callbacks = sorted([*trainer.callbacks, DecisionBoundaryRecorder(out, prepared.train[0])],
                               key=lambda c: c.order)
    trainer.fit()
    experiment._finish(out, trainer, prepared, 0.0)
    return out

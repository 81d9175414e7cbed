"""DecisionBoundaryRecorder: one class map per epoch, saved atomically as safetensors, resumable."""

from __future__ import annotations

import numpy as np
import pytest

from graphgrad.errors import CheckpointError
from graphgrad.train import experiment
from graphgrad.train.config import TrainConfig
from graphgrad.viz.boundary import (
    BOUNDARY_FILE,
    Boundaries,
    DecisionBoundaryRecorder,
    class_map,
    grid_points,
    load_boundaries,
    save_boundaries,
)


def train(run_dir, dataset="moons", epochs=3, resolution=16):
    config = TrainConfig(dataset=dataset, epochs=epochs, hidden=[8], lr=0.02)
    config.validate()
    prepared = experiment.prepare_data(config)
    trainer = experiment.build_trainer(config, prepared, run_dir, quiet=True)
    recorder = DecisionBoundaryRecorder(run_dir, prepared.train[0], resolution=resolution)
    trainer.callbacks = sorted([*trainer.callbacks, recorder], key=lambda c: c.order)
    trainer.fit()
    return trainer, recorder, prepared


def test_records_before_training_and_after_every_epoch(tmp_path):
    trainer, recorder, prepared = train(tmp_path / "run")
    saved = load_boundaries(tmp_path / "run")
    assert list(saved.epochs) == [0, 1, 2, 3]
    assert saved.classes.shape == (4, 16, 16) and saved.classes.dtype == np.uint8
    assert saved.confidence.dtype == np.uint8 and saved.confidence.min() >= 127  # 2 classes: p >= 1/2
    # the last map is the trained model's prediction on the grid (no early stopping here)
    classes, conf = class_map(trainer.model, saved.bounds, 16)
    np.testing.assert_array_equal(saved.classes[-1], classes)
    assert not np.array_equal(saved.classes[0], saved.classes[-1])  # training moved the boundary
    x = prepared.train[0]
    x0, x1, y0, y1 = saved.bounds
    assert x0 < x[:, 0].min() and x1 > x[:, 0].max() and y0 < x[:, 1].min() and y1 > x[:, 1].max()
    raw = (tmp_path / "run" / BOUNDARY_FILE).read_bytes()
    assert b"pickle" not in raw and raw[8:9] == b"{"  # a safetensors header, nothing else


def test_grid_rows_go_from_top_to_bottom():
    pts = grid_points((0.0, 4.0, 0.0, 2.0), 4).reshape(4, 4, 2)
    assert pts[0, 0].tolist() == [0.5, 1.75] and pts[-1, -1].tolist() == [3.5, 0.25]


def test_a_resumed_run_keeps_maps_up_to_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pts = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    stale = Boundaries((0.0, 1.0, 0.0, 1.0), np.arange(5), np.zeros((5, 4, 4), np.uint8),
                       np.full((5, 4, 4), 200, np.uint8))
    save_boundaries(run, stale)
    recorder = DecisionBoundaryRecorder(run, pts, resolution=4)

    class FakeTrainer:
        task, epoch = "classification", 2

        class model:  # noqa: N801  (a stand-in module: always class 1)
            training = False

            @staticmethod
            def eval():
                pass

            @staticmethod
            def train(mode=True):
                pass

            def __new__(cls, x):
                from graphgrad.tensor import Tensor

                return Tensor(np.tile([0.0, 5.0], (len(x.data), 1)))

    recorder.on_train_begin(FakeTrainer)
    assert list(load_boundaries(run).epochs) == [0, 1, 2]  # epochs 3 and 4 are recorded again later
    FakeTrainer.epoch = 3
    recorder.on_epoch_end(FakeTrainer, {})
    saved = load_boundaries(run)
    assert list(saved.epochs) == [0, 1, 2, 3] and saved.classes[-1].min() == 1


def test_other_tasks_and_feature_counts_record_nothing(tmp_path):
    recorder = DecisionBoundaryRecorder(tmp_path, np.zeros((10, 3)))
    assert not recorder.active
    trainer, _, _ = train(tmp_path / "reg", dataset="diabetes", epochs=1)
    assert not (tmp_path / "reg" / BOUNDARY_FILE).exists()


def test_a_damaged_file_is_a_clear_error(tmp_path):
    (tmp_path / BOUNDARY_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(CheckpointError, match="not a readable decision-boundary file"):
        load_boundaries(tmp_path)

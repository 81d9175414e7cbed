"""Trainer: exact resume, early stopping's best weights, divergence, history files, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphgrad import nn, optim
from graphgrad.data import DataLoader, TensorDataset
from graphgrad.errors import ConfigError, TrainingDivergedError
from graphgrad.io import load_checkpoint
from graphgrad.train import Callback, Checkpoint, EarlyStopping, Trainer, accuracy, mse, r2_score
from graphgrad.train.history import CURVES_PNG, METRICS_CSV, METRICS_JSON

N, FEATURES, CLASSES, BATCH = 40, 4, 3, 8  # 5 batches per epoch


def _data():
    rng = np.random.default_rng(123)
    X = rng.normal(size=(N + 12, FEATURES)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return (X[:N], y[:N]), (X[N:], y[N:])


def _trainer(run_dir, epochs=4, callbacks=(), loss_fn=None, scheduler=True, plot=False, compile=None):
    """A small run that draws from every generator: init, dropout, shuffling."""
    (X, y), val = _data()
    rngs = {"init": np.random.default_rng(1), "dropout": np.random.default_rng(2)}
    model = nn.Sequential(nn.Linear(FEATURES, 16, rng=rngs["init"]), nn.ReLU(), nn.Dropout(0.3, rng=rngs["dropout"]),
                          nn.Linear(16, CLASSES, rng=rngs["init"]))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5) if scheduler else None
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True, generator=np.random.default_rng(3))
    cbs = [EarlyStopping(patience=None), *callbacks]
    if run_dir is not None:
        cbs.append(Checkpoint(run_dir, plot=plot))
    return Trainer(model, opt, loss_fn or nn.CrossEntropyLoss(), loader, epochs=epochs, val_data=val,
                   scheduler=sched, callbacks=cbs, rngs=rngs, config={"note": "test"}, compile=compile)


class InterruptAt(Callback):
    key = "interrupt_at"

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, trainer, logs):
        if trainer.step == self.at:
            trainer.interrupt()


def _weights(trainer):
    return trainer.model.state_dict()


@pytest.mark.parametrize("stop_step", [7, 10])  # mid-epoch 2, and the end of epoch 2
def test_resume_gives_bit_identical_weights(tmp_path, stop_step):
    straight = _trainer(None)
    straight.fit()

    first = _trainer(tmp_path, callbacks=[InterruptAt(stop_step)])
    first.fit()
    assert first.interrupted and first.step == stop_step and not first.finished
    resumed = _trainer(tmp_path)  # fresh objects, as a new process would build them
    resumed.restore(load_checkpoint(tmp_path))
    assert resumed.step == stop_step
    resumed.fit()
    assert resumed.finished and resumed.step == straight.step == 20
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k  # exact, not approximately
    sa, sb = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for i in sa:
        for name, v in sa[i].items():
            assert np.array_equal(v, sb[i][name])
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(straight.history) == drop(resumed.history)


def test_resume_without_restoring_rngs_differs(tmp_path):
    """The check above can fail: skipping the dropout generator's state changes the weights."""
    straight = _trainer(None)
    straight.fit()
    _trainer(tmp_path, callbacks=[InterruptAt(7)]).fit()
    resumed = _trainer(tmp_path)
    ck = load_checkpoint(tmp_path)
    resumed.restore(ck)
    resumed.rngs["dropout"].bit_generator.state = np.random.default_rng(99).bit_generator.state
    resumed.fit()
    assert not all(np.array_equal(v, _weights(resumed)[k]) for k, v in _weights(straight).items())


class ScriptedValLoss(Callback):
    """Replaces val_loss by a script and snapshots the weights at each epoch end."""

    order = 5  # before EarlyStopping
    key = "scripted"

    def __init__(self, values):
        self.values = values
        self.snapshots = {}

    def on_epoch_end(self, trainer, logs):
        logs["val_loss"] = self.values[trainer.epoch - 1]
        self.snapshots[trainer.epoch] = {k: v.copy() for k, v in trainer.model.state_dict().items()}


def test_early_stopping_fires_and_restores_best_weights():
    script = ScriptedValLoss([3.0, 1.0, 2.0, 1.5, 0.5, 0.1])
    t = _trainer(None, epochs=6, callbacks=[script])
    es = next(cb for cb in t.callbacks if isinstance(cb, EarlyStopping))
    es.patience = 2
    t.fit()
    assert t.epoch == 4 and es.fired and es.stopped_epoch == 4 and es.best_epoch == 2 and es.best == 1.0
    final = _weights(t)
    for k, v in script.snapshots[2].items():
        assert np.array_equal(final[k], v)
    assert not np.array_equal(final["0.weight"], script.snapshots[4]["0.weight"])


def test_early_stopping_restores_best_weights_without_firing():
    script = ScriptedValLoss([3.0, 2.0, 1.0, 2.0])
    t = _trainer(None, epochs=4, callbacks=[script])
    t.fit()
    es = next(cb for cb in t.callbacks if isinstance(cb, EarlyStopping))
    assert t.epoch == 4 and not es.fired and es.best_epoch == 3
    for k, v in script.snapshots[3].items():
        assert np.array_equal(_weights(t)[k], v)


def test_early_stopping_min_delta_and_mode():
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert es.mode == "max"
    assert es._improved(0.5)
    es.best = 0.5
    assert not es._improved(0.54) and es._improved(0.56)
    with pytest.raises(ConfigError, match="invalid patience"):
        EarlyStopping(patience=0)


def test_unknown_monitor_lists_the_logged_metrics():
    t = _trainer(None, epochs=1, callbacks=[])
    t.callbacks[0].monitor = "val_f1"
    with pytest.raises(ConfigError, match=r"cannot monitor 'val_f1': this run logs \[.*'val_accuracy'"):
        t.fit()


class NaNAfter:
    def __init__(self, step):
        self.at, self.calls, self.inner = step, 0, nn.CrossEntropyLoss()

    def __call__(self, out, target):
        self.calls += 1
        loss = self.inner(out, target)
        return loss * float("nan") if self.calls == self.at else loss


def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_checkpoint(tmp_path):
    loss = NaNAfter(9)  # call 9 = step 8 (5 steps + 1 validation call in epoch 1), batch 3 of epoch 2
    t = _trainer(tmp_path, loss_fn=loss, compile=False)  # a captured step would not call the loss in Python
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at epoch 2, step 8 \(batch 3 of 5\).*"
                                                    r"last good checkpoint \(epoch 1, step 5\)"):
        t.fit()
    ck = load_checkpoint(tmp_path)
    assert ck.state["epoch"] == 1 and ck.state["step"] == 5
    assert all(np.isfinite(v).all() for v in ck.groups["model"].values())


def test_history_files_and_curves(tmp_path):
    t = _trainer(tmp_path, epochs=2, plot=True)
    t.fit()
    rows = json.loads((tmp_path / METRICS_JSON).read_text())
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[0]["lr"] == 0.01 and rows[1]["lr"] == 0.01  # StepLR(step_size=2) halves after epoch 2
    assert t.optimizer.param_groups[0]["lr"] == 0.005
    header = (tmp_path / METRICS_CSV).read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= set(header)
    png = (tmp_path / CURVES_PNG).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    t.model.eval()  # history's val_accuracy is of the weights at the end of epoch 2 (no best-weight restore yet)
    es = t.callbacks[0]
    assert rows[es.best_epoch - 1]["val_loss"] == es.best


def test_metrics_by_hand():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]])
    assert accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    p, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 5.0])
    assert mse(p, y) == pytest.approx((0 + 1 + 1) / 3)
    # SS_tot = (1-3)^2 + 0 + (5-3)^2 = 8, SS_res = 2
    assert r2_score(p, y) == pytest.approx(1 - 2 / 8)
    assert r2_score(y, y) == 1.0


class CtrlCAt(Callback):
    key = "ctrl_c"

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, trainer, logs):
        if trainer.step == self.at:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(tmp_path):
    import signal

    before = signal.getsignal(signal.SIGINT)
    straight = _trainer(None)
    straight.fit()
    cut = _trainer(tmp_path, callbacks=[CtrlCAt(12)])
    cut.fit()  # no KeyboardInterrupt escapes: the handler asks for a stop at the step boundary
    assert cut.interrupted and cut.step == 12
    assert signal.getsignal(signal.SIGINT) is before
    resumed = _trainer(tmp_path)
    resumed.restore(load_checkpoint(tmp_path))
    resumed.fit()
    assert all(np.array_equal(v, _weights(resumed)[k]) for k, v in _weights(straight).items())
    again = _trainer(tmp_path)
    again.restore(load_checkpoint(tmp_path))
    assert again.finished and again.fit() == again.history and again.step == 20  # a finished run stays finished

"""The Trainer captures its step by default; captured or not, training gives the same bits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphgrad import nn, optim
from graphgrad.data import DataLoader, TensorDataset
from graphgrad.errors import TrainingDivergedError
from graphgrad.train.trainer import Trainer
from tests.cliproc import gg


def _trainer(compile: bool | None, dropout: float = 0.0, lr: float = 1e-2, **kwargs: Any) -> Trainer:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((90, 10)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    layers: list[Any] = [nn.Linear(10, 12, rng=1), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=np.random.default_rng(5)))
    layers.append(nn.Linear(12, 3, rng=2))
    model = nn.Sequential(*layers)
    opt = optim.Adam(model.parameters(), lr=lr, weight_decay=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=3)
    return Trainer(model, opt, nn.functional.cross_entropy, loader, epochs=4, val_data=(x[:20], y[:20]),
                   scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4),
                   regularizer=lambda: nn.l2_penalty(model, 1e-3), compile=compile, **kwargs)


def _bits(t: Trainer) -> list[bytes]:
    out = [p.data.tobytes() for p in t.model.parameters()]
    out += [a.tobytes() for a in t.optimizer.state_dict()["state"].values() if isinstance(a, np.ndarray)]
    return out


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_trainer_captured_equals_eager(dropout: float) -> None:
    eager, captured = _trainer(False, dropout), _trainer(None, dropout)
    eager.fit()
    captured.fit()
    assert eager.compile_note == "eager"
    assert captured.compile_note == "captured"  # dropout too: its masks are drawn again at each replay
    assert _bits(captured) == _bits(eager)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in eager.history]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in captured.history] == strip


def test_divergence_is_reported_from_the_replayed_step_before_the_update() -> None:
    t = _trainer(None, lr=1e30)
    with pytest.raises(TrainingDivergedError, match=r"training diverged: the loss became (nan|inf)"):
        t.fit()
    e = _trainer(False, lr=1e30)
    with pytest.raises(TrainingDivergedError):
        e.fit()
    assert t.step == e.step and _bits(t) == _bits(e)


def test_cli_no_compile_trains_the_same_weights(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    runs = {}
    for name, extra in (("captured", []), ("eager", ["--no-compile"])):
        # one BLAS thread for both: the measured thread count may differ between the runs, and with it the sums' order
        r = gg("train", "--epochs", "2", "--quiet", "--threads", "1", "--out", str(tmp_path / name), *extra)
        assert r.code == 0, r.err
        (weights,) = sorted((tmp_path / name).glob("model-*.safetensors"))
        runs[name] = load_file(str(weights))
    assert runs["captured"].keys() == runs["eager"].keys()
    assert all(runs["captured"][k].tobytes() == runs["eager"][k].tobytes() for k in runs["eager"])

"""Callbacks: code that runs at fixed points of :class:`~graphgrad.train.Trainer.fit`.

Callbacks run in ``order`` (smaller first), so at the end of training the early-stopping callback
restores the best weights before the checkpoint callback saves them. Each callback's
``state_dict()`` goes into the checkpoint, so a resumed run continues with the same patience
counter, best value and best weights as one that never stopped. A callback tells the trainer what
it did through the trainer's methods (``request_stop``, ``record_best``, ``record_checkpoint``),
never the other way round.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.io.checkpoint import save_checkpoint
from graphgrad.train.history import CURVES_PNG, plot_history, write_history

if TYPE_CHECKING:
    from graphgrad.train.trainer import Trainer


class Callback:
    """Base class; override the hooks you need. ``key`` names its state in the checkpoint."""

    order = 0
    key = "callback"

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first batch (also when resuming)."""

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        """After each optimizer step; ``logs`` has the running ``loss`` (and ``accuracy``) and ``lr``."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """After validation and the learning-rate schedule; ``logs`` is the epoch's history row."""

    def on_interrupt(self, trainer: Trainer) -> None:
        """Training was interrupted at a step boundary (Ctrl-C, ``trainer.interrupt()``)."""

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        """Training stopped with an error (divergence...); release resources, do not save."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch (normal end or early stop; not after an interruption or divergence)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if monitor.endswith(("accuracy", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ConfigError(f"invalid mode {mode!r} for monitoring {monitor!r} (choose 'min', 'max' or 'auto')")
    return mode


def monitored_value(logs: dict[str, Any], monitor: str) -> float:
    """``logs[monitor]``, or a ConfigError listing the metrics that exist."""
    if monitor not in logs:
        names = sorted(k for k, v in logs.items() if isinstance(v, float) and k not in ("lr", "time"))
        raise ConfigError(f"cannot monitor {monitor!r}: this run logs {names}")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Keeps a copy of the weights of the best epoch and puts them back into the model when training
    ends, whether it stopped early or ran all its epochs (``restore_best_weights``). With
    ``patience=None`` it never stops training and only keeps the best weights.
    """

    order = 10
    key = "early_stopping"

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int | None = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
            raise ConfigError(f"invalid patience: {patience!r} (must be a positive integer)")
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta) and min_delta >= 0):
            raise ConfigError(f"invalid min_delta: {min_delta!r} (must be a finite number >= 0)")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = _monitor_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        value = monitored_value(logs, self.monitor)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, trainer.epoch, 0
            trainer.record_best(trainer.epoch)
            if self.restore_best_weights:
                self.best_weights = {k: np.array(v, copy=True) for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.stopped_epoch = trainer.epoch
            trainer.request_stop(f"stopped early at epoch {trainer.epoch}: {self.monitor} did not improve for "
                                 f"{self.patience} epochs (best at epoch {self.best_epoch})")

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    @property
    def fired(self) -> bool:
        """True when this callback ended training before its planned last epoch."""
        return self.stopped_epoch > 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else {k: np.array(v, copy=True) for k, v in weights.items()}


class Checkpoint(Callback):
    """Save the full training state to ``run_dir`` every ``every`` epochs, on interruption and at
    the end; also keep ``metrics.csv`` / ``metrics.json`` current and draw the curves at the end."""

    order = 100
    key = "checkpoint"

    def __init__(self, run_dir: str | os.PathLike[str], every: int = 1, plot: bool = True) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"invalid checkpoint interval: {every!r} (must be a positive integer)")
        self.run_dir = Path(run_dir)
        self.every = every
        self.plot = plot
        self.last_saved_epoch: int | None = None
        self.last_saved_step: int | None = None

    def save(self, trainer: Trainer) -> None:
        state, groups = trainer.checkpoint_payload()
        path = save_checkpoint(self.run_dir, state, groups)
        self.last_saved_epoch, self.last_saved_step = trainer.epoch, trainer.step
        trainer.record_checkpoint(str(path))  # saved, even if the metrics files below cannot be written
        write_history(self.run_dir, trainer.history)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if trainer.epoch % self.every == 0:
            self.save(trainer)

    def on_interrupt(self, trainer: Trainer) -> None:
        self.save(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        self.save(trainer)
        if self.plot and trainer.history:
            plot_history(trainer.history, self.run_dir / CURVES_PNG)

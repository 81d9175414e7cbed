"""Progress of a run: a tqdm bar on a terminal, one plain line per epoch anywhere else (a log file
gets no carriage-return frames)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from graphgrad.train.callbacks import Callback

if TYPE_CHECKING:
    from graphgrad.train.trainer import Trainer


class ProgressBar(Callback):
    """One bar for the whole run (resumed runs start where they stopped); ``disable`` hides it."""

    order = 50
    key = "progress"

    def __init__(self, disable: bool = False, every: int = 5, stream: TextIO | None = None) -> None:
        self.disable = disable
        self.every = every
        self.stream = stream
        self._bar: Any = None
        self._lines = False

    def on_train_begin(self, trainer: Trainer) -> None:
        if self.disable:
            return
        stream = self.stream or sys.stderr
        if not (hasattr(stream, "isatty") and stream.isatty()):
            self._lines = True  # not a terminal: one line per epoch
            return
        from tqdm.auto import tqdm

        total = trainer.epochs * len(trainer.train_loader)
        self._bar = tqdm(total=total, initial=trainer.step, unit="step", dynamic_ncols=True, leave=True, file=stream)

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if trainer.step % self.every == 0:
            post = {"epoch": f"{trainer.epoch + 1}/{trainer.epochs}", "loss": f"{logs['loss']:.4f}"}
            if "accuracy" in logs:
                post["acc"] = f"{logs['accuracy']:.3f}"
            post["lr"] = f"{logs['lr']:.3g}"
            self._bar.set_postfix(post, refresh=False)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self._lines:
            parts = [f"epoch {trainer.epoch}/{trainer.epochs}", f"loss {logs['train_loss']:.4f}"]
            parts += [f"{k} {logs[k]:.4f}" for k in ("val_loss", "val_accuracy", "val_r2") if k in logs]
            parts.append(f"lr {logs['lr']:.3g}")
            print("  ".join(parts), file=self.stream or sys.stderr, flush=True)
            return
        if self._bar is None:
            return
        post = {"epoch": f"{trainer.epoch}/{trainer.epochs}", "loss": f"{logs['train_loss']:.4f}"}
        for key, short in (("val_loss", "val_loss"), ("val_accuracy", "val_acc"), ("val_r2", "val_r2")):
            if key in logs:
                post[short] = f"{logs[key]:.4f}"
        post["lr"] = f"{logs['lr']:.3g}"
        self._bar.set_postfix(post)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_end(self, trainer: Trainer) -> None:
        self._close()

    def on_interrupt(self, trainer: Trainer) -> None:
        self._close()

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self._close()

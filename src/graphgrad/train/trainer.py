"""Trainer: epochs of forward, loss, backward, step; validation; callbacks; exact resume.

Everything that decides the next weights is part of :meth:`Trainer.checkpoint_payload`: weights,
optimizer state, scheduler state, callbacks' state (early-stopping best weights included), every
random generator (``rngs``: initialization, dropout...) and the data loader's position inside its
epoch. Restoring it (:meth:`Trainer.restore`) and calling :meth:`fit` again yields bit-identical
weights to a run that never stopped. Interruption (Ctrl-C or :meth:`interrupt`) takes effect at a
step boundary, so the saved state is never half an optimizer step.

The trainer knows callbacks only through the :class:`Callback` hooks; callbacks report back
through :meth:`Trainer.request_stop`, :meth:`Trainer.record_best` and
:meth:`Trainer.record_checkpoint`, so why training stopped, its best epoch and its last
checkpoint are the trainer's own state. Every scheduler is stepped as ``step(metrics=...)``.

Data parallel (``world`` of several MPI ranks, the model wrapped in DistributedDataParallel, the
loader giving each rank its part of every global batch): each step, one small Allreduce shares
every rank's loss, batch weight, correct count and interrupt request, so every rank logs the
global batch's loss, decides divergence and interruption at the same step, and weighs its loss
by its share of the batch (parts of a small last batch differ in size; class weights differ
between parts). The averaged gradient is then the single-process gradient of the global batch.
Validation runs on every rank on the whole validation split: the ranks' weights are identical,
so their metrics are too, and early stopping and schedules decide alike without communicating.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from graphgrad import heap
from graphgrad.autograd.grad_mode import no_grad
from graphgrad.compile.trace import host
from graphgrad.distributed.comm import World, all_reduce, current
from graphgrad.errors import CheckpointError, ConfigError, TrainingDivergedError
from graphgrad.io.checkpoint import LoadedCheckpoint
from graphgrad.io.schema import check_schema
from graphgrad.tensor import Tensor
from graphgrad.train.callbacks import Callback
from graphgrad.train.metrics import CLASSIFICATION, REGRESSION, task_metrics

TRAINER_STATE_VERSION = 1


class GlobalBatch(NamedTuple):
    """Under MPI, one step's global batch: its loss, size and correctly classified count."""

    loss: float
    n: int
    correct: float


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _get_rng_state(g: np.random.Generator) -> dict[str, Any]:
    return dict(g.bit_generator.state)


def _set_rng_state(g: np.random.Generator, state: dict[str, Any]) -> None:
    g.bit_generator.state = state


def _batch_weight(loss_fn: Any, target: np.ndarray) -> float:
    """What the loss's mean divides by for this batch: the sum of the examples' class weights for
    a class-weighted loss (a ``weights`` array indexed by class), else the number of examples."""
    weights = getattr(loss_fn, "weights", None)
    labels = np.asarray(target)
    if isinstance(weights, np.ndarray) and weights.ndim == 1 and labels.dtype.kind in "iu":
        return float(np.sum(weights[labels.reshape(-1)], dtype=np.float64))
    return float(len(labels))


def evaluate(
    model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], x: np.ndarray, y: np.ndarray, task: str,
    batch_size: int = 4096,
) -> dict[str, float]:
    """Loss and task metrics of ``model`` on ``(x, y)`` in eval mode, without recording a graph."""
    was_training = getattr(model, "training", False)
    model.eval()
    outputs, total = [], 0.0
    try:
        with no_grad(), np.errstate(all="ignore"):
            for start in range(0, len(x), batch_size):
                out = model(_tensor(x[start : start + batch_size]))
                yb = y[start : start + batch_size]
                total += float(loss_fn(out, _tensor(yb)).item()) * len(yb)
                outputs.append(out.data)
    finally:
        model.train(was_training)
    out = np.concatenate(outputs) if outputs else np.zeros((0,))
    return {"loss": total / max(len(x), 1), **task_metrics(task, out, y)}


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader`` for ``epochs`` epochs.

    ``val_data`` is ``(X, y)`` arrays evaluated after each epoch (metrics ``val_loss``,
    ``val_accuracy`` or ``val_mse`` / ``val_r2``). ``scheduler`` steps once per epoch with
    ``step(metrics=<the epoch's scheduler_monitor value>)``. Each history row also holds the
    learning rate (``lr``) and, per parameter, ``weight_norm/<name>`` (L2 norm of the weights at
    the end of the epoch) and ``grad_norm/<name>`` (L2 norm of the gradient of the epoch's last
    step: one cheap sample, not an average). ``regularizer()`` returns a term added to the
    loss (e.g. ``lambda: nn.l2_penalty(model, 1e-4)``); the logged loss is the data loss alone.
    ``rngs`` names every Generator the run draws from besides the loader's (saved and restored).
    ``config`` and ``metadata`` are JSON-able and saved in checkpoints for the record.
    ``world``: the MPI ranks training together (default: the world joined so far, one process
    without MPI). ``rank_rngs`` names generators (dropout) that must draw differently on each rank:
    under several ranks they restart every step from (their initial state, step, rank), so a
    resumed run draws as an uninterrupted one without saving every rank's state.
    ``threads`` is the number of BLAS threads; None decides on the first steps of each :meth:`fit`
    (see :mod:`graphgrad.threads`). ``compile`` (default on) replays the training step as a captured
    plan (:mod:`graphgrad.compile`), bit for bit the eager step, dropout and batch norm included; a
    step that cannot be captured (an ``nll_loss``, a cumulative batch-norm average, several MPI
    ranks) runs eagerly, and :attr:`compile_note` says why.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        train_loader: Any,
        *,
        epochs: int,
        task: str = CLASSIFICATION,
        val_data: tuple[np.ndarray, np.ndarray] | None = None,
        scheduler: Any = None,
        scheduler_monitor: str = "val_loss",
        callbacks: Iterable[Callback] = (),
        regularizer: Callable[[], Tensor] | None = None,
        rngs: dict[str, np.random.Generator] | None = None,
        config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        world: World | None = None,
        rank_rngs: Sequence[str] = (),
        threads: int | None = None,
        compile: bool | None = None,
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"invalid epochs: {epochs!r} (must be a positive integer)")
        if task not in (CLASSIFICATION, REGRESSION):
            raise ConfigError(f"invalid task {task!r} (choose {CLASSIFICATION!r} or {REGRESSION!r})")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader = train_loader
        self.epochs, self.task = epochs, task
        self.val_data = val_data
        self.scheduler, self.scheduler_monitor = scheduler, scheduler_monitor
        self.callbacks: list[Callback] = sorted(callbacks, key=lambda c: c.order)
        keys = [c.key for c in self.callbacks]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"two callbacks share a checkpoint key: {keys}")
        self.regularizer = regularizer
        self.rngs = dict(rngs or {})
        self.config = dict(config or {})
        self.metadata = dict(metadata or {})
        self.world = current() if world is None else world
        self._rank_streams = {name: zlib.crc32(json.dumps(_get_rng_state(self.rngs[name]), sort_keys=True).encode())
                              for name in rank_rngs if self.world.size > 1}
        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps taken
        self.history: list[dict[str, Any]] = []
        self.stop_reason: str | None = None  # why training ended before its last epoch
        self.best_epoch: int | None = None  # the epoch whose weights a callback keeps as the best
        self.last_checkpoint: dict[str, Any] | None = None  # {"epoch", "step", "path"} of the last save
        self.events: list[dict[str, Any]] = []  # changes made between sessions (e.g. --lr on resume)
        self._row_notes: dict[str, Any] = {}
        self.stop_training = False
        self.finished = False
        self.interrupted = False
        self._interrupt_requested = False  # acted on (agreed by all ranks under MPI)
        self._interrupt_signal = False  # asked on this process (Ctrl-C, interrupt())
        self._acc = self._fresh_accumulators()
        self._epoch_start_time: float | None = None
        self.threads = threads  # BLAS threads; None: the user's limit if any, else measured per fit
        self._threads: Any = None  # this fit's graphgrad.threads.RunThreads
        self.compile = compile  # capture the step (None: graphgrad.compile.enabled(), on by default)
        self._step_fn: Any = None
        self._global: GlobalBatch | None = None  # under MPI: the last global batch's numbers

    # ------------------------------------------------------------------ running
    @staticmethod
    def _fresh_accumulators() -> dict[str, float]:
        return {"loss_sum": 0.0, "correct": 0.0, "seen": 0.0, "seconds": 0.0}

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def request_stop(self, reason: str) -> None:
        """End training after this epoch (called by callbacks such as early stopping)."""
        self.stop_training = True
        self.stop_reason = reason

    def record_best(self, epoch: int) -> None:
        """A callback's note that ``epoch`` is the best so far (its weights are the ones kept)."""
        self.best_epoch = int(epoch)

    def record_checkpoint(self, path: str) -> None:
        """A callback's note that the full state at this epoch and step was saved to ``path``."""
        self.last_checkpoint = {"epoch": self.epoch, "step": self.step, "path": str(path)}

    def set_lr(self, lr: float, why: str = "set by the user") -> None:
        """Continue with learning rate ``lr`` (a schedule restarts its curve from it), noted in the
        next history row (``lr_note``) and in :attr:`events`."""
        if self.scheduler is not None:
            self.scheduler.restart_from(lr)
        else:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.events.append({"epoch": self.epoch, "step": self.step, "lr": lr, "why": why})
        self._row_notes["lr_note"] = f"lr {lr:g} {why} after epoch {self.epoch}"

    def interrupt(self) -> None:
        """Ask :meth:`fit` to stop after the current step, save (via callbacks) and return (under MPI:
        all ranks stop after the first step at which any rank had asked)."""
        self._interrupt_signal = True
        if self.world.size == 1:
            self._interrupt_requested = True

    def _agree_interrupt(self) -> None:
        """Under MPI, stop when any rank was asked to (a collective: every rank calls it)."""
        if self.world.size > 1:
            flag = all_reduce(np.array([float(self._interrupt_signal)]))
            self._interrupt_requested = bool(flag[0] > 0)

    def _fire(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def fit(self) -> list[dict[str, Any]]:
        """Train to the planned last epoch (or an early stop / interruption); returns the history."""
        if self.finished:
            return self.history
        self.stop_training = False
        self.interrupted = self._interrupt_requested = self._interrupt_signal = False
        heap.reuse_freed_memory()  # a step's large arrays reused, not fresh pages every step
        previous = self._install_sigint()
        try:
            # overflow shows up as a non-finite loss, reported below
            with np.errstate(all="ignore"), self._thread_policy() as self._threads:
                self._fire("on_train_begin")
                while self.epoch < self.epochs and not self.stop_training:
                    if not self._run_epoch():
                        return self._interrupt_now()
                    self._end_epoch()
                    self._agree_interrupt()
                    if self._interrupt_requested and self.epoch < self.epochs and not self.stop_training:
                        return self._interrupt_now()
                self.finished = True
                self._fire("on_train_end")
        except BaseException as error:
            for cb in self.callbacks:
                cb.on_exception(self, error)
            raise
        finally:
            self._restore_sigint(previous)
        return self.history

    def _thread_policy(self) -> Any:
        from graphgrad import threads

        # MPI ranks share the cores: each keeps the limit graphgrad.distributed.prepare set (one)
        return threads.for_run(self.threads, keep=self.world.size > 1)

    @property
    def threads_used(self) -> int | None:
        """The BLAS threads the last fit() ran with (measured on its first steps unless given)."""
        return None if self._threads is None else self._threads.count  # type: ignore[no-any-return]

    def _interrupt_now(self) -> list[dict[str, Any]]:
        self.interrupted = True
        self._fire("on_interrupt")
        return self.history

    def _install_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._interrupt_signal:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.interrupt()

        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _restore_sigint(previous: Any) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    def _run_epoch(self) -> bool:
        """One pass over the loader (or the rest of it); False when interrupted at a step boundary."""
        self.model.train()
        acc = self._acc
        start = time.perf_counter()
        n_batches = len(self.train_loader)
        self._n_batches = n_batches
        step = self._threads.timed(self._step_function())  # timed while choosing BLAS threads
        for xb, yb in self.train_loader:
            target = _tensor(yb)
            out, loss = step(_tensor(xb), target)
            if self._global is not None:  # several processes: the global batch's numbers
                value, n, correct = self._global
            else:
                value, n, correct = float(loss.data), len(target.data), self._correct(out, target.data)
            self.step += 1
            acc["loss_sum"] += value * n
            acc["seen"] += n
            acc["correct"] += correct
            self._fire("on_batch_end", self._running_logs())
            if self._interrupt_requested and self.step - self.epoch * n_batches < n_batches:
                acc["seconds"] += time.perf_counter() - start  # mid-epoch; after the last batch, end the epoch
                return False
        acc["seconds"] += time.perf_counter() - start
        return True

    def _correct(self, out: Tensor, target: np.ndarray) -> float:
        """How many of the batch's examples the outputs classify right (0 for regression)."""
        if self.task != CLASSIFICATION or not len(target):
            return 0.0
        return float(np.sum(np.argmax(out.data, axis=1) == target.reshape(-1)))

    def _global_batch(self, out: Tensor, loss: Tensor, target: np.ndarray) -> Tensor:
        """Under MPI: this rank's loss weighed by its share of the global batch, after one
        Allreduce of 5 numbers that also gives the global batch's loss, size and correct count
        (kept in ``_global`` for the epoch's sums) and agrees on interruption."""
        n = len(target)
        weight = _batch_weight(self.loss_fn, target) if n else 0.0
        value = float(loss.item()) if n else 0.0
        correct = self._correct(out, target)
        stats = all_reduce(np.array([weight, value * weight, n, correct, float(self._interrupt_signal)]))
        total_weight, weighted, total_n, total_correct, asked = (float(v) for v in stats)
        if asked > 0:
            self._interrupt_requested = True
        self._global = GlobalBatch(weighted / max(total_weight, 1e-12), int(total_n), total_correct)
        share = self.world.size * weight / max(total_weight, 1e-12)
        if not n:  # an empty part of a small last batch: zero gradients, still averaged with the others
            return out.sum() * 0.0
        return loss if share == 1.0 else loss * share

    def _restart_rank_streams(self) -> None:
        for name, base in self._rank_streams.items():
            _set_rng_state(self.rngs[name], _get_rng_state(np.random.default_rng([base, self.step, self.world.rank])))
    def _train_step(self, x: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """One step: forward, loss (+ regularizer), divergence check, zero_grad, backward, update.
        Under MPI the loss is first weighed by this rank's share of the global batch."""
        if self.world.size > 1:
            self._restart_rank_streams()
        out = self.model(x)
        loss = self.loss_fn(out, target)
        if self.world.size > 1:
            loss = self._global_batch(out, loss, target.data)
        total = loss if self.regularizer is None else loss + self.regularizer()
        host(self._check_finite, loss, total)
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        return out, loss

    def _check_finite(self, loss: np.ndarray, total: np.ndarray) -> None:
        """Stop on a non-finite loss; under MPI on the global batch's loss, so all ranks stop together."""
        value = float(loss) if self._global is None else self._global.loss
        penalty = float(total) - float(loss)
        for checked in (value, value + penalty):
            if not math.isfinite(checked):
                self._diverged(checked, self._n_batches)

    def _step_function(self) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        if self._step_fn is None:
            from graphgrad import compile as captured

            # Under MPI the step Allreduces each batch's statistics: it runs eagerly.
            on = self.world.size == 1 and (captured.enabled() if self.compile is None else bool(self.compile))
            if on:
                watch = list(self.model.parameters()) + list(getattr(self.model, "buffers", list)())
                self._step_fn = captured.capture(self._train_step, fallback=True, watch=watch)
            else:
                self._step_fn = self._train_step
        return self._step_fn  # type: ignore[no-any-return]

    @property
    def compile_note(self) -> str:
        """How the training step runs: captured, eager (and why), or not yet decided."""
        fn = self._step_fn
        if fn is None or fn == self._train_step:
            return "eager" if fn is not None else "not started"
        if fn.refused:
            return f"eager: {fn.refused}"
        return "captured" if fn.plans else "recording"

    def _running_logs(self) -> dict[str, float]:
        acc = self._acc
        logs = {"loss": acc["loss_sum"] / max(acc["seen"], 1.0), "lr": self.lr}
        if self.task == CLASSIFICATION:
            logs["accuracy"] = acc["correct"] / max(acc["seen"], 1.0)
        return logs

    def _diverged(self, value: float, n_batches: int) -> None:
        last = self.last_checkpoint
        where = (
            f"; the last good checkpoint (epoch {last['epoch']}, step {last['step']}) is kept in {last['path']}"
            if last else "; no checkpoint had been saved yet"
        )
        batch = self.step - self.epoch * n_batches + 1
        raise TrainingDivergedError(
            f"training diverged: the loss became {value} at epoch {self.epoch + 1}, step {self.step + 1} "
            f"(batch {batch} of {n_batches}); try a smaller learning rate{where}"
        )

    def _end_epoch(self) -> None:
        running = self._running_logs()
        self.epoch += 1
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "lr": running.pop("lr")}
        row.update({f"train_{k}": v for k, v in running.items()})
        if self.val_data is not None:
            sync_buffers = getattr(self.model, "sync_buffers", None)
            if sync_buffers is not None:  # under MPI: rank 0's batch-norm statistics on every rank
                sync_buffers()
            val = evaluate(self.model, self.loss_fn, *self.val_data, task=self.task)
            row.update({f"val_{k}": v for k, v in val.items()})
        row["seconds"] = self._acc["seconds"]
        row.update(self._parameter_norms())
        row.update(self._row_notes)
        self._row_notes = {}
        self._acc = self._fresh_accumulators()
        if self.scheduler is not None:
            self.scheduler.step(metrics=row.get(self.scheduler_monitor))
        self.history.append(row)
        self._fire("on_epoch_end", row)

    def _parameter_norms(self) -> dict[str, float]:
        """L2 norms of each parameter and of its gradient from the last step (NaN if it has none)."""
        named = getattr(self.model, "named_parameters", None)
        if named is None:
            return {}
        norms: dict[str, float] = {}
        for name, p in named():
            norms[f"weight_norm/{name}"] = float(np.linalg.norm(np.asarray(p.data, dtype=np.float64)))
            grad = None if p.grad is None else np.asarray(p.grad.data, dtype=np.float64)
            norms[f"grad_norm/{name}"] = math.nan if grad is None else float(np.linalg.norm(grad))
        return norms

    # ------------------------------------------------------------------ checkpoint state
    def checkpoint_payload(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(state, tensor_groups)`` for :func:`graphgrad.io.save_checkpoint`."""
        state = {
            "trainer_version": TRAINER_STATE_VERSION,
            "epoch": self.epoch,
            "step": self.step,
            "epochs": self.epochs,
            "finished": self.finished,
            "task": self.task,
            "epoch_progress": dict(self._acc),
            "history": list(self.history),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "callbacks": {cb.key: cb.state_dict() for cb in self.callbacks},
            "rng": {name: _get_rng_state(g) for name, g in self.rngs.items()},
            "loader": self.train_loader.state_dict(),
            "best": self.best_metrics(),
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "events": list(self.events),
            "ranks": self.world.size,
            "config": self.config,
            "metadata": self.metadata,
        }
        groups = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        return state, groups

    def best_metrics(self) -> dict[str, Any] | None:
        """The history row of the best epoch recorded by a callback (early stopping), if any."""
        if self.best_epoch and self.best_epoch <= len(self.history):
            return dict(self.history[self.best_epoch - 1])
        return None

    def restore(self, checkpoint: LoadedCheckpoint) -> None:
        """Put the trainer, model, optimizer, scheduler, callbacks, generators and loader back into
        the state saved in ``checkpoint`` (from :func:`graphgrad.io.load_checkpoint`)."""
        state, groups = checkpoint.state, checkpoint.groups
        where = checkpoint.path / "state.json"
        check_schema(state, TRAINER_STATE_SCHEMA, f"{where}: state")
        try:
            if state.get("trainer_version") != TRAINER_STATE_VERSION:
                raise CheckpointError(f"{where}: trainer state version {state.get('trainer_version')!r} is not "
                                      f"{TRAINER_STATE_VERSION}")
            if not (0 <= state["epoch"] <= self.epochs and state["step"] >= 0):
                raise CheckpointError(f"{where}: epoch {state['epoch']}, step {state['step']}: not a point of a run "
                                      f"of {self.epochs} epochs")
            checkpoint.check_like("model", self.model.state_dict())
            self.model.load_state_dict(groups["model"])
            try:
                self.optimizer.load_state_dict(groups["optimizer"])
            except CheckpointError as e:  # names the optimizer and the entry; the run's file too
                raise CheckpointError(f"{where}: {e}") from None
            if (state["scheduler"] is None) != (self.scheduler is None):
                raise CheckpointError(f"{where}: the saved run and this trainer differ in having a scheduler")
            if self.scheduler is not None:
                fresh = self.scheduler.state_dict()
                odd = sorted(k for k in fresh if k in state["scheduler"] and not _fits(state["scheduler"][k], fresh[k]))
                if odd:
                    raise CheckpointError(f"{where}: scheduler state {odd[0]!r} is "
                                          f"{state['scheduler'][odd[0]]!r}, not like {fresh[odd[0]]!r}")
                self.scheduler.load_state_dict(state["scheduler"])
            for cb in self.callbacks:
                if cb.key in state["callbacks"]:
                    cb.load_state_dict(state["callbacks"][cb.key])
            missing = sorted(set(self.rngs) - set(state["rng"]))
            if missing:
                raise CheckpointError(f"{where}: no saved state for random generators {missing}")
            for name, g in self.rngs.items():
                _set_rng_state(g, state["rng"][name])
            self.train_loader.load_state_dict(state["loader"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
            self.finished = bool(state["finished"])
            self._acc = {k: float(v) for k, v in state["epoch_progress"].items()}
            self.history = [dict(r) for r in state["history"]]
            self.best_epoch = state.get("best_epoch")
            self.stop_reason = state.get("stop_reason")
            self.events = [dict(e) for e in state.get("events", [])]
            self.last_checkpoint = {"epoch": self.epoch, "step": self.step, "path": str(where)}
        except KeyError as e:
            raise CheckpointError(f"{where}: missing entry {e}") from None
        except CheckpointError:  # already names the file and what is wrong
            raise
        except (TypeError, ValueError) as e:  # a state that passed the schema but does not fit this run
            raise CheckpointError(f"{where}: saved state does not fit this run ({e})") from None


def _fits(saved: Any, fresh: Any) -> bool:
    """Whether a saved value has the kind of this trainer's own (numbers for numbers, lists of the
    same length), so an edited state is refused before training trips over it."""
    if saved is None or fresh is None:
        return True
    if isinstance(fresh, (int, float)) and not isinstance(fresh, bool):
        return isinstance(saved, (int, float)) and not isinstance(saved, bool)
    if isinstance(fresh, (list, tuple)):
        return isinstance(saved, (list, tuple)) and len(saved) == len(fresh) and all(map(_fits, saved, fresh))
    return isinstance(saved, type(fresh))


_NUM = (int, float)
TRAINER_STATE_SCHEMA: dict[str, Any] = {
    "trainer_version": int, "epoch": int, "step": int, "epochs": int, "finished": bool, "task": str,
    "epoch_progress": {str: _NUM}, "history": [{str: object}], "scheduler": (dict, None),
    "callbacks": {str: dict}, "rng": {str: dict}, "loader": dict, "config": dict, "metadata": dict,
    "?best_epoch": (int, None), "?stop_reason": (str, None), "?events": [dict], "?ranks": int,
}


def history_column(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    """One metric across epochs (NaN where an epoch did not log it)."""
    return [float(r.get(key, math.nan)) for r in history]

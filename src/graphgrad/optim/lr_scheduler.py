"""Learning-rate schedules: set each parameter group's ``lr`` from the epoch count.

As in PyTorch, a scheduler takes the optimizer, records each group's ``initial_lr``, and sets the
learning rates for epoch 0 at construction; each ``step()`` (normally once per epoch, after the
optimizer's steps) moves to the next epoch. Epoch-indexed schedules here use their closed form,
``lr(e) = f(initial_lr, e)``, so a resumed run computes exactly the same rates as one that never
stopped. Their state is plain JSON (numbers and lists). So they do not chain as PyTorch's do: a
step refuses (``ConfigError``) when a group's rate is not the one it set last (a second scheduler
on the optimizer, or a rate changed by hand); ``restart_from(lr)`` goes on from another rate.

Every scheduler takes ``step(metrics=None)``: the epoch-indexed ones ignore the metric, and
:class:`ReduceLROnPlateau` requires it, so a training loop steps any scheduler the same way.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from graphgrad.autograd.grad_mode import get_mode
from graphgrad.errors import CheckpointError, ConfigError
from graphgrad.ops.core import TRACER
from graphgrad.optim.optimizer import Optimizer, check_hyper
from graphgrad.tensor import CAPTURE

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "ReduceLROnPlateau",
]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(f"a learning-rate scheduler needs an Optimizer, got {type(optimizer).__name__}")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"invalid {name}: {value!r} (must be a positive integer)")


class _SchedulerState:
    """What every scheduler shares: the last learning rates, and its state as JSON values."""

    optimizer: Optimizer
    _last_lr: list[float]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer, as JSON values."""
        return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        unknown = sorted(set(state_dict) - set(vars(self)))
        if unknown:
            raise CheckpointError(f"{type(self).__name__} state has unknown keys {unknown}")
        self._check_state(state_dict)
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "optimizer"})

    def _check_state(self, state_dict: dict[str, Any]) -> None:
        """Refuse a state that does not fit this optimizer (before anything changes)."""

    def restart_from(self, lr: float) -> None:
        """Make ``lr`` every group's rate from now on (a schedule keeps its position and follows its
        curve scaled to start from ``lr``); used to go on with another rate, e.g. after divergence."""
        check_hyper("lr", lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._last_lr = [lr] * len(self.optimizer.param_groups)


class LRScheduler(_SchedulerState):
    """Base class: subclasses define ``_lr_at(base_lr, epoch)``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ConfigError(
                        f"last_epoch={last_epoch} resumes a schedule, but param_groups[{i}] has no 'initial_lr' "
                        "(load the optimizer's state_dict first, or start with last_epoch=-1)"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rates for the current epoch (``last_epoch``)."""
        return [self._lr_at(base, self.last_epoch) for base in self.base_lrs]

    def step(self, metrics: float | None = None, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and set every group's learning rate.

        ``metrics`` is accepted and ignored, so that every scheduler is stepped the same way."""
        if get_mode() & CAPTURE:  # inside a captured step: the plan calls step again at each replay
            return TRACER[0].effect(type(self).step, self, metrics, epoch)  # type: ignore[no-any-return]
        self._check_rates_are_mine()
        self._go_to(self.last_epoch + 1 if epoch is None else int(epoch))

    def _go_to(self, epoch: int) -> None:
        """Set every group's rate to the schedule's rate at ``epoch``."""
        self.last_epoch = epoch
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def _check_rates_are_mine(self) -> None:
        """Refuse to step when a group's rate is not the one this scheduler set last: another
        scheduler or a change by hand set it, and the closed form would silently overwrite it
        (PyTorch's schedulers chain such changes; these cannot)."""
        for i, (group, mine) in enumerate(zip(self.optimizer.param_groups, self._last_lr)):
            if group["lr"] != mine:
                raise ConfigError(
                    f"{type(self).__name__}.step: param_groups[{i}]['lr'] is {group['lr']:g}, not the {mine:g} it "
                    "set; something else changed it (a second scheduler on this optimizer, or a change by "
                    "hand). Schedules here compute each rate from 'initial_lr' and do not chain, so that "
                    "change would be lost: use one scheduler per optimizer, and scheduler.restart_from(lr) "
                    "to go on from another rate"
                )

    def restart_from(self, lr: float) -> None:
        check_hyper("lr", lr)
        for group in self.optimizer.param_groups:
            group["initial_lr"] = lr
        self.base_lrs = [lr] * len(self.optimizer.param_groups)
        self._go_to(self.last_epoch)  # the same epoch, from the new base rate

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the schedule and put the optimizer's rates where it was (as its own step would)."""
        super().load_state_dict(state_dict)
        self._go_to(self.last_epoch)

    def _check_state(self, state_dict: dict[str, Any]) -> None:
        if len(state_dict.get("base_lrs", self.base_lrs)) != len(self.optimizer.param_groups):
            raise CheckpointError(
                f"{type(self).__name__} state has {len(state_dict['base_lrs'])} base learning rates, "
                f"the optimizer has {len(self.optimizer.param_groups)} parameter groups"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (epoch // step_size)``: decay by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_positive_int("step_size", step_size)
        check_hyper("gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (number of milestones <= epoch)``.

    As in PyTorch, milestones may come in any order and may repeat: a milestone listed twice
    multiplies by ``gamma`` twice at that epoch."""

    def __init__(
        self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int) or m < 0:
                raise ConfigError(f"invalid milestone {m!r} in {milestones} (must be non-negative integers)")
        check_hyper("gamma", gamma)
        self.milestones = sorted(milestones)  # repeats kept: each one counts
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """``lr = initial_lr * gamma ** epoch``: the lecture notes' exponential decay."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_hyper("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Past ``T_max`` the cosine continues (rising again), as PyTorch's closed form does.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        _check_positive_int("T_max", T_max)
        check_hyper("eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Linear warm-up: the factor goes from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs, then stays: ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not (isinstance(start_factor, (int, float)) and 0 < start_factor <= 1):
            raise ConfigError(f"invalid start_factor: {start_factor!r} (must be in (0, 1])")
        check_hyper("end_factor", end_factor, 0.0, 1.0)
        _check_positive_int("total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        progress = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class ReduceLROnPlateau(_SchedulerState):
    """Multiply the learning rates by ``factor`` when a metric stops improving for ``patience`` epochs.

    ``step(metric)`` once per epoch with the validation loss (mode='min') or accuracy (mode='max').
    An epoch improves on the best so far when, for mode='min', ``metric < best * (1 - threshold)``
    (threshold_mode='rel') or ``metric < best - threshold`` ('abs'); mirrored for 'max'. After a
    reduction, ``cooldown`` epochs pass before bad epochs count again; rates never go below
    ``min_lr``, and changes smaller than ``eps`` are skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ConfigError(f"invalid mode: {mode!r} (choose 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ConfigError(f"invalid threshold_mode: {threshold_mode!r} (choose 'rel' or 'abs')")
        check_hyper("factor", factor, 0.0, 1.0, high_open=True)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"invalid patience: {patience!r} (must be an integer >= 0)")
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
            raise ConfigError(f"invalid cooldown: {cooldown!r} (must be an integer >= 0)")
        check_hyper("threshold", threshold)
        check_hyper("eps", eps)
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ConfigError(f"min_lr has {len(min_lrs)} values for {n} parameter groups")
        for v in min_lrs:
            check_hyper("min_lr", v)
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lrs = min_lrs
        self.eps = eps
        self.best: float | None = None  # None: no metric seen yet (JSON has no infinity)
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, metric: float, best: float | None) -> bool:
        if best is None:
            return not math.isnan(metric)
        if self.mode == "min":
            bound = best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return metric < bound
        bound = best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        return metric > bound

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: float | None = None) -> None:
        """Record this epoch's metric; reduce the rates if it has not improved for too long."""
        if get_mode() & CAPTURE:
            return TRACER[0].effect(type(self).step, self, metrics)  # type: ignore[no-any-return]
        if metrics is None:
            raise ConfigError("ReduceLROnPlateau.step needs the monitored metric, e.g. step(val_loss)")
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = group["lr"]
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def __repr__(self) -> str:
        return f"ReduceLROnPlateau(mode={self.mode!r}, best={self.best}, bad_epochs={self.num_bad_epochs})"

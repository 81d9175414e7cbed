"""Learning-rate schedules against their closed-form formulas, plus ReduceLROnPlateau's bookkeeping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim
from graphgrad.errors import ConfigError
from graphgrad.optim import lr_scheduler


def make_opt(lr=0.1, second_lr=None):
    p = gg.Tensor(np.ones(2), requires_grad=True)
    groups = [{"params": [p]}]
    if second_lr is not None:
        groups.append({"params": [gg.Tensor(np.ones(1), requires_grad=True)], "lr": second_lr})
    return optim.SGD(groups, lr=lr)


def lrs_over(sched, epochs):
    """lr at epoch 0 (set at construction) and after each of ``epochs - 1`` steps."""
    out = [sched.get_last_lr()]
    for _ in range(epochs - 1):
        sched.step()
        out.append(sched.get_last_lr())
    return out


def test_step_lr():
    opt = make_opt(0.1, second_lr=1.0)
    got = lrs_over(lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), 10)
    for e, lrs in enumerate(got):
        assert lrs == pytest.approx([0.1 * 0.5 ** (e // 3), 1.0 * 0.5 ** (e // 3)], rel=1e-15)
    assert opt.param_groups[1]["lr"] == got[-1][1]


def test_multistep_lr():
    got = lrs_over(lr_scheduler.MultiStepLR(make_opt(1.0), milestones=[2, 5], gamma=0.1), 8)
    want = [1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01]
    assert [g[0] for g in got] == pytest.approx(want, rel=1e-12)


def test_exponential_lr():
    got = lrs_over(lr_scheduler.ExponentialLR(make_opt(0.2), gamma=0.9), 12)
    assert [g[0] for g in got] == pytest.approx([0.2 * 0.9**e for e in range(12)], rel=1e-15)


def test_cosine_annealing_lr():
    got = lrs_over(lr_scheduler.CosineAnnealingLR(make_opt(0.1), T_max=10, eta_min=0.001), 11)
    want = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)]
    assert [g[0] for g in got] == pytest.approx(want, rel=1e-15)
    assert got[0][0] == pytest.approx(0.1) and got[10][0] == pytest.approx(0.001) and got[5][0] == pytest.approx(0.0505)


def test_linear_lr_warmup():
    got = lrs_over(lr_scheduler.LinearLR(make_opt(0.3), start_factor=0.25, end_factor=1.0, total_iters=4), 7)
    assert [g[0] for g in got] == pytest.approx([0.075, 0.13125, 0.1875, 0.24375, 0.3, 0.3, 0.3], rel=1e-14)


def test_scheduler_sets_optimizer_lr_and_initial_lr():
    opt = make_opt(0.1)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and sched.last_epoch == 0
    sched.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025) and sched.last_epoch == 2


def test_scheduler_resume_with_last_epoch():
    opt = make_opt(0.1)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    for _ in range(3):
        sched.step()
    state = json.loads(json.dumps(sched.state_dict()))
    resumed = lr_scheduler.StepLR(opt, step_size=2)
    resumed.load_state_dict(state)
    resumed.step()
    assert resumed.last_epoch == 4 and resumed.get_last_lr() == pytest.approx([0.1 * 0.1**2])
    fresh = make_opt(0.1)
    with pytest.raises(ConfigError, match="initial_lr"):
        lr_scheduler.StepLR(fresh, step_size=2, last_epoch=3)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), "step_size: 0"),
        (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-1), "gamma: -1"),
        (lambda o: lr_scheduler.MultiStepLR(o, milestones=[5, -2]), "invalid milestone -2"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max: 0"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), "start_factor: 0.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "factor: 1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "'min' or 'max'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), "'rel' or 'abs'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0, 0.1]), "2 values for 1"),
        (lambda o: lr_scheduler.StepLR("adam", step_size=1), "needs an Optimizer"),
    ],
)
def test_invalid_scheduler_settings(make, match):
    with pytest.raises(ConfigError, match=match):
        make(make_opt())


# ------------------------------------------------------------------ ReduceLROnPlateau
def test_plateau_reduces_after_patience():
    opt = make_opt(1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    lrs = []
    for metric in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.5]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # bad epochs 3, 4, 5 -> reduce at the third; bad epochs 6, 7, 8 -> reduce again
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_threshold_modes_and_max():
    opt = make_opt(1.0)
    rel = lr_scheduler.ReduceLROnPlateau(opt, threshold=0.1)
    rel.step(1.0)
    assert not rel.is_better(0.95, rel.best) and rel.is_better(0.89, rel.best)
    ab = lr_scheduler.ReduceLROnPlateau(opt, threshold=0.1, threshold_mode="abs", mode="max")
    ab.step(0.5)
    assert not ab.is_better(0.55, ab.best) and ab.is_better(0.61, ab.best)


def test_plateau_cooldown_and_min_lr():
    opt = make_opt(1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0, cooldown=2, min_lr=0.05)
    lrs = []
    for metric in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # reduce at epoch 2 (to 0.1), two cooldown epochs, reduce at epoch 5 but not below min_lr
    assert lrs == pytest.approx([1.0, 0.1, 0.1, 0.1, 0.05, 0.05])


def test_plateau_nan_is_a_bad_epoch_and_state_is_json():
    opt = make_opt(1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(float("nan"))
    assert sched.best is None and opt.param_groups[0]["lr"] == pytest.approx(0.1)
    sched.step(0.3)
    state = json.loads(json.dumps(sched.state_dict(), allow_nan=False))
    other = lr_scheduler.ReduceLROnPlateau(make_opt(1.0), patience=0)
    other.load_state_dict(state)
    assert other.best == 0.3 and other.last_epoch == 2 and other.num_bad_epochs == 0


# ------------------------------------------------------------------ issue 8 §5, issue 14 §13
@pytest.mark.parametrize("milestones", [[5, 2], [2, 2, 5], [6, 1, 3, 3, 3]])
def test_multistep_unsorted_and_repeated_milestones_match_pytorch(milestones):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.ones(1))
    t_opt = torch.optim.SGD([p], lr=1.0)
    t_sched = torch.optim.lr_scheduler.MultiStepLR(t_opt, milestones=milestones, gamma=0.5)
    want = [t_sched.get_last_lr()[0]]
    for _ in range(8):
        t_opt.step()
        t_sched.step()
        want.append(t_sched.get_last_lr()[0])
    got = [g[0] for g in lrs_over(lr_scheduler.MultiStepLR(make_opt(1.0), milestones=milestones, gamma=0.5), 9)]
    assert got == pytest.approx(want, rel=1e-12)
    if milestones == [2, 2, 5]:  # by hand: the repeated milestone applies gamma twice
        assert got[:3] == pytest.approx([1.0, 1.0, 0.25])


def test_every_scheduler_takes_step_metrics():
    scheds = [lr_scheduler.StepLR(make_opt(), step_size=1, gamma=0.5), lr_scheduler.ExponentialLR(make_opt(), 0.5),
              lr_scheduler.CosineAnnealingLR(make_opt(), T_max=4), lr_scheduler.LinearLR(make_opt()),
              lr_scheduler.MultiStepLR(make_opt(), [1]), lr_scheduler.ReduceLROnPlateau(make_opt(), patience=0)]
    for sched in scheds:
        before = sched.get_last_lr()[0]
        sched.step(metrics=1.0)
        sched.step(metrics=2.0)  # a worse metric: the plateau scheduler reduces, the others step anyway
        assert sched.get_last_lr()[0] != before, type(sched).__name__  # warm-up rises, the others fall
    with pytest.raises(ConfigError, match="needs the monitored metric"):
        lr_scheduler.ReduceLROnPlateau(make_opt()).step()


def test_two_schedules_on_one_optimizer_are_refused_not_silently_overridden():
    # PyTorch chains them (StepLR then ExponentialLR multiply); closed forms here cannot, and the
    # second used to overwrite the first without a word (0.9**e instead of 0.5**(e//3) * 0.9**e).
    opt = make_opt(0.1)
    first = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    second = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    first.step()
    second.step()
    with pytest.raises(ConfigError, match=r"StepLR.step: param_groups\[0\]\['lr'\] is 0.09, not the 0.1 it set"):
        first.step()


def test_a_rate_changed_by_hand_is_refused_and_restart_from_is_the_way():
    opt = make_opt(0.1)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.step()
    opt.param_groups[0]["lr"] = 1.0  # PyTorch would go on from 1.0; the closed form would drop it
    with pytest.raises(ConfigError, match=r"restart_from"):
        sched.step()
    assert opt.param_groups[0]["lr"] == 1.0  # nothing changed by the refused step
    sched.restart_from(1.0)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.25])


def test_a_scheduler_made_again_on_the_same_optimizer_takes_over():
    opt = make_opt(0.1)
    lr_scheduler.StepLR(opt, step_size=1, gamma=0.5).step()
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)  # replaces the first (no longer stepped)
    assert lrs_over(sched, 3) == [[0.1], [0.05], [0.025]]


def test_one_schedule_matches_torch_step_by_step():
    torch = pytest.importorskip("torch")
    t_opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=2, gamma=0.5)
    sched = lr_scheduler.StepLR(make_opt(0.1), step_size=2, gamma=0.5)
    for _ in range(6):
        t_opt.step()
        t_sched.step()
        sched.step()
        assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-15)

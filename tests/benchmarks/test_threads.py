"""The BLAS thread policy: the user's count always wins; otherwise a run times its own steps on one
thread and on every core and keeps every core only when clearly faster; errors name the option."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from graphgrad import nn, optim, threads
from graphgrad.data import DataLoader, TensorDataset
from graphgrad.errors import ConfigError
from graphgrad.train.callbacks import Callback
from graphgrad.train.trainer import Trainer
from tests.cliproc import gg

pytest.importorskip("threadpoolctl")


@pytest.fixture(autouse=True)
def _no_thread_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in threads.ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-core machine with no other busy process (load average: this process alone)."""
    monkeypatch.setattr(threads, "available", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))


def _no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        pytest.fail("measured the steps although the count was decided without them")

    monkeypatch.setattr(threads, "StepProbe", refuse)


def _drive(probe: threads.StepProbe, seconds: dict[int, float], steps: int = 200) -> list[int]:
    """Steps run on the probe's counts, each taking ``seconds[count]``; the counts used."""
    used = []
    for _ in range(steps):
        n = probe.next_count()
        used.append(n)
        probe.record(seconds[n])
    return used


# ------------------------------------------------------------------ the user's count
def test_limit_sets_blas_threads_and_marks_the_users_choice(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    before = threads.current()
    _no_measuring(monkeypatch)
    with threads.limit(1) as n:
        assert n == 1
        assert threads.current() == 1
        assert threads.pinned() == 1
        with threads.for_run() as run:  # no measurement overrides the user
            assert run.count == 1 and not run.measuring
    assert threads.current() == before
    assert threads.pinned() is None


def test_thread_variable_counts_as_the_users_choice(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    _no_measuring(monkeypatch)
    assert threads.pinned() == 1
    step = lambda: None  # noqa: E731
    with threads.for_run() as run:
        assert run.count == 1 and run.timed(step) is step


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_counts_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"invalid threads .*positive integer"):
        with threads.limit(bad):
            pass
    with pytest.raises(ConfigError, match=r"invalid threads .*positive integer"):
        with threads.for_run(bad):
            pass


def test_mpi_ranks_keep_their_own_limit(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    _no_measuring(monkeypatch)
    with threads.use(1):
        with threads.for_run(None, keep=True) as run:
            assert run.count is None and threads.current() == 1


# ------------------------------------------------------------------ the measurement
def test_busy_load_means_one_thread_without_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "available", lambda: 4)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.5, 2.0, 1.0))
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: 1.5)  # and busy right now
    _no_measuring(monkeypatch)
    step = lambda: None  # noqa: E731
    with threads.for_run() as run:
        assert run.count == 1 and run.timed(step) is step and threads.current() == 1


def test_one_core_means_one_thread_without_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "available", lambda: 1)
    _no_measuring(monkeypatch)
    with threads.for_run() as run:
        assert run.count == 1


def test_steps_clearly_faster_on_every_core_choose_every_core(quiet: None) -> None:
    probe = threads.StepProbe(2)
    used = _drive(probe, {1: 0.010, 2: 0.006})
    assert probe.decision == 2
    # three warm-up steps on one thread, then blocks of >= 20 ms alternating, five of each
    assert used[:3] == [1, 1, 1]
    assert used[3:3 + 2 + 4] == [1, 1, 2, 2, 2, 2]
    assert probe.steps_measured == 5 * 2 + 5 * 4
    assert set(used[3 + probe.steps_measured:]) == {2}
    assert probe.blocks == {1: [0.010] * 5, 2: [pytest.approx(0.006)] * 5}


@pytest.mark.parametrize("threaded", [0.010, 0.0093, 0.011])
def test_ties_and_small_gains_keep_one_thread(quiet: None, threaded: float) -> None:
    """Equal steps, or threads 7% faster (short of THREADS_MUST_BE_FASTER), go to one thread."""
    probe = threads.StepProbe(2)
    used = _drive(probe, {1: 0.010, 2: threaded})
    assert probe.decision == 1 and len(probe.blocks[1]) == len(probe.blocks[2]) == 5
    assert set(used[3 + probe.steps_measured:]) == {1}


def test_measuring_gives_up_early_when_threads_are_slower(quiet: None) -> None:
    """Threads spinning against other work: two blocks 3x slower end the measurement (not five)."""
    probe = threads.StepProbe(2)
    used = _drive(probe, {1: 0.011, 2: 0.033})
    assert probe.decision == 1
    assert used[3:3 + 6] == [1, 1, 2, 1, 1, 2] and set(used[9:]) == {1}


def test_measuring_gives_up_at_once_when_threads_are_far_slower(quiet: None) -> None:
    """One threaded step 40x slower (seen under a competing process) ends the measurement."""
    probe = threads.StepProbe(2)
    used = _drive(probe, {1: 0.025, 2: 1.0})
    assert probe.decision == 1
    assert used[3:3 + 2] == [1, 2] and set(used[5:]) == {1}


def test_one_slow_threaded_block_does_not_give_up(quiet: None) -> None:
    """A single outlier (a step recorded again, a passing process) is left to the medians."""
    probe = threads.StepProbe(2)
    threaded = iter([0.035] + [0.006] * 200)  # the first step on two threads is 3.5x slow
    for _ in range(100):
        probe.record(0.010 if probe.next_count() == 1 else next(threaded))
    assert probe.decision == 2
    assert probe.blocks[2][0] == pytest.approx(0.035) and len(probe.blocks[2]) == 5


def test_load_rising_during_the_measurement_keeps_one_thread(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    probe = threads.StepProbe(2)
    _drive(probe, {1: 0.010, 2: 0.006}, steps=10)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.0, 1.0, 1.0))  # another process started
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: 1.0)
    _drive(probe, {1: 0.010, 2: 0.006})
    assert probe.decision == 1


def test_a_load_average_left_by_work_that_ended_does_not_count(monkeypatch: pytest.MonkeyPatch,
                                                                quiet: None) -> None:
    """The 1-minute average still shows the run before this one; sampled now, nobody else is busy:
    measured as on a quiet machine."""
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.5, 2.0, 1.0))
    samples: list[float] = []
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: samples.append(wait) or 0.1)
    with threads.for_run() as run:
        assert run.probe is not None  # measuring, not one thread outright
        _drive(run.probe, {1: 0.010, 2: 0.006})
        assert run.probe.decision == 2
    assert samples[0] == threads.SAMPLE_SECONDS  # no interval measured yet at the start: sampled
    assert samples[1:] == [0.0]  # the decision: over the measurement itself, no waiting


def test_the_cpu_time_of_other_processes_is_measured() -> None:
    """Two processes spinning: about two cores busy besides this one (Linux's /proc/stat)."""
    if threads._busy_cpu_seconds() is None:
        pytest.skip("no /proc/stat here")
    import subprocess
    import sys

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        busy = threads.OthersCpu().cores(wait=0.3)
    finally:
        for p in spinners:
            p.kill()
    assert busy is not None and 1.2 <= busy <= 2.2  # what 2 cores allow, less scheduler noise


# ------------------------------------------------------------------ in a training run
class _RecordThreads(Callback):
    key = "record_threads"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_batch_end(self, trainer: Any, logs: Any) -> None:
        self.seen.append(threads.current())


def _trainer(n: int = 40, batch: int = 10, epochs: int = 1, **kwargs: Any) -> tuple[Trainer, _RecordThreads]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 64)).astype(np.float32)
    y = rng.integers(0, 3, n)
    model = nn.Sequential(nn.Linear(64, 96, rng=1), nn.ReLU(), nn.Linear(96, 3, rng=2))
    record = _RecordThreads()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=3)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2), nn.functional.cross_entropy, loader,
                      epochs=epochs, callbacks=[record], val_data=(x, y), **kwargs)
    return trainer, record


class _FakeClock:
    """``time`` for graphgrad.threads: each reading advances by a step's made-up time on the current
    BLAS thread count, so a step (two readings) 'takes' ``seconds[count]``."""

    def __init__(self, seconds: dict[int, float]) -> None:
        self.seconds, self.now, self.readings = seconds, 0.0, 0

    def perf_counter(self) -> float:
        self.readings += 1
        if self.readings % 2 == 0:
            self.now += self.seconds[threads.current()]
        return self.now


def test_trainer_runs_with_the_threads_it_is_given(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    before = threads.current()
    _no_measuring(monkeypatch)
    trainer, record = _trainer(threads=1)
    trainer.fit()
    assert trainer.threads_used == 1 and record.seen == [1] * 4
    assert threads.current() == before  # restored after the run


def test_trainer_keeps_the_users_limit_without_measuring(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    _no_measuring(monkeypatch)
    trainer, record = _trainer()
    with threads.limit(1):
        trainer.fit()
    assert trainer.threads_used == 1 and set(record.seen) == {1}


def test_trainer_measures_its_own_steps(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    """Steps made up to be faster on two threads: the run alternates blocks, then keeps two."""
    before = threads.current()
    clock = _FakeClock({1: 0.011, 2: 0.006})
    monkeypatch.setattr(threads, "time", clock)
    trainer, record = _trainer(n=500, batch=10)
    trainer.fit()
    assert trainer.threads_used == 2
    measured = 5 * 2 + 5 * 4  # blocks of 20 ms: two steps on one thread, four on two
    assert clock.readings == 2 * (3 + measured)  # timed while measuring only
    assert record.seen[:3 + 6] == [1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert set(record.seen[3 + measured:]) == {2} and len(record.seen) == 50
    assert threads.current() == before


def test_trainer_keeps_one_thread_when_threads_do_not_pay(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    clock = _FakeClock({1: 0.011, 2: 0.011})
    monkeypatch.setattr(threads, "time", clock)
    trainer, record = _trainer(n=500, batch=10)
    trainer.fit()
    assert trainer.threads_used == 1 and set(record.seen[3 + 20:]) == {1}


def test_a_process_starting_later_sends_the_run_back_to_one_thread(monkeypatch: pytest.MonkeyPatch,
                                                                   quiet: None) -> None:
    """Chose two threads; then the load average rises past what those two threads explain: from the
    next epoch on, one thread."""
    monkeypatch.setattr(threads, "time", _FakeClock({1: 0.011, 2: 0.006}))
    trainer, record = _trainer(n=500, batch=10, epochs=3)
    loads = {1: 2.5, 2: 2.9}  # load average after each epoch: our 2 threads + 0.5, then + 0.9

    class Load(Callback):
        key = "load"

        def on_epoch_end(self, t: Any, logs: Any) -> None:
            monkeypatch.setattr(threads.os, "getloadavg", lambda: (loads[t.epoch], 1.0, 1.0))
            monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: loads[t.epoch] - 2)

    trainer.callbacks.append(Load())
    trainer.fit()
    assert set(record.seen[33:100]) == {2}  # epochs 1 and 2 after the measurement
    assert set(record.seen[100:]) == {1} and trainer.threads_used == 1


def test_a_high_load_average_from_work_that_ended_costs_no_waiting(monkeypatch: pytest.MonkeyPatch,
                                                                    quiet: None) -> None:
    """The load average stays above what our two threads explain while nobody else runs: sampled
    once before the run (0.1 s), then judged over each epoch without waiting; every core kept."""
    monkeypatch.setattr(threads, "time", _FakeClock({1: 0.011, 2: 0.006}))
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 2.0, 1.0))
    waits: list[float] = []
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: waits.append(wait) or 0.1)
    trainer, record = _trainer(n=500, batch=10, epochs=3)
    trainer.fit()
    assert trainer.threads_used == 2 and set(record.seen[33:]) == {2}
    assert waits[0] == threads.SAMPLE_SECONDS and set(waits[1:]) == {0.0} and len(waits) >= 3


def test_a_disturbance_during_the_measurement_is_measured_again_in_a_later_quiet_epoch(
        monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    """Two threads no faster during epoch 1 (something passing by): one thread. Then faster, and the
    others idle over the epoch: epoch 2 measures again from its first step and keeps two threads."""
    clock = _FakeClock({1: 0.011, 2: 0.011})
    monkeypatch.setattr(threads, "time", clock)
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: 0.5)  # a burst, then quiet
    trainer, record = _trainer(n=500, batch=10, epochs=3)

    class Passed(Callback):
        key = "passed"

        def on_epoch_end(self, t: Any, logs: Any) -> None:
            clock.seconds[2] = 0.006
            monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: 0.01)

    trainer.callbacks.append(Passed())
    trainer.fit()
    assert set(record.seen[3 + 20:50]) == {1}  # measured (two-step blocks), then one thread
    assert record.seen[50:56] == [1, 1, 2, 2, 2, 2] and set(record.seen[80:]) == {2}  # no warm-up now
    assert trainer.threads_used == 2


@pytest.mark.parametrize(("during", "after", "looks"), [(0.01, 0.01, 0), (0.5, 0.5, threads.SECOND_LOOKS),
                                                         (0.5, 1.5, 0)],
                         ids=["quiet: trusted", "disturbed, then idle enough", "disturbed, then busy"])
def test_one_thread_is_measured_again_only_after_a_disturbed_measurement_at_most_twice(
        monkeypatch: pytest.MonkeyPatch, quiet: None, during: float, after: float, looks: int) -> None:
    """``during``: other processes' cores while the run measures, ``after``: over each epoch (with a
    load average that looks busy, so that they are asked)."""
    clock = _FakeClock({1: 0.011, 2: 0.011})  # two threads never pay
    monkeypatch.setattr(threads, "time", clock)
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: during)
    trainer, _ = _trainer(n=500, batch=10, epochs=5)

    class Load(Callback):
        key = "load"

        def on_epoch_end(self, t: Any, logs: Any) -> None:
            monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.5, 1.0, 1.0))
            monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: after)

    trainer.callbacks.append(Load())
    trainer.fit()
    assert clock.readings == 2 * (3 + (1 + looks) * 20)  # per measurement 5 blocks of two steps per count
    assert trainer.threads_used == 1


def test_a_measured_run_trains_the_same_model(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    """Measuring changes only which steps run on which thread count: the same steps, epochs and
    history rows, and weights equal to one thread's up to the order of BLAS's sums."""
    monkeypatch.setattr(threads, "time", _FakeClock({1: 0.011, 2: 0.006}))
    measured, _ = _trainer(n=200, batch=10, epochs=3)
    measured.fit()
    assert measured.threads_used == 2
    pinned, _ = _trainer(n=200, batch=10, epochs=3, threads=1)
    pinned.fit()
    assert measured.step == pinned.step == 60 and measured.epoch == pinned.epoch == 3
    for a, b in zip(measured.model.parameters(), pinned.model.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-6)
    for row_a, row_b in zip(measured.history, pinned.history, strict=True):
        assert row_a.keys() == row_b.keys()
        assert row_a["train_loss"] == pytest.approx(row_b["train_loss"], rel=1e-4)
        assert row_a["val_accuracy"] == row_b["val_accuracy"]


def test_trainer_on_a_busy_machine_does_not_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "available", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    monkeypatch.setattr(threads.OthersCpu, "cores", lambda self, wait=0.0: 2.0)
    _no_measuring(monkeypatch)
    trainer, record = _trainer()
    trainer.fit()
    assert trainer.threads_used == 1 and set(record.seen) == {1}


def test_cli_refuses_a_bad_thread_count_in_one_line() -> None:
    r = gg("train", "--threads", "0", "--epochs", "1")
    assert r.code == 2
    assert r.err.strip() == ("graphgrad: error: invalid threads 0: the number of BLAS threads must be a "
                             "positive integer")


def test_cnn_digits_reports_the_measured_steps(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    from graphgrad.benchmarks.cnn_digits import _measured_steps

    monkeypatch.setattr(threads, "time", _FakeClock({1: 0.011, 2: 0.006}))
    trainer, _ = _trainer(n=500, batch=10)
    trainer.fit()
    assert _measured_steps(trainer) == {"1": 11.0, "2": 6.0}
    pinned, _ = _trainer(threads=1)
    pinned.fit()
    assert _measured_steps(pinned) is None

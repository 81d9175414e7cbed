"""The BLAS thread policy: the user's count always wins, a run measures otherwise, errors name the option."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


def test_limit_sets_blas_threads_and_marks_the_users_choice() -> None:
    before = threads.current()
    with threads.limit(1) as n:
        assert n == 1
        assert threads.current() == 1
        assert threads.pinned() == 1
        assert threads.choose([(512, 512, 512)]) == 1  # no measurement overrides the user
    assert threads.current() == before
    assert threads.pinned() is None


def test_thread_variable_counts_as_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert threads.pinned() == 1
    assert threads.choose([(256, 256, 256)]) == 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_counts_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"invalid threads .*positive integer"):
        with threads.limit(bad):
            pass


def test_measurement_returns_one_or_every_core() -> None:
    assert threads.choose([(8, 8, 8)] * 3) in (1, threads.available())
    assert threads.choose([]) == 1


def test_other_busy_processes_mean_one_thread_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "available", lambda: 4)
    monkeypatch.setattr(threads, "_time_products", lambda *a: pytest.fail("probed although others are busy"))
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.5, 2.0, 1.0))
    assert threads.choose([(512, 512, 512)]) == 1


def test_every_core_only_when_clearly_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's times are made up: threads 15% faster is not enough, 40% faster is."""
    monkeypatch.setattr(threads, "available", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # this process alone
    using = [1]

    @contextlib.contextmanager
    def use(n: int) -> Iterator[int]:
        using.append(n)
        yield n
        using.pop()

    monkeypatch.setattr(threads, "use", use)
    for ratio, want in ((0.85, 1), (0.6, 2)):
        probe = lambda arrays, repeats, r=ratio: 0.01 * (r if using[-1] == 2 else 1)  # noqa: E731
        monkeypatch.setattr(threads, "_time_products", probe)
        assert threads.choose([(512, 512, 512)]) == want


def test_matmul_shapes_of_a_linear_layer() -> None:
    layer = nn.Linear(7, 3, rng=0)
    assert threads.matmul_shapes(layer.parameters(), 5) == [(5, 7, 3), (5, 3, 7), (3, 5, 7)]


class _RecordThreads(Callback):
    key = "record_threads"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_batch_end(self, trainer: Any, logs: Any) -> None:
        self.seen.append(threads.current())


def _trainer(**kwargs: Any) -> tuple[Trainer, _RecordThreads]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = nn.Sequential(nn.Linear(6, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2))
    record = _RecordThreads()
    loader = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=False)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, loader, epochs=1,
                      callbacks=[record], **kwargs)
    return trainer, record


def test_trainer_runs_with_the_threads_it_is_given() -> None:
    before = threads.current()
    trainer, record = _trainer(threads=1)
    trainer.fit()
    assert trainer.threads_used == 1 and record.seen == [1] * 4
    assert threads.current() == before  # restored after the run


def test_trainer_measures_when_not_told_and_keeps_the_users_limit() -> None:
    trainer, record = _trainer()
    trainer.fit()
    assert trainer.threads_used in (1, threads.available())
    assert set(record.seen) == {trainer.threads_used}
    trainer, record = _trainer()
    with threads.limit(1):
        trainer.fit()
    assert trainer.threads_used == 1 and set(record.seen) == {1}


def test_cli_refuses_a_bad_thread_count_in_one_line() -> None:
    r = gg("train", "--threads", "0", "--epochs", "1")
    assert r.code == 2
    assert r.err.strip() == ("graphgrad: error: invalid threads 0: the number of BLAS threads must be a "
                             "positive integer")

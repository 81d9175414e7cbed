"""How many BLAS threads NumPy's matrix products use, decided per training run.

On small matrices BLAS threads spin against any other busy process and a run can take ten times
longer than on one thread; on large matrices of a quiet machine, threads pay. So the count is
*measured*, once per training run (switching per op costs more than it saves), on the run's own
training steps: after a few warm-up steps (a captured step's two recordings and its first replay),
blocks of steps alternate between one thread and every core, and every core is kept only when its
median step is clearly faster (:class:`StepProbe`); a run kept on one thread by a measurement
that other processes disturbed measures again in a later epoch when the machine is quiet. Every
measured step is a real step of the run, so nothing is wasted, and whatever the step does
(convolutions' products included) is what is timed. When other processes are busy, one thread is
kept without measuring (a short measurement can miss a competitor that threads would then spin
against): the load average says so and a sample of the others' CPU time confirms it (the average
alone still counts work that ended, such as the run before this one). A user's explicit choice
(:func:`limit`, ``--threads N``, ``Trainer(threads=N)``, or an ``OMP/OPENBLAS/MKL_NUM_THREADS``
variable) always wins over the measurement. Under MPI each rank
calls ``limit(1)``: ranks share the cores already.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from time import monotonic as _wall_seconds
from time import process_time as _own_cpu_seconds
from time import sleep as _sleep  # the meter's clocks: steps are timed with time.perf_counter
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError

__all__ = ["RunThreads", "StepProbe", "available", "current", "for_run", "limit", "pinned", "use"]

ENV_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_pinned: list[int] = []  # the counts chosen by the user, innermost last


def _check(n: Any, where: str = "threads") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"invalid {where} {n!r}: the number of BLAS threads must be a positive integer")
    return int(n)


def available() -> int:
    """The cores this process may run on: the most threads worth trying."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def current() -> int:
    """The thread count BLAS uses right now."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else 1


def pinned() -> int | None:
    """The count the user chose (innermost :func:`limit`, or a thread variable), else None."""
    if _pinned:
        return _pinned[-1]
    for name in ENV_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


@contextlib.contextmanager
def limit(n: int) -> Iterator[int]:
    """Use ``n`` BLAS threads inside the block (the user's choice: measurement will not override
    it); ``graphgrad.threads.limit(1)`` is what each MPI rank calls."""
    n = _check(n)
    from threadpoolctl import threadpool_limits

    _pinned.append(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        _pinned.pop()


@contextlib.contextmanager
def use(n: int) -> Iterator[int]:
    """Use ``n`` BLAS threads inside the block without marking it as the user's choice."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=_check(n), user_api="blas"):
        yield n


THREADS_MUST_BE_FASTER = 0.9
"""Every core is chosen only when its median step takes at most this fraction of one thread's: the
measurement can catch a competing process asleep, and a wrong choice of threads costs far more
(threads spinning against that process) than a wrong choice of one thread. A tenth is well beyond
the noise of medians of five blocks on a quiet machine (a few percent), and a process that starts
later sends the run back to one thread at the next epoch. (At 0.8 the CNN on the built-in digits,
whose steps take 0.79-0.84 of one thread's time on two, kept one thread in most runs.)"""

OTHERS_BUSY_LOAD = 0.75
"""Other processes keep at least this much of a core busy (1-minute load average, less this
process's own core): threads would spin against them, so one thread is chosen without measuring."""

WARMUP_STEPS = 3
"""Steps run on one thread before measuring: a captured step's two recordings and its first replay
(an eager step's first call) are slower than the steps that follow."""

BLOCK_SECONDS = 0.02
"""A block of measured steps at one count lasts until its steps took this long (one step at least):
long enough that one step's jitter averages out, short enough that a slow block costs little."""

ROUNDS = 5
"""Blocks of each count, alternating (so a process that comes and goes hits both): medians of 5."""

GIVE_UP = 1.5
"""Measuring stops early, keeping one thread, once two blocks on every core have each been this
much slower per step than one thread's median: threads are spinning against other work."""

GIVE_UP_AT_ONCE = 4.0
"""... or once one block on every core has been this much slower: under a competing process a
threaded step can take 40 times one thread's, and a second such block would cost seconds."""


SECOND_LOOKS = 2
"""A run kept on one thread by a disturbed measurement (:data:`DISTURBED`) measures again at the
start of a later epoch, up to this many times, when other processes were idle over the last epoch:
a burst that passed (a job that ended, a neighbour on a shared host) does not keep the run on one
thread for good. Each look costs no more than its threaded blocks (the give-up rules bound those)."""

DISTURBED = 0.25
"""Cores other processes used over a measurement above which its verdict of one thread is not
trusted for good: a quiet machine shows 0-0.02 here (kernel threads), and a quarter of a core
taken from a threaded product's second thread makes the whole product wait for it."""

SAMPLE_SECONDS = 0.1
"""How long other processes' CPU time is sampled when the load average suggests they are busy and
no recent interval was measured."""


def _others_busy(own: int = 1, recent: float | None = None) -> bool:
    """Whether other processes keep a core busy besides this one running on ``own`` threads (Unix;
    False where unknown). The 1-minute load average first (free); when it says so, confirmed by
    the cores the others used lately (``recent``, from an :class:`OthersCpu`), else over a
    :data:`SAMPLE_SECONDS` sample: the average still counts work that ended up to a minute ago,
    such as the training run before this one."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    if load - own < OTHERS_BUSY_LOAD:  # this process, busy with the run, counts about ``own``
        return False
    if recent is None:
        recent = OthersCpu().cores(wait=SAMPLE_SECONDS)
    return recent is None or recent >= OTHERS_BUSY_LOAD


class OthersCpu:
    """The cores processes other than this one kept busy between two looks: the busy time of every
    CPU (``/proc/stat``, Linux) less this process's own CPU time, over the wall time between."""

    def __init__(self) -> None:
        self._mark = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float] | None:
        busy = _busy_cpu_seconds()
        return None if busy is None else (busy, _own_cpu_seconds(), _wall_seconds())

    def cores(self, wait: float = 0.0) -> float | None:
        """Since the last look (or after ``wait`` seconds more); None without ``/proc/stat`` or over
        less than a hundredth of a second."""
        if wait:
            _sleep(wait)
        then, now = self._mark, self._now()
        self._mark = now
        if then is None or now is None or now[2] - then[2] < 0.01:
            return None
        return max(0.0, (now[0] - then[0]) - (now[1] - then[1])) / (now[2] - then[2])


def _busy_cpu_seconds() -> float | None:
    """CPU seconds every CPU has spent busy since boot (not idle or waiting for I/O), from the first
    line of ``/proc/stat`` (Linux); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(ticks) < 5:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class StepProbe:
    """The choice between one thread and ``most`` from the times of a run's steps.

    Ask :meth:`next_count` before each step, run the step on that many threads, then tell
    :meth:`record` how long it took; :attr:`decision` is set once the blocks are measured (ties
    and anything short of :data:`THREADS_MUST_BE_FASTER` go to one thread, which never collapses).
    """

    def __init__(self, most: int, warmup: int = WARMUP_STEPS, rounds: int = ROUNDS,
                 block_seconds: float = BLOCK_SECONDS) -> None:
        self.most, self.warmup, self.block_seconds = most, warmup, block_seconds
        self.decision: int | None = None
        self.blocks: dict[int, list[float]] = {1: [], most: []}  # seconds per step of each block
        self.steps_measured = 0
        self._order = [n for _ in range(rounds) for n in (1, most)]  # the blocks still to run
        self._block_seconds, self._block_steps = 0.0, 0  # the current block's so far
        self.others = OthersCpu()  # other processes' CPU use over the measurement, for the decision
        self.others_during: float | None = None

    def next_count(self) -> int:
        """The thread count of the next step."""
        if self.decision is not None:
            return self.decision
        return 1 if self.warmup > 0 else self._order[0]

    def record(self, seconds: float) -> None:
        """The last step, run on :meth:`next_count` threads, took ``seconds``."""
        if self.decision is not None:
            return
        if self.warmup > 0:
            self.warmup -= 1
            return
        self.steps_measured += 1
        self._block_seconds += seconds
        self._block_steps += 1
        if self._block_seconds < self.block_seconds:
            return
        n = self._order.pop(0)
        self.blocks[n].append(self._block_seconds / self._block_steps)
        self._block_seconds, self._block_steps = 0.0, 0
        single, many = self.blocks[1], self.blocks[self.most]
        slower = sorted((b / statistics.median(single) for b in many), reverse=True)
        if slower and (slower[0] > GIVE_UP_AT_ONCE or (len(slower) >= 2 and slower[1] > GIVE_UP)):
            self._decide(1)
        elif not self._order:
            faster = statistics.median(many) < THREADS_MUST_BE_FASTER * statistics.median(single)
            self._decide(self.most if faster else 1)

    def _decide(self, n: int) -> None:
        """Decide ``n`` threads, one if other processes are busy; note how busy they were."""
        self.others_during = self.others.cores()  # over the measurement
        self.decision = 1 if n > 1 and _others_busy(recent=self.others_during) else n

    @property
    def disturbed(self) -> bool:
        """Whether other processes used at least :data:`DISTURBED` cores during the measurement."""
        return self.others_during is not None and self.others_during >= DISTURBED


class RunThreads:
    """The BLAS threads of one training run: a fixed count, or measured on the run's steps.

    :attr:`count` is the count the run uses: the fixed one, the measured decision, or one until
    the decision (when the run ends before it, every step was on one thread or a measured block).
    A run that chose every core goes back to one thread at the start of an epoch when the load
    average shows that other processes have started since; a run that measured one thread while
    others were busy (:data:`DISTURBED`) measures again at the start of a later epoch when they
    were idle over the last one (at most :data:`SECOND_LOOKS` times).
    """

    def __init__(self, count: int | None, probe: StepProbe | None = None, controller: Any = None) -> None:
        self._fixed, self.probe, self._controller = count, probe, controller
        self._now = 1
        self._looks_left = SECOND_LOOKS

    @property
    def count(self) -> int | None:
        if self.probe is None:
            return self._fixed
        return 1 if self.probe.decision is None else self.probe.decision

    @property
    def measuring(self) -> bool:
        return self.probe is not None and self.probe.decision is None

    def timed(self, step: Callable[..., Any]) -> Callable[..., Any]:
        """``step`` itself when nothing is measured, else ``step`` run on the probe's counts and timed
        (called at the start of each epoch)."""
        probe = self.probe
        if probe is not None and probe.decision is not None:
            recent = probe.others.cores()  # over the last epoch: a look at /proc/stat, no wait
            if probe.decision > 1 and _others_busy(probe.decision, recent):
                probe.decision = 1
                self._switch(1)
            elif probe.decision == 1 and probe.disturbed and self._looks_left > 0 and not _others_busy(1, recent):
                self._looks_left -= 1
                self.probe = StepProbe(probe.most, warmup=0)  # measured again from this epoch's first step
        if not self.measuring:
            return step

        def measured(*args: Any) -> Any:
            probe = self.probe
            assert probe is not None
            if probe.decision is not None:
                return step(*args)
            self._switch(probe.next_count())
            start = time.perf_counter()
            out = step(*args)
            probe.record(time.perf_counter() - start)
            if probe.decision is not None:
                self._switch(probe.decision)
            return out

        return measured

    def _switch(self, n: int) -> None:
        if n != self._now:
            self._controller.limit(limits=n, user_api="blas")  # applied now; for_run restores at the end
            self._now = n


@contextlib.contextmanager
def for_run(threads: int | None = None, keep: bool = False) -> Iterator[RunThreads]:
    """The BLAS threads of one training run, restored at the end: ``threads`` if given, else the
    user's (:func:`pinned`); else, with ``keep`` (MPI ranks), the limit already set (count None);
    else one thread on one core or beside other busy processes; else measured on the run's steps,
    which the run passes through :meth:`RunThreads.timed`."""
    if threads is None and keep:
        yield RunThreads(None)
        return
    n = _check(threads) if threads is not None else pinned()
    most = available()
    if n is None and (most <= 1 or _others_busy()):
        n = 1
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    with controller.limit(limits=n or 1, user_api="blas"):
        yield RunThreads(n) if n is not None else RunThreads(None, StepProbe(most), controller)

"""How many BLAS threads NumPy's matrix products use, decided per training run.

On small matrices BLAS threads spin against any other busy process and a run can take ten times
longer than on one thread; on large matrices of a quiet machine, threads pay. So the count is
*measured*, once per training run (switching per op costs more than it saves): :func:`choose`
times the run's own matrix products with one thread and with all of them, interleaved, and keeps
every core only when clearly faster; when the load average shows other busy processes it keeps one
thread without probing (a short probe can miss a competitor that threads would then spin against).
A user's explicit choice (:func:`limit`, ``--threads N``, ``Trainer(threads=N)``, or an
``OMP/OPENBLAS/MKL_NUM_THREADS`` variable) always wins over the measurement. Under MPI each rank
calls ``limit(1)``: ranks share the cores already.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError

__all__ = ["available", "choose", "current", "limit", "pinned", "use"]

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


def matmul_shapes(parameters: Iterable[Any], batch: int) -> list[tuple[int, int, int]]:
    """``(rows, inner, cols)`` of the products a step of a model with these parameters makes:
    each 2-D weight ``(out, in)`` gives a forward ``(batch, in) @ (in, out)`` and two backward
    products of the same size."""
    shapes = []
    for p in parameters:
        data = getattr(p, "data", p)
        if getattr(data, "ndim", 0) == 2:
            out, inp = data.shape
            shapes += [(batch, inp, out), (batch, out, inp), (out, batch, inp)]
    return shapes


def _time_products(arrays: list[tuple[np.ndarray, np.ndarray]], repeats: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        for a, b in arrays:
            a @ b
    return time.perf_counter() - t0


def choose(shapes: list[tuple[int, int, int]], rounds: int = 5, dtype: Any = np.float32) -> int:
    """The faster of one thread and all of them for these products, timed here and now.

    Blocks of each count alternate ``rounds`` times (so a competing process that comes and goes
    hits both) and the medians are compared; ties go to one thread, which never collapses.
    Returns the user's count (:func:`pinned`) without measuring when there is one.
    """
    user = pinned()
    if user is not None:
        return user
    most = available()
    if most <= 1 or not shapes or _others_busy():
        return 1
    rng = np.random.default_rng(0)
    arrays = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
              for m, k, n in shapes]
    with use(1):
        _time_products(arrays, 1)  # warm up
        one_step = max(_time_products(arrays, 1), 1e-6)
    repeats = max(1, int(0.01 / one_step))  # blocks of ~10 ms
    samples: dict[int, list[float]] = {1: [], most: []}
    for _ in range(rounds):
        for n in (1, most):
            with use(n):
                samples[n].append(_time_products(arrays, repeats))
    many, single = statistics.median(samples[most]), statistics.median(samples[1])
    return most if many < THREADS_MUST_BE_FASTER * single else 1


THREADS_MUST_BE_FASTER = 0.8
"""Every core is chosen only when the probe runs in at most this fraction of one thread's time: a
short probe can catch a competing process asleep, and a wrong choice of threads costs far more
(threads spinning against that process) than a wrong choice of one thread."""

OTHERS_BUSY_LOAD = 0.75
"""Other processes keep at least this much of a core busy (1-minute load average, less this
process's own core): threads would spin against them, so one thread is chosen without probing."""


def _others_busy() -> bool:
    """Whether the load average shows work besides this process (Unix; False where unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load - 1.0 >= OTHERS_BUSY_LOAD  # this process, busy with the run, counts about 1


@contextlib.contextmanager
def for_run(threads: int | None, shapes: list[tuple[int, int, int]]) -> Iterator[int]:
    """The thread count of one training run: ``threads`` if given, else the user's, else measured."""
    n = _check(threads) if threads is not None else choose(shapes)
    with use(n):
        yield n

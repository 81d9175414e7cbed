"""Timing helpers: medians of per-step times over blocks long enough for the clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def steps_per_block(step: Callable[[], object], min_block_s: float = 0.02) -> int:
    """How many steps make a block of at least ``min_block_s`` (timer resolution, noise)."""
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(min_block_s / one))


def time_block(step: Callable[[], object], n: int) -> float:
    """Seconds per step over a block of ``n`` steps."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def interleaved_medians(steps: dict[str, Callable[[], object]], rounds: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds per step of each contender, timed in alternating blocks so drift cancels."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    sizes = {name: steps_per_block(step) for name, step in steps.items()}
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            samples[name].append(time_block(step, sizes[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


def record_against_numpy(
    results: dict[str, Any], key: str, step: Callable[[], object], numpy_step: Callable[[], object], rounds: int
) -> None:
    """Time a peer's ``step`` interleaved with the hand-written ``numpy_step`` of the same process and
    record both medians and their ratio under ``key`` in ``results["step_s"]``, ``["numpy_s"]`` and
    ``["ratio"]`` (what every peer process of ``graphgrad bench speed`` reports)."""
    medians = interleaved_medians({"numpy": numpy_step, "peer": step}, rounds=rounds)
    results["step_s"][key] = medians["peer"]
    results["numpy_s"][key] = medians["numpy"]
    results["ratio"][key] = medians["peer"] / medians["numpy"]

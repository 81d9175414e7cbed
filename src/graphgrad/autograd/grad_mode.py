"""The engine's switches, per thread (as in PyTorch): record a graph, anomaly checks, rules running.

All switches live in one small integer, ``STATE.mode``, so the hot path (every op call) reads a
single thread-local attribute. A new thread starts with recording on and nothing else.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

RECORD = 1
"""Ops record the graph (grad mode)."""
ANOMALY = 2
"""Ops check for NaN and remember the user's line (:func:`graphgrad.detect_anomaly`)."""
CHECK_INF = 4
"""Anomaly mode also stops at infinities."""
RULES = 8
"""The engine is applying gradient rules: products follow ``0 * x = 0`` (see ``Op(zero_safe_forward=)``)."""


class _State(threading.local):
    """``mode``: the bit set above, one per thread; named properties for code off the hot path."""

    mode: int

    def __init__(self) -> None:
        self.mode = RECORD

    def _get(self, bit: int) -> bool:
        return bool(self.mode & bit)

    def _set(self, bit: int, on: bool) -> None:
        self.mode = self.mode | bit if on else self.mode & ~bit

    enabled = property(lambda self: self._get(RECORD), lambda self, v: self._set(RECORD, v))
    anomaly = property(lambda self: self._get(ANOMALY), lambda self, v: self._set(ANOMALY, v))
    check_inf = property(lambda self: self._get(CHECK_INF), lambda self, v: self._set(CHECK_INF, v))
    in_rules = property(lambda self: self._get(RULES), lambda self, v: self._set(RULES, v))


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward (in this thread)."""
    return bool(STATE.mode & RECORD)


class _GradSwitch:
    """Context manager and decorator that sets grad recording on or off, then restores it."""

    _value: bool

    def __init__(self) -> None:
        self._saved: list[int] = []

    def __enter__(self) -> None:
        mode = STATE.mode
        self._saved.append(mode)
        STATE.mode = mode | RECORD if self._value else mode & ~RECORD

    def __exit__(self, *exc: object) -> None:
        STATE.mode = self._saved.pop()

    def _fresh(self) -> _GradSwitch:
        # a new switch per call, so a decorated function may recurse or run in two threads
        switch = _GradSwitch.__new__(type(self))
        switch._saved = []
        switch._value = self._value
        return switch

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradSwitch):  # noqa: N801 (PyTorch's name)
    """Ops inside do not record a graph: for evaluation and parameter updates."""

    _value = False


class enable_grad(_GradSwitch):  # noqa: N801 (PyTorch's name)
    """Ops inside record a graph even within :class:`no_grad`."""

    _value = True


class set_grad_enabled(_GradSwitch):  # noqa: N801 (PyTorch's name)
    """Turn recording on or off by a flag: ``with set_grad_enabled(training): ...``."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._value = bool(mode)

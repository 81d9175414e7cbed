"""The engine's switches, per thread (as in PyTorch): record a graph, anomaly checks, rules running.

All switches live in one small integer, the mode, held in a context variable: each thread (and
each asyncio task) has its own, and a new thread starts with recording on and nothing else. The
hot path (every op call) reads it once with :func:`get_mode`; other code may use ``STATE``'s named
properties.
"""

from __future__ import annotations

import contextvars
import functools
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


_MODE: contextvars.ContextVar[int] = contextvars.ContextVar("graphgrad_mode", default=RECORD)
get_mode = _MODE.get
"""The current thread's mode bits (one context-variable read: the hot path's only access)."""
set_mode = _MODE.set
"""Set the current thread's mode bits."""


class _State:
    """The current thread's mode, ``mode``, and its bits by name, for code off the hot path."""

    __slots__ = ()

    @property
    def mode(self) -> int:
        return _MODE.get()

    @mode.setter
    def mode(self, value: int) -> None:
        _MODE.set(value)

    def _get(self, bit: int) -> bool:
        return bool(_MODE.get() & bit)

    def _set(self, bit: int, on: bool) -> None:
        mode = _MODE.get()
        _MODE.set(mode | bit if on else mode & ~bit)

    enabled = property(lambda self: self._get(RECORD), lambda self, v: self._set(RECORD, v))
    anomaly = property(lambda self: self._get(ANOMALY), lambda self, v: self._set(ANOMALY, v))
    check_inf = property(lambda self: self._get(CHECK_INF), lambda self, v: self._set(CHECK_INF, v))
    in_rules = property(lambda self: self._get(RULES), lambda self, v: self._set(RULES, v))


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward (in this thread)."""
    return bool(_MODE.get() & RECORD)


class _GradSwitch:
    """Context manager and decorator that sets grad recording on or off, then restores it."""

    _value: bool

    def __init__(self) -> None:
        self._saved: list[int] = []

    def __enter__(self) -> None:
        mode = _MODE.get()
        self._saved.append(mode)
        _MODE.set(mode | RECORD if self._value else mode & ~RECORD)

    def __exit__(self, *exc: object) -> None:
        _MODE.set(self._saved.pop())

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

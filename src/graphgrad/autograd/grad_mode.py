"""Global switches of the engine: whether ops record a graph, and whether anomaly checks run.

Kept in one tiny object so the hot path reads a single attribute.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("enabled", "anomaly", "check_inf")

    def __init__(self) -> None:
        self.enabled = True  # ops record the graph
        self.anomaly = False  # ops check for NaN and remember where they were created
        self.check_inf = False  # anomaly mode also stops at inf


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return STATE.enabled


class _GradSwitch:
    """Context manager and decorator that sets grad recording on or off, then restores it."""

    _value: bool

    def __init__(self) -> None:
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(STATE.enabled)
        STATE.enabled = self._value

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._saved.pop()

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

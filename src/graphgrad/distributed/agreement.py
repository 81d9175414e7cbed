"""Fail together: a step every rank runs, after which every rank knows whether any rank failed.

A user's mistake (a missing file, a folder that cannot be written) may show up on one rank or on
all of them. :func:`agree` runs one step of setup on every rank, catches those errors, and shares
every rank's outcome with one collective: when any rank failed, every rank raises the same
:class:`FailedOnSomeRankError`, so the job ends normally with one line, printed once, that names the
rank (or none, when rank 0 failed too), instead of one line per rank or ranks left waiting. The
step itself must contain no collective (a rank that fails early would skip it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from graphgrad.distributed.comm import all_gather_json, current
from graphgrad.errors import GraphgradError

T = TypeVar("T")


class FailedOnSomeRankError(Exception):
    """A failure every rank knows about at the same point. ``line``: what to print once (rank 0)."""

    def __init__(self, line: str, rank: int, error: BaseException | None = None) -> None:
        super().__init__(line)
        self.line = line
        self.rank = rank
        self.error = error


def agree(step: Callable[[], T], errors: tuple[type[BaseException], ...],
          describe: Callable[[BaseException], str] | None = None) -> T:
    """``step()`` on every rank; raise :class:`FailedOnSomeRankError` on all ranks if it raised one of
    ``errors`` on any (``describe`` turns the error into its line). In a world of one, errors pass
    through unchanged."""
    w = current()
    error: BaseException | None = None
    result: T | None = None
    try:
        result = step()
    except errors as e:
        if w.size == 1:
            raise
        error = e
    if w.size == 1:
        return result  # type: ignore[return-value]
    outcomes = all_gather_json(None if error is None else (describe or one_line)(error))
    failed = [r for r, line in enumerate(outcomes) if line is not None]
    if not failed:
        return result  # type: ignore[return-value]
    first = failed[0]
    line = outcomes[first] if first == 0 else f"rank {first} of {w.size}: {outcomes[first]}"
    raise FailedOnSomeRankError(line, first, error)


def one_line(error: BaseException) -> str:
    """A user's error as the command prints it: one line, in the user's words."""
    if isinstance(error, FileNotFoundError) and error.filename:
        text = f"file not found: {error.filename}"
    elif isinstance(error, MemoryError):
        text = f"out of memory ({error or 'an array did not fit'}); try smaller --hidden or --batch-size"
    elif isinstance(error, OSError) and not isinstance(error, GraphgradError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        text = f"cannot read or write{where}: {error.strerror}"
    else:
        text = str(error)
    return " ".join(text.split()) or type(error).__name__

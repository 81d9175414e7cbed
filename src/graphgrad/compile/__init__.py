"""A captured training step: record one call, replay later calls as a flat plan of array operations.

``step = graphgrad.compile.capture(step)`` (see :func:`capture`); :func:`host` runs a check on
values at every replay; :class:`CaptureError` says what could not be captured and why.
"""

from graphgrad.compile.step import CapturedStep, capture, disabled, enabled
from graphgrad.compile.trace import CaptureError, host

__all__ = ["CaptureError", "CapturedStep", "capture", "disabled", "enabled", "host"]

"""Every error graphgrad raises on purpose derives from :class:`GraphgradError`.

Messages name the op and the shapes or values at fault, so a user can find the line to fix.
Each class also derives from the built-in exception a Python user would expect to catch.
"""


class GraphgradError(Exception):
    """Base class of graphgrad's own errors."""


class ShapeError(GraphgradError, ValueError):
    """Operands whose shapes do not fit the op (matmul, broadcasting, reshape, concatenate...)."""


class DTypeError(GraphgradError, TypeError):
    """A dtype the op cannot work with, e.g. ``requires_grad`` on an integer tensor."""


class GraphFreedError(GraphgradError, RuntimeError):
    """Backward through a graph whose saved values were already released."""


class InplaceError(GraphgradError, RuntimeError):
    """A tensor saved for backward was modified in place before backward ran."""


class BackwardError(GraphgradError, RuntimeError):
    """Backward called in a way that has no meaning (non-scalar root without ``grad``...)."""


class AnomalyError(GraphgradError, FloatingPointError):
    """Raised under :func:`graphgrad.detect_anomaly` at the first op that produced NaN/inf."""


class GradcheckError(GraphgradError, AssertionError):
    """The engine's gradient disagrees with finite differences."""


class DataError(GraphgradError, ValueError):
    """Bad input data: unreadable file, ragged row, non-numeric cell, NaN, unknown column..."""


class ConfigError(GraphgradError, ValueError):
    """An invalid setting: unknown name, non-positive learning rate or batch size..."""


class CheckpointError(GraphgradError, ValueError):
    """A run directory that is not a valid checkpoint (missing, truncated, tampered)."""


class TrainingDivergedError(GraphgradError, FloatingPointError):
    """The loss became NaN or inf; the last good checkpoint is kept."""

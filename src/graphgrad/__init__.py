"""graphgrad: reverse-mode automatic differentiation over a computational graph, on NumPy.

Ops are ``graphgrad.<name>`` (NumPy's names and signatures); the training layers live in the
subpackages ``nn``, ``optim``, ``data``, ``train``, ``io`` and ``viz``, imported on first use.
"""

import importlib
from typing import Any

from graphgrad import errors
from graphgrad.autograd import *  # noqa: F403
from graphgrad.autograd import __all__ as _autograd_all
from graphgrad.creation import *  # noqa: F403
from graphgrad.creation import __all__ as _creation_all
from graphgrad.ops import *  # noqa: F403
from graphgrad.ops import __all__ as _ops_all
from graphgrad.tensor import Tensor

__version__ = "0.1.0"

_SUBPACKAGES = (
    "nn", "optim", "data", "train", "io", "viz", "distributed", "linalg", "compile", "threads", "heap", "testing",
)
# names served from a subpackage without importing it up front
_LAZY = {"explain": "graphgrad.viz", "load_run": "graphgrad.train"}

__all__ = ["Tensor", "errors", *_autograd_all, *_creation_all, *_ops_all]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"graphgrad.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'graphgrad' has no attribute {name!r}")

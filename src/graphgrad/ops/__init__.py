"""Every op graphgrad differentiates, one module per family.

Each family module lists its public ops in ``__all__`` and the ones whose outputs carry no
gradient in ``NON_DIFFERENTIABLE``; this package gathers both.
"""

from graphgrad.ops import elementwise, linalg, nn, reduce, shape
from graphgrad.ops.core import REGISTRY, Op, apply, lift
from graphgrad.ops.elementwise import *  # noqa: F403
from graphgrad.ops.linalg import *  # noqa: F403
from graphgrad.ops.nn import *  # noqa: F403
from graphgrad.ops.reduce import *  # noqa: F403
from graphgrad.ops.shape import *  # noqa: F403
from graphgrad.ops.shape import plain_index, setitem, setitem_

_FAMILIES = (elementwise, reduce, shape, linalg, nn)

__all__ = [name for family in _FAMILIES for name in family.__all__]
NON_DIFFERENTIABLE = tuple(name for family in _FAMILIES for name in getattr(family, "NON_DIFFERENTIABLE", ()))
"""Public ops whose outputs carry no gradient (booleans, indices)."""

_INTERNAL = (REGISTRY, Op, apply, lift, plain_index, setitem, setitem_)

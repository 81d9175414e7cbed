"""Every op graphgrad differentiates, one module per family.

Each family module lists its public ops in ``__all__`` and the ones whose outputs carry no
gradient in ``NON_DIFFERENTIABLE``; this package gathers both.
"""

from graphgrad.ops import (
    aliases,
    arrange,
    contract,
    conv,
    cumulative,
    decomp,
    elementwise,
    exponential,
    grid,
    join,
    linalg,
    matrix,
    nanreduce,
    nn,
    norms,
    reduce,
    rounding,
    select,
    shape,
    trig,
)
from graphgrad.ops.aliases import *  # noqa: F403
from graphgrad.ops.arrange import *  # noqa: F403
from graphgrad.ops.contract import *  # noqa: F403
from graphgrad.ops.conv import *  # noqa: F403
from graphgrad.ops.core import REGISTRY, Op, apply, lift
from graphgrad.ops.cumulative import *  # noqa: F403
from graphgrad.ops.elementwise import *  # noqa: F403
from graphgrad.ops.exponential import *  # noqa: F403
from graphgrad.ops.grid import *  # noqa: F403
from graphgrad.ops.join import *  # noqa: F403
from graphgrad.ops.linalg import *  # noqa: F403
from graphgrad.ops.nanreduce import *  # noqa: F403
from graphgrad.ops.nn import *  # noqa: F403
from graphgrad.ops.reduce import *  # noqa: F403
from graphgrad.ops.rounding import *  # noqa: F403
from graphgrad.ops.select import *  # noqa: F403
from graphgrad.ops.shape import *  # noqa: F403
from graphgrad.ops.shape import plain_index, setitem, setitem_
from graphgrad.ops.trig import *  # noqa: F403

_FAMILIES = (elementwise, reduce, shape, linalg, nn, trig, exponential, rounding, aliases, arrange, join,
             select, grid, cumulative, nanreduce, contract, conv)
LINALG_FAMILIES = (norms, matrix, decomp)
"""Registered like the others, public as ``graphgrad.linalg.<name>`` (NumPy's layout), not at top level."""

__all__ = [name for family in _FAMILIES for name in family.__all__]
NON_DIFFERENTIABLE = tuple(
    name for family in _FAMILIES + LINALG_FAMILIES for name in getattr(family, "NON_DIFFERENTIABLE", ())
)
"""Public ops whose outputs carry no gradient (booleans, indices)."""

_INTERNAL = (REGISTRY, Op, apply, lift, plain_index, setitem, setitem_)
